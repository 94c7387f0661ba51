import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type * as tf from '@tensorflow/tfjs';
import type { ModelManifest } from '../../src/model/folder/manifest.js';
import { readReplay, writeReplay } from '../../src/model/folder/replay.js';
import { writeModelFolder } from '../../src/model/folder/model-folder.js';
import { adaptAndJudge, backgroundLabel, frameAccuracy, scoreReviews, type ReviewItem } from '../../src/train/adapt.js';
import { adaptModel, nextVersion } from '../../src/train/adapt-model.js';
import { fitHead, type Sequence } from '../../src/train/fit-head.js';
import { createRandom } from '../../src/train/random.js';

/**
 * A synthetic camera problem. Features are 8 numbers a frame with noise. In the base's world an
 * alert (class 0) has f0 ≈ +1 and the background (class 1) f0 ≈ −1. At the "site", the
 * background looks like an alert to the base (f0 ≈ +1: say, a swinging door) and only f2 tells
 * the two apart (−1.5 for an alert, +1.5 for the background), a feature the base never needed.
 */
const DIM = 8;
const STEPS = 16;
const random = createRandom(7);
const noise = () => (random() + random() + random() - 1.5) * 0.6;

function clip(label: 0 | 1, site: boolean): Sequence {
  const features = new Float32Array(STEPS * DIM);
  for (let t = 0; t < STEPS; t++) {
    for (let d = 0; d < DIM; d++) features[t * DIM + d] = noise();
    features[t * DIM] += site || label === 0 ? 1 : -1;
    if (site) features[t * DIM + 2] += label === 0 ? -1.5 : 1.5;
  }
  return { features, dim: DIM, labels: new Int32Array(STEPS).fill(label) };
}

const manifest = {
  name: 'synthetic',
  version: '1.0.0',
  classes: ['alert', 'background'],
  alerts: ['alert'],
  head: { type: 'sigmoid_rnn', featureSize: DIM, hidden: 8 },
} as unknown as ModelManifest;

/** A review of a clip; its frames are labelled as the review says (which may be wrong). */
const review = (seq: Sequence, n: number, label = manifest.classes[seq.labels[0]]): ReviewItem => ({
  review: { id: `r${n}`, clip: `clip${n}.mp4`, label },
  seq: { ...seq, labels: new Int32Array(seq.labels.length).fill(manifest.classes.indexOf(label)) },
});

describe('train: adaptation from reviews (synthetic camera)', function () {
  this.timeout(240_000);
  let base: tf.LayersModel;
  const replay = Array.from({ length: 60 }, (_, i) => clip((i % 2) as 0 | 1, false));
  const siteTest = Array.from({ length: 20 }, (_, i) => review(clip((i % 2) as 0 | 1, true), 100 + i));

  before(async () => {
    const val = Array.from({ length: 10 }, (_, i) => clip((i % 2) as 0 | 1, false));
    ({ model: base } = await fitHead(replay, val, { numClasses: 2, hidden: 8, epochs: 30, learningRate: 0.01, seed: 1 }));
  });
  after(() => base?.dispose());

  it('the base is right in its own world and raises the site background as an alert', () => {
    expect(frameAccuracy(base, replay)).to.be.greaterThan(0.95);
    const s = scoreReviews(base, siteTest, manifest);
    expect(s.accuracy).to.be.closeTo(0.5, 0.1);
    expect(s.falseAlarms).to.be.at.least(8);
  });

  it('eight reviews fix the site, the rule accepts, and the base world is not forgotten', async () => {
    const reviews = Array.from({ length: 8 }, (_, i) => review(clip((i % 2) as 0 | 1, true), i));
    const judged = await adaptAndJudge(base, reviews, manifest, { numClasses: 2, replay, seed: 1, fit: { learningRate: 0.01 } });
    try {
      expect(judged.before.accuracy).to.be.closeTo(0.5, 0.13);
      expect(judged.after.accuracy, 'cross-validated on the reviews').to.be.greaterThan(judged.before.accuracy);
      expect(judged.accepted).to.equal(true);
      const site = scoreReviews(judged.model, siteTest, manifest);
      expect(site.accuracy, 'fresh clips of the site').to.be.at.least(0.9);
      expect(site.falseAlarms).to.be.at.most(1);
      expect(judged.replayCheck!.after).to.be.at.least(judged.replayCheck!.before - 0.02);
    } finally {
      judged.model.dispose();
    }
  });

  it('refuses an adaptation trained on mislabelled reviews (ordinary alerts marked as false alarms)', async () => {
    const wrong = Array.from({ length: 8 }, (_, i) => review(clip(0, false), i, 'background'));
    const judged = await adaptAndJudge(base, wrong, manifest, { numClasses: 2, replay, seed: 1, fit: { learningRate: 0.01 } });
    try {
      expect(judged.accepted).to.equal(false);
      expect(judged.replayCheck!.after, 'it forgot its base task').to.be.lessThan(judged.replayCheck!.before - 0.02);
    } finally {
      judged.model.dispose();
    }
  });

  it('a replay sample round-trips through its folder files within its quantisation step', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-replay-'));
    try {
      const n = await writeReplay(dir, replay, { classes: 2, perClass: 5, window: 8, random: createRandom(1) });
      expect(n).to.equal(10);
      const back = readReplay(dir, manifest);
      expect(back).to.have.length(10);
      expect(back.filter((s) => s.labels[0] === 0)).to.have.length(5);
      const range = 6; // noise spans about ±2.7 around ±1
      for (const s of back) expect(s.features).to.have.length(8 * DIM);
      // Every value is within half a step (range / 255) of some original frame value: check one window exactly.
      const first = back[0].features[0];
      expect(replay.some((r) => r.features.some((v) => Math.abs(v - first) <= range / 255))).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says which reviews are missing and how many were skipped, and refuses models it cannot adapt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-adapt-'));
    try {
      const m = {
        ...manifest,
        schema: 'vigil.model/1',
        description: 'synthetic',
        extractor: 'mobilenet_v2',
        input: 'frame',
        inputSize: 224,
        fps: 8,
      };
      (m.head as { featureSize: number }).featureSize = 1280;
      m.smoothing = { windowMs: 0, minHoldMs: 0 };
      m.training = {};
      const { buildHeadModel } = await import('../../src/model/head/recurrent-head.js');
      const head = buildHeadModel({ featureSize: 1280, hidden: 4, numClasses: 2 });
      await writeModelFolder(dir, m as ModelManifest, head);
      head.dispose();
      const gone = [1, 2, 3].map((n) => ({ id: `e${n}`, clip: join(dir, `gone${n}.mp4`), label: 'alert' }));
      let caught: unknown;
      try {
        await adaptModel({ baseDir: dir, reviews: gone, out: join(dir, 'out'), cacheDir: join(dir, 'cache'), camera: 'door' });
      } catch (e) {
        caught = e;
      }
      expect((caught as { code?: string }).code).to.equal('VIGIL_ERR_TOO_FEW_REVIEWS');
      expect((caught as Error).message).to.match(/door: 0 usable review\(s\) \(0 alert, 0 background\), need at least 4; 3 skipped/);

      writeFileSync(join(dir, 'x'), '');
      expect(() => backgroundLabel({ name: 'multi', classes: ['a', 'b', 'c'], alerts: ['a'] }))
        .to.throw(/exactly one class that is not an alert/)
        .with.property('code', 'VIGIL_ERR_MODEL_NOT_ADAPTABLE');
      expect(nextVersion('1.0.0')).to.equal('1.1.0');
      expect(nextVersion('2.3.4')).to.equal('2.4.0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
