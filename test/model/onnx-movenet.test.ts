import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { labelClip } from '../../src/label-clip.js';
import { chooseEngine, selectEngine } from '../../src/model/runtime/engine.js';
import { loadMoveNet, loadMoveNetGraph, loadMoveNetOrt, moveNetOnnx } from '../../src/model/extractors/movenet.js';
import { BODY_FEATURES } from '../../src/model/extractors/pose-features.js';
import { extractorEngine, extractorEntry } from '../../src/model/extractors/registry.js';
import type { FeatureExtractor } from '../../src/model/extractors/types.js';
import { createLabeler } from '../../src/model/labeler.js';
import { MANIFEST_SCHEMA, type ModelManifest } from '../../src/model/folder/manifest.js';
import { readHeadModel, readManifest, resolveModelDir, writeModelFolder } from '../../src/model/folder/model-folder.js';
import { modelFrames } from '../../src/model/frames.js';
import { loadModel, type VigilModel } from '../../src/model/model.js';
import type { OrtFeatureExtractor } from '../../src/model/runtime/onnx/extractor.js';
import { ONNX_IO } from '../../src/model/runtime/onnx/head.js';
import { createSession, type OrtSession } from '../../src/model/runtime/onnx/runtime.js';
import { buildHeadModel, createRecurrentHead } from '../../src/model/head/recurrent-head.js';
import { openFrames } from '../../src/video/decode.js';
import type { Frame } from '../../src/video/types.js';
import { fixture } from '../helpers/clips.js';
import { maxAbsDiff } from '../helpers/numbers.js';

const S = 192;
const FRAME = S * S * 3;
/** Fixtures with one person (falls) and with several (a fight), at the fall model's 8 fps. */
const CLIPS = ['gmdcsa24-subject4-fall02.mp4', 'gmdcsa24-subject3-fall19.mp4', 'fight-fi002.mp4'];

/**
 * Keypoints (y, x in [0, 1], score): measured max |ort - tfjs-wasm| 5.3e-6 over the 90 frames
 * of these fixtures, 6.1e-6 over all six (the float16 weights dequantise to the same floats;
 * the rest is float32 rounding order). 1e-4 leaves a 15x margin and is far below a pixel
 * (1/192 = 5e-3).
 */
const KEYPOINT_TOLERANCE = 1e-4;
/** Fall model probabilities, ort against tfjs end to end (the brief's bar). */
const PROB_TOLERANCE = 1e-3;

