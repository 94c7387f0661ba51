/**
 * How still is still? Measures, on real footage, what motion gating (stream-batcher.ts:
 * `gate`) does to a model's live labels at several thresholds: the share of frames whose
 * CNN it skips and the share whose smoothed label it changes, against no gating.
 *   node --import tsx research/motion-gate.ts [model=fight] [clips folder ...]
 * Default clips: ../shared/datasets/fight-surveillance/{noFight,fight} and the GMDCSA24 clips
 * (up to MAX_CLIPS of each folder, env, default 60), decoded at the model's rate.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../src/model/model.js';
import { createStreamBatcher, meanAbs } from '../src/model/live/stream-batcher.js';
import { createStreamInput } from '../src/model/input/stream-input.js';
import { extractorEntry } from '../src/model/extractors/registry.js';
import { createSmoother } from '../src/timeline/smoother.js';
import { percentile } from '../src/numbers.js';
import { textTable } from '../src/text-table.js';

const [name = 'fight', ...dirs] = process.argv.slice(2);
const DATA = join('..', 'shared', 'datasets');
const folders =
  dirs.length > 0
    ? dirs
    : [join(DATA, 'fight-surveillance', 'noFight'), join(DATA, 'fight-surveillance', 'fight'), join(DATA, 'gmdcsa24', 'clips')];
const MAX_CLIPS = Number(process.env.MAX_CLIPS ?? 60);
const THRESHOLDS = [0.001, 0.002, 0.004, 0.006, 0.008, 0.012, 0.016];

const model = await loadModel(name);
const { manifest } = model;
const offset = extractorEntry(manifest.extractor).pixelOffset;
const batcher = createStreamBatcher(model);
const energies: number[] = [];
const gated = THRESHOLDS.map(() => 0);
const changed = THRESHOLDS.map(() => 0);
let frames = 0;

for (const folder of folders) {
  const clips = readdirSync(folder)
    .filter((f) => /\.(mp4|avi|mkv|webm)$/i.test(f))
    .sort()
    .slice(0, MAX_CLIPS);
  for (const clip of clips) {
    const base = batcher.open();
    const streams = THRESHOLDS.map((gate) => batcher.open({ gate }));
    const smooth = [base, ...streams].map(() => createSmoother(manifest.classes, manifest.smoothing));
    const input = createStreamInput(model, 1);
    for await (const f of model.openFrames(join(folder, clip))) {
      energies.push(meanAbs(input.encode([f]), offset));
      const out = await Promise.all([base, ...streams].map((s) => s.label(f)));
      const labels = out.map((o, i) => smooth[i].push({ tMs: f.tMs, probs: o.probs }).label);
      out.slice(1).forEach((o, i) => {
        if (o.gated) gated[i] += 1;
        if (labels[i + 1] !== labels[0]) changed[i] += 1;
      });
      frames += 1;
    }
    for (const s of [base, ...streams]) s.close();
  }
  console.log(`${folder}: ${clips.length} clips, ${frames} frames so far`);
}

const q = (p: number) => percentile(energies, p);
console.log(`\nmodel ${name} (${manifest.input}), ${frames} frames at ${manifest.fps} fps`);
console.log(
  `difference energy (mean |input - offset|): p5 ${q(5).toFixed(4)}, p25 ${q(25).toFixed(4)}, ` +
    `p50 ${q(50).toFixed(4)}, p75 ${q(75).toFixed(4)}, p95 ${q(95).toFixed(4)}`,
);
const table = textTable(
  [
    ['threshold', 'CNN skipped', 'smoothed label changed'],
    ...THRESHOLDS.map((t, i) => [
      t.toFixed(3),
      `${((100 * gated[i]) / frames).toFixed(1)}%`,
      `${((100 * changed[i]) / frames).toFixed(2)}%`,
    ]),
  ],
  { align: 'right' },
);
console.log(table.join('\n'));
model.dispose();
