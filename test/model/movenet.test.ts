import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { labelClip } from '../../src/label-clip.js';
import { createLabeler } from '../../src/model/labeler.js';
import { selectEngine } from '../../src/model/runtime/engine.js';
import { extractorEngine, extractorEntry, loadExtractor } from '../../src/model/extractors/registry.js';
import { loadMoveNet } from '../../src/model/extractors/movenet.js';
import { BODY_FEATURES, bodyFeatures, COCO_KEYPOINTS, poseFeatures, POSE_FEATURES } from '../../src/model/extractors/pose-features.js';
import type { FeatureExtractor } from '../../src/model/extractors/types.js';
import { createFrameEncoder } from '../../src/model/input/frame-encoder.js';
import { MANIFEST_SCHEMA, type ModelManifest } from '../../src/model/folder/manifest.js';
import { writeModelFolder } from '../../src/model/folder/model-folder.js';
import { loadModel } from '../../src/model/model.js';
import { buildHeadModel } from '../../src/model/head/recurrent-head.js';
import { loadExtractorLayers } from '../../src/model/runtime/onnx/extractor.js';
import { openFrames } from '../../src/video/decode.js';
import type { Frame } from '../../src/video/types.js';
import { expectCoded, rejection, thrown } from '../helpers/errors.js';
import { fixture } from '../helpers/clips.js';

const at = (name: string) => POSE_FEATURES.indexOf(name);

/** An upright person, 0.5 of the frame tall, centred at x 0.5: (y, x, score) per keypoint. */
function standing(): Float32Array {
  const kp = new Float32Array(17 * 3);
  const put = (i: number, y: number, x: number, s = 0.9) => kp.set([y, x, s], i * 3);
  put(0, 0.25, 0.5); // nose
  for (const [i, dx] of [
    [1, -0.01],
    [2, 0.01],
    [3, -0.02],
    [4, 0.02],
  ] as const)
    put(i, 0.24, 0.5 + dx);
  put(5, 0.35, 0.45);
  put(6, 0.35, 0.55); // shoulders
  put(7, 0.45, 0.43);
  put(8, 0.45, 0.57);
  put(9, 0.55, 0.42);
  put(10, 0.55, 0.58);
  put(11, 0.55, 0.47);
  put(12, 0.55, 0.53); // hips
  put(13, 0.65, 0.47);
  put(14, 0.65, 0.53);
  put(15, 0.75, 0.47, 0.1);
  put(16, 0.75, 0.53, 0.1); // ankles, barely seen
  return kp;
}

describe('pose features', () => {
  it('name every entry, and the registry sizes the extractor by them', () => {
    expect(POSE_FEATURES).to.have.length(COCO_KEYPOINTS.length * 3 + 9);
    expect(new Set(POSE_FEATURES).size).to.equal(POSE_FEATURES.length);
    expect(extractorEntry('movenet_lightning').featureSize).to.equal(POSE_FEATURES.length);
  });

  it('put posture relative to the hips in torso lengths, and keep where and how large the body is', () => {
    const out = new Float32Array(POSE_FEATURES.length + 2).fill(NaN);
    poseFeatures(standing(), out, 1);
    const f = (name: string) => out[1 + at(name)];
    expect(out[0]).to.be.NaN; // writes at the offset only
    expect(out[out.length - 1]).to.be.NaN;
    expect(f('torso_len')).to.be.closeTo(0.2, 1e-6);
    expect(f('rel_x_nose')).to.be.closeTo(0, 1e-6);
    expect(f('rel_y_nose')).to.be.closeTo(-1.5, 1e-6); // 0.3 above the hips = 1.5 torsos
    expect(f('rel_y_left_knee')).to.be.closeTo(0.5, 1e-6);
    expect(f('torso_dx')).to.be.closeTo(0, 1e-6);
    expect(f('torso_dy')).to.be.closeTo(1, 1e-6);
    expect(f('hip_y')).to.be.closeTo(0.55, 1e-6);
    // The box leaves out the ankles (score 0.1): nose/ears at the top, knees at the bottom.
    expect(f('box_h')).to.be.closeTo(0.65 - 0.24, 1e-6);
    expect(f('box_w')).to.be.closeTo(0.58 - 0.42, 1e-6);
    expect(f('score_left_ankle')).to.be.closeTo(0.1, 1e-6);
  });

  it('lying down turns the torso and flattens the box; the same pose moved and scaled gives the same posture', () => {
    const lying = standing();
    // Rotate about (0.5, 0.5) by 90 degrees: x' = 0.5 + (y - 0.5), y' = 0.5 - (x - 0.5).
    for (let i = 0; i < 17; i++) {
      const [y, x] = [lying[i * 3], lying[i * 3 + 1]];
      lying[i * 3] = 1 - x;
      lying[i * 3 + 1] = y;
    }
    const a = new Float32Array(POSE_FEATURES.length);
    poseFeatures(lying, a, 0);
    expect(a[at('torso_dx')]).to.be.closeTo(1, 1e-6);
    expect(a[at('torso_dy')]).to.be.closeTo(0, 1e-6);
    expect(a[at('box_w')]).to.be.greaterThan(a[at('box_h')]);

    const moved = standing();
    for (let i = 0; i < 17; i++) {
      moved[i * 3] = 0.1 + moved[i * 3] * 0.5;
      moved[i * 3 + 1] = 0.2 + moved[i * 3 + 1] * 0.5;
    }
    const p = new Float32Array(POSE_FEATURES.length);
    const q = new Float32Array(POSE_FEATURES.length);
    poseFeatures(standing(), p, 0);
    poseFeatures(moved, q, 0);
    for (let i = 0; i < COCO_KEYPOINTS.length * 2; i++) expect(q[i]).to.be.closeTo(p[i], 1e-5);
    expect(q[at('box_h')]).to.be.closeTo(p[at('box_h')] / 2, 1e-6);
  });

  it('the body variant is the whole-body tail of the pose features', () => {
    expect(BODY_FEATURES).to.deep.equal(['box_w', 'box_h', 'box_cx', 'box_cy', 'hip_y', 'torso_len', 'torso_dx', 'torso_dy', 'mean_score']);
    expect(extractorEntry('movenet_body').featureSize).to.equal(BODY_FEATURES.length);
    const all = new Float32Array(POSE_FEATURES.length);
    const body = new Float32Array(BODY_FEATURES.length);
    poseFeatures(standing(), all, 0);
    bodyFeatures(standing(), body, 0);
    expect(Array.from(body)).to.deep.equal(Array.from(all.subarray(at('box_w'))));
  });

  it('stay finite when MoveNet sees nobody (all keypoints in one spot, zero scores)', () => {
    const out = new Float32Array(POSE_FEATURES.length);
    poseFeatures(new Float32Array(51).fill(0), out, 0);
    expect(out.every(Number.isFinite)).to.equal(true);
  });
});

