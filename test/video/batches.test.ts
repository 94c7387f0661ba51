import { expect } from 'chai';
import { inBatches } from '../../src/video/batches.js';

// eslint-disable-next-line @typescript-eslint/require-await -- inBatches takes an async iterable; this one needs nothing to await
async function* count(n: number, onReturn: () => void) {
  try {
    for (let i = 0; i < n; i++) yield i;
  } finally {
    onReturn();
  }
}

describe('inBatches', () => {
  it('groups in order, the last batch shorter', async () => {
    const got: number[][] = [];
    for await (const b of inBatches(
      count(10, () => {}),
      4,
    ))
      got.push(b);
    expect(got).to.deep.equal([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
  });

  it('yields nothing for an empty source, and exact multiples have no empty tail', async () => {
    const empty: number[][] = [];
    for await (const b of inBatches(
      count(0, () => {}),
      3,
    ))
      empty.push(b);
    expect(empty).to.deep.equal([]);
    const exact: number[][] = [];
    for await (const b of inBatches(
      count(6, () => {}),
      3,
    ))
      exact.push(b);
    expect(exact).to.deep.equal([
      [0, 1, 2],
      [3, 4, 5],
    ]);
  });

  it('breaking out returns the source (so ffmpeg is closed)', async () => {
    let returned = false;
    for await (const b of inBatches(
      count(100, () => (returned = true)),
      2,
    )) {
      if (b[0] === 4) break;
    }
    expect(returned).to.equal(true);
  });
});
