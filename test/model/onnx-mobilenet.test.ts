import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/runtime/backend.js';
import { extractorEntry } from '../../src/model/extractors/registry.js';
import { createLabeler } from '../../src/model/labeler.js';
import { MANIFEST_SCHEMA, type ModelManifest } from '../../src/model/folder/manifest.js';
import { loadModel } from '../../src/model/model.js';
import { writeModelFolder } from '../../src/model/folder/model-folder.js';
import { createOrtExtractor, type OrtFeatureExtractor } from '../../src/model/runtime/onnx/extractor.js';
import { headWeights } from '../../src/model/runtime/onnx/head.js';
import { loadOrtLiveStep } from '../../src/model/runtime/onnx/live.js';
import { createOrtRecurrentHead } from '../../src/model/runtime/onnx/recurrent-head.js';
import { buildHeadModel } from '../../src/model/head/recurrent-head.js';
import { openFrames } from '../../src/video/decode.js';
import type { Frame } from '../../src/video/types.js';
import { fixture } from '../helpers/clips.js';
import { maxScaledDiff } from '../helpers/numbers.js';

const S = 224;
const FRAME = S * S * 3;
const T = 12;
const HEAD = { featureSize: 1280, hidden: 32, numClasses: 3 };

describe('MobileNetV2 on onnxruntime vs tfjs, real frames', function () {
  this.timeout(60_000);
  let cacheDir: string;
  let frames: Frame[];
  let pixels: Float32Array;
  let refFeatures: Float32Array;
  let refProbs: Float32Array;
  let head: tf.LayersModel;
  let extractor: OrtFeatureExtractor;
  let tensorsBefore: number;
  let tensorsAfter: number;
  const savedCacheDir = process.env.VIGIL_CACHE_DIR;

  before(async () => {
    await selectBackend();
    cacheDir = mkdtempSync(join(tmpdir(), 'vigil-onnx-mnv2-'));
    process.env.VIGIL_CACHE_DIR = cacheDir;
    frames = [];
    for await (const f of openFrames(fixture('fight-fi002.mp4'), { width: S, height: S, fps: 8 })) {
      frames.push(f);
      if (frames.length === T) break;
    }
    pixels = new Float32Array(T * FRAME);
    frames.forEach((f, i) => f.data.forEach((v, j) => (pixels[i * FRAME + j] = v / 255)));

    tensorsBefore = tf.memory().numTensors;
    const layers = await extractorEntry('mobilenet_v2').loadLayers!();
    try {
      refFeatures = tf.tidy(() => (layers.model.predict(tf.tensor4d(pixels, [T, S, S, 3])) as tf.Tensor).dataSync() as Float32Array);
      extractor = await createOrtExtractor('mobilenet_v2', layers.model, { cacheDir });
    } finally {
      layers.dispose();
    }
    tensorsAfter = tf.memory().numTensors;
    head = buildHeadModel(HEAD, { seed: 3 });
    refProbs = tf.tidy(() => (head.predict(tf.tensor3d(refFeatures, [1, T, HEAD.featureSize])) as tf.Tensor).dataSync() as Float32Array);
  });

  after(() => {
    extractor?.dispose();
    head?.dispose();
    if (savedCacheDir === undefined) delete process.env.VIGIL_CACHE_DIR;
    else process.env.VIGIL_CACHE_DIR = savedCacheDir;
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('loading, converting and freeing the tfjs network leaves no tensors behind', () => {
    expect(tensorsAfter).to.equal(tensorsBefore);
  });

  it('features agree with tfjs to 1e-4 at batch 1 and batch T', async () => {
    expect(extractor.featureSize).to.equal(1280);
    expect(extractor.flopsPerFrame / 1e9).to.be.closeTo(0.61, 0.02);
    const batched = await extractor.extract(pixels, T);
    expect(maxScaledDiff(batched, refFeatures)).to.be.below(1e-4);
    // A subarray at an offset, as a labeler's pixel buffer hands over.
    const one = await extractor.extract(pixels.subarray(5 * FRAME, 6 * FRAME), 1);
    expect(maxScaledDiff(one, refFeatures.subarray(5 * 1280, 6 * 1280))).to.be.below(1e-4);
    expect(Math.max(...refFeatures)).to.be.above(0.5); // real activations, not a blank frame
  });

  it('the fused CNN + step graph gives tfjs probabilities and features to 1e-4, frame by frame', async () => {
    const live = await loadOrtLiveStep(extractorEntry('mobilenet_v2'), extractor, headWeights(head), { cacheDir });
    try {
      let h: Float32Array = new Float32Array(HEAD.hidden);
      for (let t = 0; t < T; t++) {
        const out = await live.step(pixels.subarray(t * FRAME, (t + 1) * FRAME), h);
        expect(maxScaledDiff(out.probs, refProbs.subarray(t * 3, t * 3 + 3))).to.be.below(1e-4);
        expect(maxScaledDiff(out.features, refFeatures.subarray(t * 1280, (t + 1) * 1280))).to.be.below(1e-4);
        h = out.h;
      }
    } finally {
      live.dispose();
    }
  });

  it('several cameras go through one batched run, each with its own state', async () => {
    const live = await loadOrtLiveStep(extractorEntry('mobilenet_v2'), extractor, headWeights(head), { cacheDir });
    const step = createOrtRecurrentHead(headWeights(head));
    try {
      const h = new Float32Array(3 * HEAD.hidden);
      h.fill(0.7, HEAD.hidden, 2 * HEAD.hidden); // camera 1 mid-stream, cameras 0 and 2 fresh
      const both = await live.step(pixels.subarray(0, 3 * FRAME), h, 3);
      for (let c = 0; c < 3; c++) {
        const alone = step.step(refFeatures.subarray(c * 1280, (c + 1) * 1280), h.subarray(c * HEAD.hidden, (c + 1) * HEAD.hidden));
        expect(maxScaledDiff(both.probs.subarray(c * 3, c * 3 + 3), alone.probs)).to.be.below(1e-4);
        expect(maxScaledDiff(both.h.subarray(c * HEAD.hidden, (c + 1) * HEAD.hidden), alone.h)).to.be.below(1e-4);
      }
    } finally {
      live.dispose();
      step.dispose();
    }
  });

  it('a model folder loads on ort; label() and labelBatch() give the tfjs numbers and hold no tensors', async () => {
    const dir = join(cacheDir, 'model');
    const manifest: ModelManifest = {
      schema: MANIFEST_SCHEMA,
      name: 'onnx-test',
      version: '0.0.1',
      description: 'seeded head for the ONNX tests',
      extractor: 'mobilenet_v2',
      input: 'frame',
      inputSize: S,
      fps: 8,
      classes: ['a', 'b', 'c'],
      head: { type: 'sigmoid_rnn', featureSize: HEAD.featureSize, hidden: HEAD.hidden },
      smoothing: { windowMs: 0, minHoldMs: 0 },
      training: {},
    };
    await writeModelFolder(dir, manifest, head);
    const tensors = tf.memory().numTensors;
    const model = await loadModel(dir);
    try {
      expect(model.engine.name).to.equal('ort');
      expect(model.live).to.not.equal(undefined);
      const labeler = createLabeler(model);
      for (let t = 0; t < 6; t++) {
        const { probs, tMs } = await labeler.label(frames[t]);
        expect(tMs).to.equal(frames[t].tMs);
        expect(maxScaledDiff(probs, refProbs.subarray(t * 3, t * 3 + 3))).to.be.below(1e-4);
      }
      const rest = await labeler.labelBatch(frames.slice(6));
      rest.forEach(({ probs }, i) => expect(maxScaledDiff(probs, refProbs.subarray((6 + i) * 3, (7 + i) * 3))).to.be.below(1e-4));
    } finally {
      model.dispose();
    }
    expect(tf.memory().numTensors).to.equal(tensors); // the tfjs head was read and freed
  });
});