describe('movenet_lightning extractor', function () {
  this.timeout(120_000);
  let extractor: FeatureExtractor;
  let frames: Frame[];
  const S = 192;

  before(async () => {
    // Offline: the weights are files inside an npm package; any fetch would fail the load.
    const realFetch = globalThis.fetch;
    globalThis.fetch = () => Promise.reject(new Error('no network in this test'));
    try {
      extractor = await loadMoveNet();
    } finally {
      globalThis.fetch = realFetch;
    }
    frames = [];
    for await (const f of openFrames(fixture('gmdcsa24-subject4-fall02.mp4'), { fps: 4, width: S, height: S })) frames.push(f);
  });
  after(() => extractor.dispose());

  async function features(from: Frame[]): Promise<Float32Array> {
    const entry = extractorEntry('movenet_lightning');
    const enc = createFrameEncoder({
      mode: 'frame',
      scale: entry.pixelScale,
      offset: entry.pixelOffset,
      size: S,
      maxBatch: from.length,
      owner: 'test',
    });
    return extractor.extract(enc.encode(from), from.length);
  }

  it('loads from the package files and is described by the registry', () => {
    const entry = extractorEntry('movenet_lightning');
    expect(extractor).to.include({ name: 'movenet_lightning', inputSize: 192, featureSize: POSE_FEATURES.length });
    expect(entry).to.include({ inputSize: 192, pixelScale: 1, pixelOffset: 0 });
    expect(entry.engines).to.deep.equal(['ort', 'tfjs']);
  });

  it('gives featureSize finite numbers per frame, scores in [0, 1], and leaks no tensors', async () => {
    await features(frames.slice(0, 1)); // warm-up
    const before = tf.memory().numTensors;
    const f = await features(frames);
    expect(tf.memory().numTensors).to.equal(before);
    expect(f).to.have.length(frames.length * POSE_FEATURES.length);
    expect(f.every(Number.isFinite)).to.equal(true);
    for (let r = 0; r < frames.length; r++) {
      for (const k of COCO_KEYPOINTS) expect(f[r * POSE_FEATURES.length + at(`score_${k}`)]).to.be.within(0, 1);
    }
  });

  it('follows the fall in the GMDCSA24 fixture: the hips go down the frame', async () => {
    // Subject 4 lies on the bed, then falls to the floor at 1.5-2 s (fixtures/README.md).
    const f = await features(frames);
    const D = POSE_FEATURES.length;
    const mean = (name: string, from: number, to: number) => {
      let s = 0;
      for (let r = from; r < to; r++) s += f[r * D + at(name)];
      return s / (to - from);
    };
    const n = frames.length;
    expect(frames[n - 1].tMs).to.be.above(2500);
    const early = mean('hip_y', 0, 4);
    const late = mean('hip_y', n - 3, n);
    expect(early).to.be.within(0.4, 0.6); // on the bed, mid-frame
    expect(late - early).to.be.above(0.12); // on the floor (y grows downwards)
  });

  it('rejects a batch of the wrong size with a coded error', async () => {
    expectCoded(
      await rejection(extractor.extract(new Float32Array(10), 1)),
      'VIGIL_ERR_INVALID_ARGUMENT',
      `invalid argument: 10 floats for a batch of 1 ${S}x${S}x3 frames`,
    );
  });

  it('runs on the engine (ort through its own graph conversion); a model using it (with deltas) labels a clip', async () => {
    const engine = await selectEngine();
    expect(extractorEngine('movenet_lightning', engine)).to.equal(engine.name);
    expect(extractorEngine('movenet_body', engine)).to.equal(engine.name);
    expect(extractorEngine('mobilenet_v2', engine)).to.equal(engine.name);
    expectCoded(
      thrown(() => loadExtractorLayers('movenet_lightning', extractorEntry('movenet_lightning'))),
      'VIGIL_ERR_ONNX_UNSUPPORTED',
      'cannot convert to ONNX: extractor movenet_lightning has no tfjs layers model (it converts its own network for ort)',
    );
    expect((await loadExtractor('movenet_lightning')).featureSize).to.equal(POSE_FEATURES.length);

    const dir = mkdtempSync(join(tmpdir(), 'vigil-pose-model-'));
    try {
      const manifest: ModelManifest = {
        schema: MANIFEST_SCHEMA,
        name: 'pose-test',
        version: '0.0.1',
        description: 'untrained pose head',
        extractor: 'movenet_body',
        input: 'frame',
        deltas: [1, 4],
        inputSize: S,
        fps: 4,
        classes: ['falling', 'no_fall'],
        head: { type: 'sigmoid_rnn', featureSize: 3 * BODY_FEATURES.length, hidden: 4 },
        smoothing: { windowMs: 1000, minHoldMs: 500 },
        training: {},
      };
      const head = buildHeadModel({ featureSize: 3 * BODY_FEATURES.length, hidden: 4, numClasses: 2 }, { seed: 1 });
      await writeModelFolder(dir, manifest, head);
      head.dispose();
      const model = await loadModel(dir);
      try {
        expect(model.engine.name).to.equal(engine.name);
        expect(model.extractorEngine).to.equal(engine.name);
        expect(model.live).to.equal(undefined);
        const timeline = await labelClip(fixture('gmdcsa24-subject4-fall02.mp4'), model);
        expect(timeline.frames).to.have.length(frames.length);
        for (const fr of timeline.frames) expect(fr.probs[0] + fr.probs[1]).to.be.closeTo(1, 1e-4);
        // Frame by frame (live) and in batches give the same numbers: the deltas (lags 1 and 4) carry over batches.
        const live = createLabeler(model);
        const batched = createLabeler(model, { maxBatch: 5 });
        const a: number[] = [];
        const b: number[] = [];
        for (const f of frames) a.push(...Array.from((await live.label(f)).probs));
        for (let i = 0; i < frames.length; i += 5)
          for (const p of await batched.labelBatch(frames.slice(i, i + 5))) b.push(...Array.from(p.probs));
        expect(a).to.have.length(2 * frames.length);
        for (let i = 0; i < a.length; i++) expect(b[i]).to.be.closeTo(a[i], 1e-5);
        for (let i = 0; i < a.length; i++) expect(timeline.frames[i >> 1].probs[i & 1]).to.be.closeTo(a[i], 1e-4);
      } finally {
        model.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the shipped fall model ends the GMDCSA24 fixture on falling (the person is on the floor)', async () => {
    const model = await loadModel('fall');
    try {
      expect(model.manifest).to.deep.include({ extractor: 'movenet_body', deltas: [1, 4], classes: ['falling', 'no_fall'] });
      const timeline = await labelClip(fixture('gmdcsa24-subject4-fall02.mp4'), model);
      expect(timeline.segments.at(-1)!.label).to.equal('falling');
      // Annotated: lying on a bed until 1.4 s, rolling off onto the floor from 1.5 s. The model
      // is unsure on the bed and sure on the floor (it calls the bed a fall once smoothed: a
      // known weakness, see the model card's false alarms).
      const mean = (from: number, to: number) => {
        const p = timeline.frames.filter((f) => f.tMs >= from && f.tMs < to).map((f) => f.probs[0]);
        return p.reduce((a, b) => a + b, 0) / p.length;
      };
      expect(mean(0, 1400)).to.be.below(0.7);
      expect(mean(2000, 4000)).to.be.above(0.85);
    } finally {
      model.dispose();
    }
  });
});
