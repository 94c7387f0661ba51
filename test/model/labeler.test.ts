import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { labelClip } from '../../src/label-clip.js';
import { createLabeler } from '../../src/model/labeler.js';
import { loadModel, type VigilModel } from '../../src/model/model.js';
import type { Frame } from '../../src/video/types.js';
import { VigilError } from '../../src/errors.js';
import { fixture } from '../helpers/clips.js';

describe('labeler on the shipped fight model', function () {
  this.timeout(120_000);
  let model: VigilModel;
  let frames: Frame[];

  before(async () => {
    model = await loadModel('fight');
    frames = [];
    for await (const f of model.openFrames(fixture('fight-fi002.mp4'))) frames.push(f);
  });
  after(() => model.dispose());

  it('labels frame by frame (live) with the same numbers as in batches (clips), to 1e-5', async () => {
    const live = createLabeler(model);
    const batched = createLabeler(model);
    const a: number[] = [];
    const b: number[] = [];
    for (const f of frames) a.push(...((await live.label(f)).probs as Float32Array));
    for (let i = 0; i < frames.length; i += 8) {
      for (const p of await batched.labelBatch(frames.slice(i, i + 8))) b.push(...(p.probs as Float32Array));
    }
    expect(a).to.have.length(frames.length * 2);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).to.be.below(1e-5);
  });

  it('carries state between frames, and reset() forgets it', async () => {
    const labeler = createLabeler(model);
    const first = Array.from((await labeler.label(frames[0])).probs);
    const later = Array.from((await labeler.label(frames[0])).probs);
    expect(later).to.not.deep.equal(first);
    labeler.reset();
    const again = Array.from((await labeler.label(frames[0])).probs);
    for (let i = 0; i < first.length; i++) expect(again[i]).to.be.closeTo(first[i], 1e-6);
  });

  it('rejects frames of the wrong size with a coded error', async () => {
    const labeler = createLabeler(model);
    const small = { index: 0, tMs: 0, width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) };
    try {
      await labeler.label(small);
      expect.fail('should throw');
    } catch (e) {
      expect(e).to.be.instanceOf(VigilError);
      expect((e as VigilError).code).to.equal('VIGIL_ERR_INVALID_ARGUMENT');
      expect((e as VigilError).message).to.equal('invalid argument: frame is 64x64; model fight takes 448x448');
    }
  });

  it('leaks no tensors labelling a clip, 500 live steps, or live frames', async () => {
    await labelClip(fixture('nofight-nofi090.mp4'), model); // warm-up
    const before = tf.memory().numTensors;
    await labelClip(fixture('nofight-nofi090.mp4'), model);
    expect(tf.memory().numTensors, 'after labelClip').to.equal(before);
    let h = new Float32Array(model.head.hidden) as Float32Array;
    const x = new Float32Array(model.head.featureSize).fill(0.5);
    for (let i = 0; i < 500; i++) h = model.head.step(x, h).h;
    const labeler = createLabeler(model);
    for (const f of frames) await labeler.label(f);
    expect(tf.memory().numTensors, 'after 500 steps and live frames').to.equal(before);
  });
});
