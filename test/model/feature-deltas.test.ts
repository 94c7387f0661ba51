import { expect } from 'chai';
import { appendDeltas, createFeatureDeltas, deltaLags } from '../../src/model/input/feature-deltas.js';

describe('feature deltas', () => {
  const dim = 2;
  // Four frames: (1, 10), (2, 20), (4, 40), (7, 70).
  const clip = new Float32Array([1, 10, 2, 20, 4, 40, 7, 70]);

  it('append f_t − f_{t−1} to each frame, zero for the first', () => {
    expect(Array.from(appendDeltas(clip, dim, 4))).to.deep.equal([1, 10, 0, 0, 2, 20, 1, 10, 4, 40, 2, 20, 7, 70, 3, 30]);
  });

  it('carry the previous frame across batches (even when the extractor reuses its buffer), and reset() forgets it', () => {
    const d = createFeatureDeltas(dim);
    const buffer = new Float32Array(4);
    buffer.set(clip.subarray(0, 4));
    const first = Array.from(d.apply(buffer, 2));
    buffer.set(clip.subarray(4, 8));
    const second = Array.from(d.apply(buffer, 2));
    expect([...first, ...second]).to.deep.equal(Array.from(appendDeltas(clip, dim, 4)));
    d.reset();
    expect(Array.from(d.apply(clip.subarray(6, 8), 1))).to.deep.equal([7, 70, 0, 0]);
  });

  it('over several lags, f_t − f_{t−k} each, taking the first frame until k frames have passed; the same across batches', () => {
    const expected = [1, 10, 0, 0, 0, 0, 2, 20, 1, 10, 1, 10, 4, 40, 2, 20, 3, 30, 7, 70, 3, 30, 5, 50];
    expect(Array.from(appendDeltas(clip, dim, 4, [1, 2]))).to.deep.equal(expected);
    const d = createFeatureDeltas(dim, [1, 2]);
    const rows = [0, 1, 2, 3].flatMap((t) => Array.from(d.apply(clip.subarray(t * dim, (t + 1) * dim), 1)));
    expect(rows).to.deep.equal(expected);
    expect(deltaLags(true)).to.deep.equal([1]);
    expect(deltaLags(undefined)).to.deep.equal([]);
    expect(deltaLags([1, 4])).to.deep.equal([1, 4]);
  });
});