describe('MoveNet on onnxruntime vs tfjs, real frames', function () {
  this.timeout(120_000);
  let cacheDir: string;
  const frames: Frame[] = [];
  let session: OrtSession;
  let net: tf.GraphModel;
  const savedCacheDir = process.env.VIGIL_CACHE_DIR;

  before(async () => {
    cacheDir = mkdtempSync(join(tmpdir(), 'vigil-onnx-movenet-'));
    process.env.VIGIL_CACHE_DIR = cacheDir;
    for (const clip of CLIPS) {
      for await (const f of openFrames(fixture(clip), { width: S, height: S, fps: 8 })) frames.push(f);
    }
    net = await loadMoveNetGraph();
    session = createSession((await moveNetOnnx(cacheDir)).bytes);
  });

  after(() => {
    session?.dispose();
    net?.dispose();
    if (savedCacheDir === undefined) delete process.env.VIGIL_CACHE_DIR;
    else process.env.VIGIL_CACHE_DIR = savedCacheDir;
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it(`keypoints agree with tfjs to ${KEYPOINT_TOLERANCE} on every frame of three fixtures`, () => {
    let worst = 0;
    let confident = 0;
    for (const f of frames) {
      const ort = session.run({ [ONNX_IO.pixels]: { data: Float32Array.from(f.data), dims: [1, S, S, 3] } })[ONNX_IO.keypoints];
      const ref = tf.tidy(() => (net.execute(tf.tensor4d(Int32Array.from(f.data), [1, S, S, 3], 'int32')) as tf.Tensor).dataSync());
      expect(ort).to.have.length(17 * 3);
      worst = Math.max(worst, maxAbsDiff(ort, ref));
      for (let k = 0; k < 17; k++) if (ref[k * 3 + 2] > 0.5) confident++;
    }
    expect(frames.length).to.be.above(60);
    expect(worst).to.be.below(KEYPOINT_TOLERANCE);
    expect(confident, 'real poses, not blank frames').to.be.above(frames.length);
  });

  it('the extractor gives the tfjs pose features, in batches as frame by frame, and caches its conversion', async () => {
    const tfjs = await loadMoveNet('movenet_lightning');
    const ort = await loadMoveNetOrt('movenet_lightning', { cacheDir });
    try {
      expect(ort.onnx.cacheHit).to.equal(true); // converted in before()
      expect(ort.onnx.path.startsWith(join(cacheDir, 'movenet_lightning-'))).to.equal(true);
      expect(existsSync(ort.onnx.path)).to.equal(true);
      expect(ort).to.include({ name: 'movenet_lightning', inputSize: S, featureSize: tfjs.featureSize });
      const T = 8;
      const px = new Float32Array(T * FRAME);
      frames.slice(0, T).forEach((f, i) => px.set(f.data, i * FRAME));
      const batched = await ort.extract(px, T);
      const want = await tfjs.extract(px, T);
      // Features divide by the torso length (>= 0.02 of the frame): keypoint noise of 1e-5 stays below 1e-3.
      expect(maxAbsDiff(batched, want)).to.be.below(1e-3);
      const one = await ort.extract(px.subarray(3 * FRAME, 4 * FRAME), 1);
      expect(maxAbsDiff(one, batched.subarray(3 * ort.featureSize, 4 * ort.featureSize))).to.equal(0);
    } finally {
      tfjs.dispose();
      ort.dispose();
    }
  });

  it(`the shipped fall model gives the tfjs probabilities to ${PROB_TOLERANCE} under ort`, async () => {
    const engine = await selectEngine();
    expect(engine.name, 'onnxruntime runs here').to.equal('ort');
    expect(extractorEngine('movenet_body', engine)).to.equal('ort');
    const onOrt = await loadModel('fall');
    // The tfjs side as VIGIL_ENGINE=tfjs loads it (the process has already chosen ort).
    const dir = resolveModelDir('fall');
    const manifest = readManifest(dir);
    const layers = await readHeadModel(dir, manifest);
    const head = createRecurrentHead(layers);
    layers.dispose();
    const extractor: FeatureExtractor = await loadMoveNet('movenet_body');
    const onTfjs: VigilModel = {
      dir,
      manifest,
      ...modelFrames(manifest),
      engine: await chooseEngine({ VIGIL_ENGINE: 'tfjs' }),
      extractorEngine: 'tfjs',
      extractor,
      head,
      dispose: () => head.dispose(),
    };
    try {
      expect(onOrt.extractorEngine).to.equal('ort');
      expect((onOrt.extractor as OrtFeatureExtractor).onnx.path).to.match(/movenet_lightning-[0-9a-f]{24}\.onnx$/);
      // Unrounded probabilities, through the labelers (timelines round to 4 decimals).
      let worst = 0;
      for (const clip of CLIPS.slice(0, 2)) {
        const clipFrames: Frame[] = [];
        for await (const f of openFrames(fixture(clip), { width: S, height: S, fps: manifest.fps })) clipFrames.push(f);
        const a = createLabeler(onOrt);
        const b = createLabeler(onTfjs);
        for (let i = 0; i < clipFrames.length; i += 8) {
          const batch = clipFrames.slice(i, i + 8);
          const [pa, pb] = [await a.labelBatch(batch), await b.labelBatch(batch)];
          pa.forEach((p, j) => (worst = Math.max(worst, maxAbsDiff(p.probs, pb[j].probs))));
        }
        const [ta, tb] = [await labelClip(fixture(clip), onOrt), await labelClip(fixture(clip), onTfjs)];
        expect(ta.frames.length).to.equal(clipFrames.length);
        expect(ta.segments.map((s) => [s.label, s.startMs, s.endMs])).to.deep.equal(tb.segments.map((s) => [s.label, s.startMs, s.endMs]));
      }
      // Measured 2.0e-6 over the two fall clips (70 frames).
      expect(worst).to.be.below(PROB_TOLERANCE);
    } finally {
      onOrt.dispose();
      onTfjs.dispose();
      extractor.dispose();
    }
  });

  it('a MoveNet model without deltas gets a live step on ort (extractor, then head step) that matches labelBatch', async () => {
    const dir = join(cacheDir, 'pose-live');
    const manifest: ModelManifest = {
      schema: MANIFEST_SCHEMA,
      name: 'pose-live',
      version: '0.0.1',
      description: 'untrained pose head without deltas',
      extractor: 'movenet_body',
      input: 'frame',
      inputSize: S,
      fps: 8,
      classes: ['a', 'b'],
      head: { type: 'sigmoid_rnn', featureSize: BODY_FEATURES.length, hidden: 6 },
      smoothing: { windowMs: 0, minHoldMs: 0 },
      training: {},
    };
    const layers = buildHeadModel({ featureSize: BODY_FEATURES.length, hidden: 6, numClasses: 2 }, { seed: 2 });
    await writeModelFolder(dir, manifest, layers);
    layers.dispose();
    const model = await loadModel(dir);
    try {
      expect(model.extractorEngine).to.equal('ort');
      expect(model.live).to.not.equal(undefined);
      const clip = frames.slice(0, 10);
      const live = createLabeler(model);
      const a: number[] = [];
      for (const f of clip) a.push(...Array.from((await live.label(f)).probs));
      const b = (await createLabeler(model, { maxBatch: clip.length }).labelBatch(clip)).flatMap((p) => Array.from(p.probs));
      expect(maxAbsDiff(a, b)).to.be.below(1e-5);
    } finally {
      model.dispose();
    }
  });

  it('the registry lists ort first for both MoveNet extractors', () => {
    for (const name of ['movenet_lightning', 'movenet_body']) {
      const entry = extractorEntry(name);
      expect(entry.engines).to.deep.equal(['ort', 'tfjs']);
      expect(typeof entry.loadOnnx).to.equal('function');
      expect(typeof entry.loadLayers).to.equal('undefined');
    }
  });
});
