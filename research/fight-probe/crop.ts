// Research probe: does the CNN see fights better when it looks where the motion is? Surveillance
// footage shows people small; letterboxing a 640x480 frame into 224x224 loses most of them.
// Each clip is decoded at 448x448; the square of side `--side` (in that frame) holding the
// most frame-difference energy over the clip is cut out and scaled to 224x224, and the
// product's framediff features (MobileNetV2, mean-pooled 1280-d) are taken of that crop.
// `--view full` takes the whole frame through the same resampler instead, `both` puts the two
// side by side (2560-d). Product folds, head and CV.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { extractorEntry, loadExtractor } from '../../src/model/extractors/registry.js';
import { createFrameEncoder } from '../../src/model/input/frame-encoder.js';
import { readClipFolders } from '../../src/train/clip-folders.js';
import type { DatasetItem } from '../../src/train/dataset.js';
import { crossValidate, scoreClips, type ClipScores } from '../../src/train/evaluate.js';
import { readGroupsFile } from '../../src/train/groups.js';
import { meanStd } from '../../src/train/metrics.js';
import { openFrames } from '../../src/video/decode.js';
import { DATASET } from './maps.js';

const { values: a } = parseArgs({
  options: {
    side: { type: 'string', default: '224' },
    view: { type: 'string', default: 'crop' },
    seeds: { type: 'string', default: '1,2,3' },
    place: { type: 'string', default: 'clip' },
    decay: { type: 'string', default: '0.8' },
    step: { type: 'string', default: '32' },
  },
});
const FULL = 448;
const OUT = 224;
const FPS = 8;
const side = Number(a.side);
if (!(side >= OUT / 2 && side <= FULL)) throw new Error(`--side ${side}: ${OUT / 2}-${FULL}`);
if (!['crop', 'full', 'both'].includes(a.view)) throw new Error(`--view ${a.view}: crop, full or both`);
if (!['clip', 'live'].includes(a.place)) throw new Error(`--place ${a.place}: clip or live`);
const decay = Number(a.decay);
const maxStep = Number(a.step);

/**
 * Causal placement, as a live stream must do it: a running motion-energy map
 * E_t = decay·E_{t-1} + |Δgrey|, the box heading for its best square by at most `maxStep`
 * pixels a frame. Each frame's difference is taken under the box of that frame (both frames
 * cropped the same), so a moving box does not show up as motion.
 */
function liveDiffCrops(frames: Uint8Array[]): Uint8Array[] {
  const step = 4;
  const g = FULL / step;
  const s = Math.round(side / step);
  const energy = new Float64Array(g * g);
  const I = new Float64Array((g + 1) * (g + 1));
  let box = { x: (FULL - side) / 2, y: (FULL - side) / 2 };
  const out: Uint8Array[] = [new Uint8Array(OUT * OUT * 3)];
  for (let t = 1; t < frames.length; t++) {
    const [p, c] = [frames[t - 1], frames[t]];
    for (let y = 0; y < g; y++) {
      for (let x = 0; x < g; x++) {
        const i = (y * step * FULL + x * step) * 3;
        energy[y * g + x] = decay * energy[y * g + x] + Math.abs(c[i] + c[i + 1] + c[i + 2] - p[i] - p[i + 1] - p[i + 2]);
      }
    }
    for (let y = 0; y < g; y++)
      for (let x = 0; x < g; x++)
        I[(y + 1) * (g + 1) + x + 1] = energy[y * g + x] + I[y * (g + 1) + x + 1] + I[(y + 1) * (g + 1) + x] - I[y * (g + 1) + x];
    let best = { x: 0, y: 0, e: -1 };
    for (let y = 0; y + s <= g; y++) {
      for (let x = 0; x + s <= g; x++) {
        const e = I[(y + s) * (g + 1) + x + s] - I[y * (g + 1) + x + s] - I[(y + s) * (g + 1) + x] + I[y * (g + 1) + x];
        if (e > best.e) best = { x, y, e };
      }
    }
    const toward = (from: number, to: number) => from + Math.max(-maxStep, Math.min(maxStep, to - from));
    box = { x: toward(box.x, best.x * step), y: toward(box.y, best.y * step) };
    const [cp, cc] = [crop(p, box), crop(c, box)];
    const d = new Uint8Array(cc.length);
    for (let i = 0; i < d.length; i++) d[i] = Math.abs(cc[i] - cp[i]);
    out.push(d);
  }
  return out;
}

