import { expect } from 'chai';
import type { DatasetItem } from '../../src/train/dataset.js';
import { crossValidate, scoreSpans, type SpanScores } from '../../src/train/evaluate.js';
import { mergeHeads } from '../../src/model/head/recurrent-head.js';
import { fitHead } from '../../src/train/fit-head.js';
import { spanFrameLabels, type Span } from '../../src/train/span-manifest.js';
import { earlyStoppingSplit, groupedFolds } from '../../src/train/split.js';
import { createRandom } from '../../src/train/random.js';

const CLASSES = ['falling', 'standing'];
const DIM = 4;

/**
 * A clip of 16 frames at 4 fps: standing for 2 s, then falling; the annotation leaves a gap
 * at 1.75-2.25 s. Feature 0 says which (+1 standing, -1 falling), the rest is noise.
 */
function clip(n: number, group: string): DatasetItem {
  const random = createRandom(100 + n);
  const tMs = Array.from({ length: 16 }, (_, i) => i * 250);
  const spans: Span[] = [
    { label: 'standing', startS: 0, endS: 1.75 },
    { label: 'falling', startS: 2.25, endS: 4 },
  ];
  const features = new Float32Array(16 * DIM);
  tMs.forEach((t, i) => {
    features[i * DIM] = (t < 2000 ? 1 : -1) + (random() - 0.5) * 0.4;
    for (let d = 1; d < DIM; d++) features[i * DIM + d] = random() - 0.5;
  });
  return { path: `/c${n}.mp4`, id: `c${n}`, group, spans, tMs, seq: { features, dim: DIM, labels: spanFrameLabels(spans, tMs, CLASSES) } };
}

describe('train/cross-validate', function () {
  this.timeout(30_000);
  const items = Array.from({ length: 9 }, (_, n) => clip(n, `subject${n % 3}`));
  const fit = { hidden: 4, window: 8, epochs: 40, patience: 40, learningRate: 0.05 };

  it('labels from spans leave the gap out of the loss', () => {
    expect(Array.from(items[0].seq.labels)).to.deep.equal([1, 1, 1, 1, 1, 1, 1, -1, -1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('fitHead trains on sequences with unlabelled frames, and reports no validation loss when nothing is labelled', async () => {
    const epochs: (number | null)[] = [];
    const r = await fitHead(
      items.slice(0, 6).map((i) => i.seq),
      [{ ...items[6].seq, labels: new Int32Array(16).fill(-1) }],
      { ...fit, numClasses: 2, epochs: 3, onEpoch: (e) => epochs.push(e.valLoss) },
    );
    expect(epochs).to.deep.equal([null, null, null]);
    expect(r.valLoss).to.equal(null);
    expect(Number.isFinite(r.model.getWeights()[0].dataSync()[0])).to.equal(true);
    r.model.dispose();
  });

  it('fitHead with ensemble trains each member as its own seed would and ships their merged head', async () => {
    const train = items.slice(0, 6).map((i) => i.seq);
    const val = [items[6].seq, items[7].seq];
    const o = { ...fit, numClasses: 2, epochs: 4, seed: 3 };
    const one = await Promise.all([3, 1003].map(async (seed) => (await fitHead(train, val, { ...o, seed })).model));
    const both = await fitHead(train, val, { ...o, ensemble: 2 });
    expect(both.model.getLayer('rnn').getWeights()[1].shape).to.deep.equal([2 * fit.hidden, 2 * fit.hidden]);
    const expected = mergeHeads(one);
    both.model
      .getWeights()
      .forEach((w, i) => expect(Array.from(w.dataSync())).to.deep.equal(Array.from(expected.getWeights()[i].dataSync())));
    expect(both.valLoss).to.be.a('number');
    for (const m of [...one, expected, both.model]) m.dispose();
    for (const bad of [0, 1.5]) {
      let caught: unknown;
      await fitHead(train, val, { ...o, ensemble: bad }).catch((e: unknown) => (caught = e));
      expect(caught).to.have.property('code', 'VIGIL_ERR_INVALID_ARGUMENT');
    }
  });

  it('cross-validates by group, scores held-out folds, pools them, and repeats exactly for a seed', async () => {
    const score = (it: DatasetItem[], probs: Float32Array[]) =>
      scoreSpans(CLASSES, it, probs, { smoothing: { windowMs: 0, minHoldMs: 0 } });
    const lines: string[] = [];
    const run = () => crossValidate(items, { classes: CLASSES, folds: 3, seed: 7, fit, score, log: (l) => lines.push(l) });
    const a = await run();
    expect(a.foldScores).to.have.length(3);
    // Whole subjects are held out together.
    for (let f = 0; f < 3; f++) expect(new Set(a.items.filter((_, i) => a.foldOf[i] === f).map((i) => i.group)).size).to.equal(1);
    const pooled = a.pooled as SpanScores;
    expect(pooled.clips).to.equal(9);
    expect(pooled.frames).to.equal(9 * 14);
    expect(pooled.frameReport.accuracy).to.be.greaterThan(0.9); // an easy problem: feature 0 tells
    expect(a.summary[0].metric).to.equal('frameAccuracy');
    expect(lines.filter((l) => l.startsWith('fold '))).to.have.length(3);
    const b = await run();
    expect(b.pooled).to.deep.equal(a.pooled);
  });

  describe('early stopping split', () => {
    it('with 5 or more groups: fold 0 of a grouped 5-fold split, as vigil train has always done', () => {
      const many = Array.from({ length: 12 }, (_, i) => ({ group: `g${i % 6}`, i }));
      const folds = groupedFolds(
        many.map((m) => m.group),
        5,
        3,
      );
      const { train, val } = earlyStoppingSplit(many, 3);
      expect(val.map((m) => m.i)).to.deep.equal(many.filter((_, i) => folds[i] === 0).map((m) => m.i));
      expect(train).to.have.length(12 - val.length);
    });

    it('with fewer groups: by clip; with fewer than 5 clips: none', () => {
      const few = Array.from({ length: 10 }, (_, i) => ({ group: `g${i % 2}`, i }));
      const { train, val } = earlyStoppingSplit(few, 3);
      expect(val).to.have.length(2);
      expect(train).to.have.length(8);
      expect(earlyStoppingSplit(few.slice(0, 4), 3)).to.deep.equal({ train: few.slice(0, 4), val: [] });
    });
  });
});
