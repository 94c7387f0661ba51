/**
 * `npm run bench:engines`: the inference engines side by side on MobileNetV2-224, as medians.
 *   ms/frame and GFLOP/s per engine at batch 1 and 8, and their ratio · MoveNet Lightning
 *   (the pose extractors) per engine and the ratio · the machine's native
 *   ceiling (a 2048³ MatMul on onnxruntime, 1 and 2 threads) and the fraction the CNN reaches ·
 *   threading: one session on 2 intra-op threads vs two single-thread sessions (one per
 *   worker thread) vs batching · CNN + RNN step per frame on one core (fused graph and
 *   separate calls) · end to end with ffmpeg running: labelClip on a 60 s clip and live
 *   decode + label() per frame, 1 vs 2 threads · tensors and process memory over many frames.
 * Figures, not pass/fail. Other processes on the machine move them: run it on a quiet one.
 * BENCH_REPEATS (default 15) sets the samples per median.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { describeEngine, chooseEngine } from '../src/model/runtime/engine.js';
import { extractorEntry } from '../src/model/extractors/registry.js';
import { loadMoveNet, loadMoveNetOrt } from '../src/model/extractors/movenet.js';
import type { FeatureExtractor } from '../src/model/extractors/types.js';
import { createOrtExtractor } from '../src/model/runtime/onnx/extractor.js';
import { headWeights, ONNX_IO } from '../src/model/runtime/onnx/head.js';
import { loadOrtLiveStep } from '../src/model/runtime/onnx/live.js';
import { createOrtRecurrentHead } from '../src/model/runtime/onnx/recurrent-head.js';
import { createGraphBuilder } from '../src/model/runtime/onnx/proto.js';
import { createSession } from '../src/model/runtime/onnx/runtime.js';
import { labelClip } from '../src/label-clip.js';
import { createLabeler } from '../src/model/labeler.js';
import { MANIFEST_SCHEMA, type ModelManifest } from '../src/model/folder/manifest.js';
import { modelFrames } from '../src/model/frames.js';
import type { VigilModel } from '../src/model/model.js';
import { buildHeadModel } from '../src/model/head/recurrent-head.js';
import { median } from '../src/numbers.js';
import { textTable } from '../src/text-table.js';
import { openFrames } from '../src/video/decode.js';
import { sixtySecondClip } from './clips.js';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 15);
const S = 224;
const FRAME = S * S * 3;
const HIDDEN = 32; // the trainer's default

const fmt = (x: number, d = 2) => x.toFixed(d);

/** Median ms per call of `fn` after `warm` unmeasured calls. */
async function time(fn: () => unknown, repeats = REPEATS, warm = 3): Promise<number> {
  for (let i = 0; i < warm; i++) await fn();
  const runs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    await fn();
    runs.push(performance.now() - t);
  }
  return median(runs);
}

const rows: [string, string][] = [];
const row = (k: string, v: string) => {
  rows.push([k, v]);
  process.stderr.write(`  ${k}: ${v}\n`);
};

const engine = await chooseEngine();
const tfjsChoice = await chooseEngine({ VIGIL_ENGINE: 'tfjs' });
row('engine (default)', describeEngine(engine));
row('cores, 1-min load average at start', `${availableParallelism()}, ${fmt(loadavg()[0])} (other processes skew the figures)`);

// Real frames, so activations (and any data-dependent speed) are those of video.
const frames: Float32Array = new Float32Array(8 * FRAME);
{
  let i = 0;
  for await (const f of openFrames('fixtures/fight-fi002.mp4', { width: S, height: S, fps: 8 })) {
    for (let j = 0; j < FRAME; j++) frames[i * FRAME + j] = f.data[j] / 255;
    if (++i === 8) break;
  }
}