/** Top-left corner of the side x side square with the most motion energy (grey |Δ| summed over the clip). */
function motionBox(frames: Uint8Array[]): { x: number; y: number } {
  const step = 4; // energy on a 112x112 grid
  const g = FULL / step;
  const energy = new Float64Array(g * g);
  for (let t = 1; t < frames.length; t++) {
    const [p, c] = [frames[t - 1], frames[t]];
    for (let y = 0; y < g; y++) {
      for (let x = 0; x < g; x++) {
        const i = (y * step * FULL + x * step) * 3;
        energy[y * g + x] += Math.abs(c[i] + c[i + 1] + c[i + 2] - p[i] - p[i + 1] - p[i + 2]);
      }
    }
  }
  // Integral image, then every square position.
  const I = new Float64Array((g + 1) * (g + 1));
  for (let y = 0; y < g; y++)
    for (let x = 0; x < g; x++)
      I[(y + 1) * (g + 1) + x + 1] = energy[y * g + x] + I[y * (g + 1) + x + 1] + I[(y + 1) * (g + 1) + x] - I[y * (g + 1) + x];
  const s = Math.round(side / step);
  let best = { x: 0, y: 0, e: -1 };
  for (let y = 0; y + s <= g; y++) {
    for (let x = 0; x + s <= g; x++) {
      const e = I[(y + s) * (g + 1) + x + s] - I[y * (g + 1) + x + s] - I[(y + s) * (g + 1) + x] + I[y * (g + 1) + x];
      if (e > best.e) best = { x, y, e };
    }
  }
  return { x: best.x * step, y: best.y * step };
}

/** The square at (x, y) of side `s` (default `--side`), scaled (bilinear) to OUT x OUT. */
function crop(frame: Uint8Array, box: { x: number; y: number }, s = side): Uint8Array {
  const out = new Uint8Array(OUT * OUT * 3);
  const r = s / OUT;
  const at = (v: number, start: number) => {
    const p = Math.min(Math.max(start + (v + 0.5) * r - 0.5, 0), FULL - 1);
    const i = Math.floor(p);
    return { i, j: Math.min(i + 1, FULL - 1), f: p - i };
  };
  for (let v = 0; v < OUT; v++) {
    const Y = at(v, box.y);
    for (let u = 0; u < OUT; u++) {
      const X = at(u, box.x);
      const [a, b, c, d] = [(Y.i * FULL + X.i) * 3, (Y.i * FULL + X.j) * 3, (Y.j * FULL + X.i) * 3, (Y.j * FULL + X.j) * 3];
      for (let k = 0; k < 3; k++) {
        out[(v * OUT + u) * 3 + k] = Math.round(
          (frame[a + k] * (1 - X.f) + frame[b + k] * X.f) * (1 - Y.f) + (frame[c + k] * (1 - X.f) + frame[d + k] * X.f) * Y.f,
        );
      }
    }
  }
  return out;
}

const entry = extractorEntry('mobilenet_v2');
const extractor = await loadExtractor('mobilenet_v2');
async function features(frames: Uint8Array[], mode: 'frame' | 'framediff' = 'framediff'): Promise<Float32Array> {
  const enc = createFrameEncoder({ mode, scale: entry.pixelScale, offset: entry.pixelOffset, size: OUT, maxBatch: 8, owner: 'probe' });
  const out = new Float32Array(frames.length * 1280);
  for (let i = 0; i < frames.length; i += 8) {
    const batch = frames.slice(i, i + 8).map((data) => ({ width: OUT, height: OUT, data }));
    out.set(await extractor.extract(enc.encode(batch), batch.length), i * 1280);
  }
  return out;
}

