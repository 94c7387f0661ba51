/**
 * `npm run bench`: per-stage cost of the offline pipeline on this machine, as medians, on the
 * engine vigil picks (VIGIL_ENGINE=tfjs|ort to choose; `npm run bench:engines` compares them).
 *   decode ms/frame · input encoding ms/frame · CNN ms/frame at batch 1 and 8 · FLOPs/frame and GFLOP/s ·
 *   RNN step ms · end-to-end × real time on a 60 s clip.
 * BENCH_MODEL=name|folder picks the model (default `fight`).
 * Figures, not pass/fail: these machines are noisy, so each figure is a median of repeats.
 */
import { labelClip } from '../src/label-clip.js';
import { selectBackend } from '../src/model/runtime/backend.js';
import { describeEngine } from '../src/model/runtime/engine.js';
import { extractorEntry } from '../src/model/extractors/registry.js';
import { createFrameEncoder } from '../src/model/input/frame-encoder.js';
import { createLabeler } from '../src/model/labeler.js';
import { loadModel, type VigilModel } from '../src/model/model.js';
import { median } from '../src/numbers.js';
import { textTable } from '../src/text-table.js';
import { sixtySecondClip } from './clips.js';
import type { Frame } from '../src/video/types.js';

const CLIP_S = 60;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);

const fmt = (x: number, d = 2) => x.toFixed(d);

async function timeDecode(clip: string, model: VigilModel): Promise<{ msPerFrame: number; frames: Frame[] }> {
  const runs: number[] = [];
  let frames: Frame[] = [];
  for (let i = 0; i < 3; i++) {
    const got: Frame[] = [];
    const t = performance.now();
    for await (const f of model.openFrames(clip)) got.push(f);
    runs.push((performance.now() - t) / got.length);
    frames = got;
  }
  return { msPerFrame: median(runs), frames };
}

const backend = await selectBackend();
const model = await loadModel(process.env.BENCH_MODEL ?? 'fight');
const { extractor, head, manifest } = model;
const clip = await sixtySecondClip();
const size = manifest.inputSize;
const decoded = model.frameSpec.width;

const decode = await timeDecode(clip, model);
const entry = extractorEntry(manifest.extractor);
const encodeRuns: number[] = [];
for (let i = 0; i < 3; i++) {
  const enc = createFrameEncoder({
    mode: manifest.input,
    scale: entry.pixelScale,
    offset: entry.pixelOffset,
    size,
    maxBatch: 1,
    owner: 'bench',
  });
  const t = performance.now();
  for (const f of decode.frames) enc.encode([f]);
  encodeRuns.push((performance.now() - t) / decode.frames.length);
}
const cnn: Record<number, number> = {};
for (const batch of [1, 8]) {
  const pixels = new Float32Array(batch * size * size * 3).map((_, i) => (i % 251) / 255);
  await extractor.extract(pixels, batch); // warm-up: kernels compile on first use
  const runs: number[] = [];
  for (let i = 0; i < REPEATS * 2; i++) {
    const t = performance.now();
    await extractor.extract(pixels, batch);
    runs.push((performance.now() - t) / batch);
  }
  cnn[batch] = median(runs);
}
const x = new Float32Array(head.featureSize).fill(0.1);
let h = new Float32Array(head.hidden) as Float32Array;
const stepRuns: number[] = [];
for (let i = 0; i < 200; i++) {
  const t = performance.now();
  h = head.step(x, h).h;
  stepRuns.push(performance.now() - t);
}
const labeler = createLabeler(model);
const liveRuns: number[] = [];
for (const f of decode.frames.slice(0, 40)) {
  const t = performance.now();
  await labeler.label(f);
  liveRuns.push(performance.now() - t);
}
const e2e: number[] = [];
for (let i = 0; i < Math.max(1, Math.floor(REPEATS / 2)); i++) {
  const t = performance.now();
  await labelClip(clip, model);
  e2e.push((CLIP_S * 1000) / (performance.now() - t));
}

const gflop = extractor.flopsPerFrame / 1e9;
const rows: [string, string][] = [
  ['engine', describeEngine(model.engine)],
  ['backend', `${backend.name}${backend.simd ? ' (simd)' : ''}: ${backend.reason}`],
  ['extractor', `${extractor.name} ${size}x${size}, ${fmt(gflop, 3)} GFLOP/frame`],
  [
    'decode ms/frame',
    `${fmt(decode.msPerFrame)} (${decode.frames.length} ${decoded}x${decoded} frames of a ${CLIP_S} s clip at ${manifest.fps} fps)`,
  ],
  ['input encoding ms/frame', `${fmt(median(encodeRuns))} (${manifest.input})`],
  ['CNN ms/frame, batch 1', `${fmt(cnn[1])}  (${fmt(gflop / (cnn[1] / 1000), 1)} GFLOP/s)`],
  ['CNN ms/frame, batch 8', `${fmt(cnn[8])}  (${fmt(gflop / (cnn[8] / 1000), 1)} GFLOP/s, ${fmt(cnn[1] / cnn[8])}x batch 1)`],
  ['RNN step ms', `${fmt(median(stepRuns), 3)} (hidden ${head.hidden})`],
  ['live label() ms/frame', `${fmt(median(liveRuns))} (CNN + step, batch 1)`],
  ['end-to-end x real time', `${fmt(median(e2e), 1)}x  (${CLIP_S} s clip, ${e2e.length} runs)`],
];
process.stdout.write(textTable(rows).join('\n') + '\n');
model.dispose();
