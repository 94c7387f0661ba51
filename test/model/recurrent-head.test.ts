import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/runtime/backend.js';
import { buildHeadModel, createRecurrentHead, mergeHeads, type RecurrentHead } from '../../src/model/head/recurrent-head.js';
import { maxAbsDiff, seeded } from '../helpers/numbers.js';

/** Deterministic features with the spread of real CNN outputs (non-negative, mostly small). */
function features(steps: number, dim: number, seed: number): Float32Array {
  const x = new Float32Array(steps * dim);
  const next = seeded(seed);
  for (let i = 0; i < x.length; i++) x[i] = next() ** 3 * 4;
  return x;
}

describe('recurrent head', () => {
  const shape = { featureSize: 48, hidden: 16, numClasses: 3 };
  let layers: tf.LayersModel;
  let head: RecurrentHead;

  before(async () => {
    await selectBackend();
    layers = buildHeadModel(shape);
    head = createRecurrentHead(layers);
  });
  after(() => {
    head.dispose();
    layers.dispose();
  });

  it('step() carried over a clip equals sequence() and the tfjs SimpleRNN it was trained as, to 1e-5', () => {
    const T = 40;
    const x = features(T, shape.featureSize, 7);
    const seq = head.sequence(x, T);
    let h = new Float32Array(shape.hidden) as Float32Array;
    const stepped = new Float32Array(T * shape.numClasses);
    for (let t = 0; t < T; t++) {
      const out = head.step(x.subarray(t * shape.featureSize, (t + 1) * shape.featureSize), h);
      stepped.set(out.probs, t * shape.numClasses);
      h = out.h;
    }
    const ref = tf.tidy(() => (layers.predict(tf.tensor3d(x, [1, T, shape.featureSize])) as tf.Tensor).dataSync());
    expect(maxAbsDiff(seq.probs, stepped)).to.be.below(1e-5);
    expect(maxAbsDiff(seq.probs, ref)).to.be.below(1e-5);
    expect(maxAbsDiff(seq.h, h)).to.be.below(1e-5);
    // The state matters: a later frame's output differs from the same frame seen fresh.
    const fresh = head.step(x.subarray((T - 1) * shape.featureSize), new Float32Array(shape.hidden));
    expect(maxAbsDiff(fresh.probs, stepped.subarray((T - 1) * shape.numClasses))).to.be.above(1e-4);
  });

  it('sequence() in chunks with carried state equals one pass', () => {
    const T = 24;
    const x = features(T, shape.featureSize, 11);
    const whole = head.sequence(x, T);
    const a = head.sequence(x.subarray(0, 10 * shape.featureSize), 10);
    const b = head.sequence(x.subarray(10 * shape.featureSize), T - 10, a.h);
    expect(maxAbsDiff(whole.probs.subarray(10 * shape.numClasses), b.probs)).to.be.below(1e-6);
  });

  it('steps several streams in one batch, each with its own state', () => {
    const x = features(2, shape.featureSize, 3);
    const h = new Float32Array(2 * shape.hidden).fill(0.25, shape.hidden);
    const both = head.step(x, h, 2);
    const first = head.step(x.subarray(0, shape.featureSize), h.subarray(0, shape.hidden));
    const second = head.step(x.subarray(shape.featureSize), h.subarray(shape.hidden));
    expect(maxAbsDiff(both.probs.subarray(0, 3), first.probs)).to.be.below(1e-6);
    expect(maxAbsDiff(both.probs.subarray(3), second.probs)).to.be.below(1e-6);
  });

  it('outputs are probability distributions', () => {
    const { probs } = head.sequence(features(5, shape.featureSize, 5), 5);
    for (let t = 0; t < 5; t++) {
      const row = Array.from(probs.subarray(t * 3, t * 3 + 3));
      expect(row.reduce((a, b) => a + b)).to.be.closeTo(1, 1e-5);
      for (const p of row) expect(p).to.be.within(0, 1);
    }
  });

  it('leaks no tensors over 500 steps and 50 sequences', () => {
    const x = features(1, shape.featureSize, 1);
    head.step(x, new Float32Array(shape.hidden)); // warm-up may cache kernels
    const before = tf.memory().numTensors;
    let h = new Float32Array(shape.hidden) as Float32Array;
    for (let i = 0; i < 500; i++) h = head.step(x, h).h;
    for (let i = 0; i < 50; i++) head.sequence(features(8, shape.featureSize, i), 8);
    expect(tf.memory().numTensors).to.equal(before);
  });

  it("mergeHeads() is the members' logit average, as one head with their units side by side", () => {
    const members = [2, 5, 9].map((seed) => buildHeadModel(shape, { seed }));
    const before = tf.memory().numTensors;
    const merged = mergeHeads(members);
    const T = 20;
    const x = features(T, shape.featureSize, 3);
    const heads = members.map(createRecurrentHead);
    const outs = heads.map((h) => h.sequence(x, T).probs);
    const expected = new Float32Array(T * shape.numClasses);
    for (let t = 0; t < T; t++) {
      // log-probabilities are logits up to a per-frame constant, which softmax ignores.
      const mean = Array.from(
        { length: shape.numClasses },
        (_, c) => outs.reduce((a, p) => a + Math.log(p[t * shape.numClasses + c]), 0) / outs.length,
      );
      const z = mean.reduce((a, v) => a + Math.exp(v), 0);
      mean.forEach((v, c) => (expected[t * shape.numClasses + c] = Math.exp(v) / z));
    }
    const one = createRecurrentHead(merged);
    expect(one.hidden).to.equal(3 * shape.hidden);
    expect(maxAbsDiff(one.sequence(x, T).probs, expected)).to.be.below(1e-5);
    // The members are untouched, and merging leaves only the merged model's weights behind.
    const again = createRecurrentHead(members[0]);
    expect(maxAbsDiff(again.sequence(x, T).probs, outs[0])).to.equal(0);
    for (const h of [again, one]) h.dispose();
    for (const h of heads) h.dispose();
    expect(tf.memory().numTensors - before).to.equal(merged.getWeights().length);
    merged.dispose();
    for (const m of members) m.dispose();
    expect(mergeHeads([layers])).to.equal(layers);
  });
});