const { clips, classes } = readClipFolders(DATASET);
const groups = readGroupsFile(join(DATASET, 'videos.txt'));
const dir = join('.cache/probe-crop', `side${side}`);
mkdirSync(dir, { recursive: true });
const liveDir = join('.cache/probe-crop', `live${side}-d${decay}-s${maxStep}`);
mkdirSync(liveDir, { recursive: true });
const started = Date.now();
const items: DatasetItem[] = [];
for (const [n, c] of clips.entries()) {
  const file = join(dir, `${c.id}.f32`);
  if (!existsSync(file)) {
    const frames: Uint8Array[] = [];
    for await (const f of openFrames(c.path, { fps: FPS, width: FULL, height: FULL })) frames.push(f.data);
    const box = motionBox(frames);
    const cropped = await features(frames.map((f) => crop(f, box)));
    const full = await features(frames.map((f) => crop(f, { x: 0, y: 0 }, FULL)));
    const both = new Float32Array(frames.length * 2560);
    for (let t = 0; t < frames.length; t++) {
      both.set(cropped.subarray(t * 1280, (t + 1) * 1280), t * 2560);
      both.set(full.subarray(t * 1280, (t + 1) * 1280), t * 2560 + 1280);
    }
    writeFileSync(file, Buffer.from(both.buffer));
    if ((n + 1) % 40 === 0) console.log(`${n + 1}/${clips.length} clips, ${((Date.now() - started) / (n + 1)).toFixed(0)} ms a clip`);
  }
  const b = readFileSync(file);
  const both = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  if (a.place === 'live') {
    const liveFile = join(liveDir, `${c.id}.f32`);
    if (!existsSync(liveFile)) {
      const frames: Uint8Array[] = [];
      for await (const f of openFrames(c.path, { fps: FPS, width: FULL, height: FULL })) frames.push(f.data);
      writeFileSync(liveFile, Buffer.from((await features(liveDiffCrops(frames), 'frame')).buffer));
      if ((n + 1) % 40 === 0)
        console.log(`${n + 1}/${clips.length} clips (live crops), ${((Date.now() - started) / (n + 1)).toFixed(0)} ms a clip`);
    }
    const l = readFileSync(liveFile);
    const live = new Float32Array(l.buffer, l.byteOffset, l.byteLength / 4);
    for (let t = 0; t < live.length / 1280; t++) both.set(live.subarray(t * 1280, (t + 1) * 1280), t * 2560);
  }
  const T = both.length / 2560;
  const [from, dim] = a.view === 'crop' ? [0, 1280] : a.view === 'full' ? [1280, 1280] : [0, 2560];
  const feats = new Float32Array(T * dim);
  for (let t = 0; t < T; t++) feats.set(both.subarray(t * 2560 + from, t * 2560 + from + dim), t * dim);
  const label = classes.indexOf(c.label);
  items.push({
    path: c.path,
    id: c.id,
    group: groups.get(c.id) ?? `clip:${c.id}`,
    label: c.label,
    tMs: Array.from({ length: T }, (_, t) => (t * 1000) / FPS),
    seq: { features: feats, dim, labels: new Int32Array(T).fill(label) },
  });
}
const accuracies: number[] = [];
for (const seed of a.seeds.split(',').map(Number)) {
  const r = await crossValidate(items, { classes, folds: 5, seed, fit: {}, score: (it, probs) => scoreClips(classes, it, probs) });
  const acc = (r.pooled as ClipScores).report.accuracy;
  accuracies.push(acc);
  console.log(`side ${side} ${a.place} view ${a.view} seed ${seed}: ${acc.toFixed(3)}`);
}
const { mean, std } = meanStd(accuracies);
console.log(`== side ${side} ${a.place} view ${a.view}: ${mean.toFixed(3)} ± ${std.toFixed(3)}`);