const entry = extractorEntry('mobilenet_v2');
const cacheDir = mkdtempSync(join(tmpdir(), 'vigil-bench-engines-'));
const layers = await entry.loadLayers!();
const tfjsExtractor = await entry.load();
const ort1 = await createOrtExtractor('mobilenet_v2', layers.model, { cacheDir, threads: 1 });
const ort2 = await createOrtExtractor('mobilenet_v2', layers.model, { cacheDir, threads: 2 });
const ort2spin = await createOrtExtractor('mobilenet_v2', layers.model, { cacheDir, threads: 2, spin: true });
const headLayers = buildHeadModel({ featureSize: 1280, hidden: HIDDEN, numClasses: 3 }, { seed: 1 });
const w = headWeights(headLayers);
layers.dispose();
const gflop = ort1.flopsPerFrame / 1e9;
row('extractor', `mobilenet_v2 ${S}x${S}, ${fmt(gflop, 3)} GFLOP/frame`);

async function cnn(ex: FeatureExtractor, batch: number, repeats = REPEATS): Promise<number> {
  const px = frames.subarray(0, batch * FRAME);
  return (await time(() => ex.extract(px, batch), repeats)) / batch;
}
const perEngine: Record<string, Record<number, number>> = {};
for (const [name, ex, repeats] of [
  [`tfjs (${tfjsChoice.tfjs.name})`, tfjsExtractor, Math.max(5, REPEATS >> 1)],
  ['ort, 1 thread', ort1, REPEATS],
] as const) {
  perEngine[name] = {};
  for (const batch of [1, 8]) {
    const ms = await cnn(ex, batch, repeats);
    perEngine[name][batch] = ms;
    row(`CNN ${name}, batch ${batch}`, `${fmt(ms)} ms/frame  (${fmt(gflop / (ms / 1000), 1)} GFLOP/s)`);
  }
}
const [tfjsName, ortName] = Object.keys(perEngine);
row(
  'ort / tfjs speed-up',
  `${fmt(perEngine[tfjsName][1] / perEngine[ortName][1], 1)}x at batch 1, ${fmt(perEngine[tfjsName][8] / perEngine[ortName][8], 1)}x at batch 8`,
);

// MoveNet Lightning, the pose extractors' network: a tfjs graph model, converted by
// onnx/graph.ts. One frame per run on either engine (the graph's batch is 1); real frames
// of a person, rotating, so the keypoint decoding sees real heatmaps.
const P = 192;
const POSE_FRAME = P * P * 3;
const poseFrames = new Float32Array(8 * POSE_FRAME);
{
  let i = 0;
  for await (const f of openFrames('fixtures/gmdcsa24-subject4-fall02.mp4', { width: P, height: P, fps: 8 })) {
    poseFrames.set(f.data, i * POSE_FRAME);
    if (++i === 8) break;
  }
}
const moveNets: [string, FeatureExtractor][] = [
  [`tfjs (${tfjsChoice.tfjs.name})`, await loadMoveNet('movenet_lightning')],
  ['ort, 1 thread', await loadMoveNetOrt('movenet_lightning', { cacheDir, threads: 1 })],
  ['ort, 2 threads', await loadMoveNetOrt('movenet_lightning', { cacheDir, threads: 2 })],
];
const moveMs: number[] = [];
for (const [name, ex] of moveNets) {
  let k = 0;
  const ms = await time(() => ex.extract(poseFrames.subarray((k % 8) * POSE_FRAME, ((k++ % 8) + 1) * POSE_FRAME), 1));
  moveMs.push(ms);
  row(`MoveNet ${name}, batch 1`, `${fmt(ms)} ms/frame (keypoints + pose features)`);
  ex.dispose();
}
row('MoveNet ort / tfjs speed-up', `${fmt(moveMs[0] / moveMs[1], 1)}x on 1 thread (goal >= 5), ${fmt(moveMs[0] / moveMs[2], 1)}x on 2`);

// The native ceiling: a large square MatMul is as close to peak f32 FMA as this CPU gets.
const N = 2048;
const mm = createGraphBuilder('matmul', 'bench');
mm.input('a', [N, N]);
const bMat = mm.weight(
  'b',
  [N, N],
  Float32Array.from({ length: N * N }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5),
);
mm.node('MatMul', ['a', bMat], ['c']);
mm.output('c', [N, N]);
const mmBytes = mm.encode();
const aMat = Float32Array.from({ length: N * N }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
const ceiling: Record<number, number> = {};
for (const threads of [1, 2]) {
  const s = createSession(mmBytes, { threads });
  const ms = await time(() => s.run({ a: { data: aMat, dims: [N, N] } }), 7, 2);
  s.dispose();
  ceiling[threads] = (2 * N ** 3) / 1e9 / (ms / 1000);
  row(
    `native ceiling, ${threads} thread${threads > 1 ? 's' : ''}`,
    `${fmt(ceiling[threads], 1)} GFLOP/s  (ort MatMul ${N}x${N}x${N}, ${fmt(ms, 1)} ms)`,
  );
}
row(
  'CNN fraction of ceiling',
  `${fmt((100 * gflop) / (perEngine[ortName][1] / 1000) / ceiling[1], 0)}% at batch 1 on 1 thread ` +
    `(tfjs: ${fmt((100 * gflop) / (perEngine[tfjsName][1] / 1000) / ceiling[1], 0)}%)`,
);

// Threading. Latency: one frame through one session. Throughput: frames/s with both cores busy.
const lat2: Record<number, number> = {};
for (const batch of [1, 8]) lat2[batch] = await cnn(ort2, batch);
row(
  '1 session x 2 intra-op threads',
  `${fmt(lat2[1])} ms/frame batch 1, ${fmt(lat2[8])} ms/frame batch 8  (${fmt(1000 / lat2[8], 0)} frames/s)`,
);
const spin: Record<number, number> = {};
for (const batch of [1, 8]) spin[batch] = await cnn(ort2spin, batch);
row(
  '1 session x 2 threads, spinning',
  `${fmt(spin[1])} ms/frame batch 1, ${fmt(spin[8])} ms/frame batch 8  (idle threads spin: costs a core between runs)`,
);
row(
  '1 session x 1 thread',
  `${fmt(perEngine[ortName][1])} ms/frame batch 1, ${fmt(perEngine[ortName][8])} ms/frame batch 8  (${fmt(1000 / perEngine[ortName][8], 0)} frames/s)`,
);

/**
 * Two single-thread sessions, each in its own worker thread (onnxruntime-node's run blocks
 * its thread, so two sessions on one thread would take turns). Uses the public API.
 */
async function twoWorkers(batch: number, framesEach: number): Promise<number> {
  const model = new Uint8Array(readFileSync(ort1.onnx.path));
  // The workers' session options, as source text for the worker code below.
  const sessionOptions = "{ intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' }";
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const ort = require('onnxruntime-node');
    (async () => {
      const s = await ort.InferenceSession.create(workerData.model, ${sessionOptions});
      const px = new ort.Tensor('float32', workerData.px, [workerData.batch, ${S}, ${S}, 3]);
      for (let i = 0; i < 3; i++) await s.run({ ${ONNX_IO.pixels}: px });
      parentPort.postMessage('ready');
      await new Promise((r) => parentPort.once('message', r));
      const t = performance.now();
      for (let i = 0; i < workerData.runs; i++) await s.run({ ${ONNX_IO.pixels}: px });
      parentPort.postMessage(performance.now() - t);
      await s.release();
    })();`;
  const px = frames.slice(0, batch * FRAME);
  const workers = [0, 1].map(() => new Worker(code, { eval: true, workerData: { model, px, batch, runs: Math.ceil(framesEach / batch) } }));
  // Let the workers end on their own: terminate() during an onnxruntime call or release
  // aborts the whole process (seen here: "terminate called after throwing Napi::Error").
  const exited = workers.map((wk) => new Promise((r) => wk.once('exit', r)));
  await Promise.all(workers.map((wk) => new Promise((r) => wk.once('message', r))));
  const t = performance.now();
  const done = workers.map((wk) => new Promise<number>((r) => wk.once('message', r)));
  for (const wk of workers) wk.postMessage('go');
  await Promise.all(done);
  const wall = performance.now() - t;
  await Promise.all(exited);
  return (2 * Math.ceil(framesEach / batch) * batch) / (wall / 1000);
}
for (const batch of [1, 8]) {
  const fps = median([await twoWorkers(batch, 48), await twoWorkers(batch, 48), await twoWorkers(batch, 48)]);
  row(`2 sessions x 1 thread (workers), batch ${batch}`, `${fmt(fps, 0)} frames/s total  (${fmt(1000 / fps)} ms/frame amortised)`);
}

// The live path on one core: CNN + one recurrent step per frame.
const live = await loadOrtLiveStep(entry, ort1, w, { cacheDir, threads: 1 });
const head = createOrtRecurrentHead(w);
let h: Float32Array = new Float32Array(HIDDEN);
const px1 = frames.subarray(0, FRAME);
const fused = await time(async () => {
  h = (await live.step(px1, h)).h;
});
const separate = await time(async () => {
  h = head.step(await ort1.extract(px1, 1), h).h;
});
const stepOnly = await time(() => (h = head.step(new Float32Array(1280).fill(0.1), h).h), 200, 20);
row('CNN + RNN step, 1 thread, fused graph', `${fmt(fused)} ms/frame  (goal <= 8)`);
row('CNN + RNN step, 1 thread, two calls', `${fmt(separate)} ms/frame  (RNN step alone ${fmt(stepOnly, 3)} ms, hidden ${HIDDEN})`);

// End to end, ffmpeg decoding alongside: where a second thread pays, and where it does not.
const clip = await sixtySecondClip();
const manifest: ModelManifest = {
  schema: MANIFEST_SCHEMA,
  name: 'bench',
  version: '0.0.0',
  description: 'seeded head for the bench',
  extractor: 'mobilenet_v2',
  input: 'framediff',
  inputSize: S,
  fps: 8,
  classes: ['a', 'b', 'c'],
  head: { type: 'sigmoid_rnn', featureSize: 1280, hidden: HIDDEN },
  smoothing: { windowMs: 0, minHoldMs: 0 },
  training: {},
};
for (const threads of [1, 2]) {
  const ex = threads === 1 ? ort1 : ort2;
  const liveN = await loadOrtLiveStep(entry, ex, w, { cacheDir, threads });
  const model: VigilModel = {
    dir: '',
    manifest,
    ...modelFrames(manifest),
    engine,
    extractorEngine: 'ort',
    extractor: ex,
    head,
    live: liveN,
    dispose: () => liveN.dispose(),
  };
  await labelClip(clip, model);
  const xs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await labelClip(clip, model);
    xs.push(60_000 / (performance.now() - t));
  }
  const labeler = createLabeler(model);
  let n = 0;
  const t = performance.now();
  for await (const f of openFrames(clip, { width: S, height: S, fps: 8 })) {
    await labeler.label(f);
    n++;
  }
  row(
    `end to end, ${threads} thread${threads > 1 ? 's' : ''}`,
    `labelClip ${fmt(median(xs), 1)}x real time (batches of 8); decode + label() ${fmt((performance.now() - t) / n)} ms/frame (live path)`,
  );
  model.dispose();
}

// Memory over many frames: tfjs tensors and the process's resident set.
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
// The bar is 10 000 frames; BENCH_MEMORY_FRAMES shortens it for a quick look.
const FRAMES = Number(process.env.BENCH_MEMORY_FRAMES ?? 10_000);
const mib = () => process.memoryUsage().rss / 2 ** 20;
const before = { tensors: tf.memory().numTensors, rss: mib() };
let atTenth = 0;
for (let i = 0; i < FRAMES; i++) {
  h = (await live.step(frames.subarray((i % 8) * FRAME, ((i % 8) + 1) * FRAME), h)).h;
  if (i === Math.floor(FRAMES / 10)) {
    gc?.();
    atTenth = mib();
  }
}
gc?.();
const after = { tensors: tf.memory().numTensors, rss: mib() };
row(
  `memory over ${FRAMES} live frames`,
  `tfjs tensors ${before.tensors} -> ${after.tensors}; ` +
    `rss ${fmt(before.rss, 0)} -> ${fmt(atTenth, 0)} (after ${Math.floor(FRAMES / 10)}) -> ${fmt(after.rss, 0)} MiB` +
    (gc ? '' : ' (run with --expose-gc for a settled figure)'),
);

live.dispose();
head.dispose();
ort1.dispose();
ort2.dispose();
ort2spin.dispose();
tfjsExtractor.dispose();
headLayers.dispose();
rmSync(cacheDir, { recursive: true, force: true });

row('load average at end', fmt(loadavg()[0]));
process.stdout.write(textTable(rows).join('\n') + '\n');
