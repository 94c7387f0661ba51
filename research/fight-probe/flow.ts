// Research probe: does the direction of motion add what a frozen CNN of |Δframe| lacks?
// Fights are motion in many directions at once; walking past is one direction. Per frame, a
// block-matching flow field is taken inside the product's motion-crop square (the same causal
// placement, src/model/input/motion-crop.ts), and summarised as 72 numbers: how much moves and how
// fast, direction histograms (whole square and quadrants), coherence, divergence and curl,
// change of magnitude from the last field (as "violent flows", Hassner et al. 2012) and how
// well blocks match. The head sees these alone (`--with none`) or beside the product's
// motioncrop CNN features (`--with cnn`). Product folds, head and CV; `--augment flip` as the
// shipped model.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createMotionCrop } from '../../src/model/input/motion-crop.js';
import { augmentDecode, augmentVariants, parseAugment } from '../../src/train/augment.js';
import { loadDataset, type DatasetItem } from '../../src/train/dataset.js';
import type { Sequence } from '../../src/train/fit-head.js';
import { crossValidate, scoreClips, type ClipScores } from '../../src/train/evaluate.js';
import { meanStd } from '../../src/train/metrics.js';
import { openFrames } from '../../src/video/decode.js';
import { DATASET } from './maps.js';

const { values: a } = parseArgs({
  options: {
    with: { type: 'string', default: 'cnn' },
    seeds: { type: 'string', default: '1,2,3' },
    augment: { type: 'string', default: 'flip' },
    gain: { type: 'string', default: '1' },
  },
});
const D = 448; // decoded side, as motioncrop
const SIZE = 224;
const FPS = 8;
const G = 16; // flow grid
const FLOW_DIM = 72;

/** Grey (R+G+B) of the square at (x, y, side) averaged down to n x n. */
function greyCrop(rgb: Uint8Array, box: { x: number; y: number; side: number }, n: number): Float32Array {
  const out = new Float32Array(n * n);
  const f = box.side / n;
  for (let v = 0; v < n; v++) {
    for (let u = 0; u < n; u++) {
      let s = 0;
      for (let dy = 0; dy < f; dy++) {
        const row = (box.y + v * f + dy) * D;
        for (let dx = 0; dx < f; dx++) {
          const i = (row + box.x + u * f + dx) * 3;
          s += rgb[i] + rgb[i + 1] + rgb[i + 2];
        }
      }
      out[v * n + u] = s / (f * f * 3);
    }
  }
  return out;
}

interface Field {
  u: Float32Array; // decoded pixels
  v: Float32Array;
  moving: Uint8Array;
  sad0: Float32Array;
  sad: Float32Array;
}

/** Block matching of `cur` against `prev` (n x n grey): for each of G x G blocks the shift of `prev` that best matches it. */
function blockFlow(prev: Float32Array, cur: Float32Array, n: number, radius: number, pxScale: number): Field {
  const b = n / G;
  const f: Field = {
    u: new Float32Array(G * G),
    v: new Float32Array(G * G),
    moving: new Uint8Array(G * G),
    sad0: new Float32Array(G * G),
    sad: new Float32Array(G * G),
  };
  for (let by = 0; by < G; by++) {
    for (let bx = 0; bx < G; bx++) {
      const k = by * G + bx;
      const sadAt = (ox: number, oy: number) => {
        let s = 0;
        for (let y = 0; y < b; y++) {
          const py = by * b + y - oy;
          const cy = Math.min(Math.max(py, 0), n - 1);
          for (let x = 0; x < b; x++) {
            const px = Math.min(Math.max(bx * b + x - ox, 0), n - 1);
            s += Math.abs(cur[(by * b + y) * n + bx * b + x] - prev[cy * n + px]);
          }
        }
        return s / (b * b);
      };
      const s0 = sadAt(0, 0);
      f.sad0[k] = s0;
      f.sad[k] = s0;
      if (s0 < 4) continue; // still (grey levels a pixel)
      f.moving[k] = 1;
      let best = { x: 0, y: 0, s: s0 * 0.95 }; // a shift must beat standing still clearly
      for (let oy = -radius; oy <= radius; oy++) {
        for (let ox = -radius; ox <= radius; ox++) {
          if (ox === 0 && oy === 0) continue;
          const s = sadAt(ox, oy);
          if (s < best.s) best = { x: ox, y: oy, s };
        }
      }
      f.u[k] = best.x * pxScale;
      f.v[k] = best.y * pxScale;
      f.sad[k] = Math.min(best.s, s0);
    }
  }
  return f;
}

/** The 72 numbers of a flow field (and the one before it). */
function summarise(f: Field, before: Field | undefined): Float32Array {
  const out = new Float32Array(FLOW_DIM);
  let o = 0;
  const N = G * G;
  const mag = new Float32Array(N);
  let moving = 0;
  for (let k = 0; k < N; k++) {
    mag[k] = Math.hypot(f.u[k], f.v[k]);
    moving += f.moving[k];
  }
  out[o++] = moving / N;
  // Magnitude histogram: still, then moving blocks by speed (decoded px a frame).
  const edges = [2, 4, 8, 16, Infinity];
  const hist = new Float32Array(6);
  for (let k = 0; k < N; k++) hist[f.moving[k] ? 1 + edges.findIndex((e) => mag[k] < e) : 0]++;
  for (const h of hist) out[o++] = h / N;
  // Direction histograms weighted by magnitude: the square, then its quadrants.
  const dirBin = (k: number) => ((Math.round((Math.atan2(f.v[k], f.u[k]) / (2 * Math.PI)) * 8) % 8) + 8) % 8;
  const whole = new Float32Array(8);
  const quad = new Float32Array(32);
  let total = 0;
  let sx = 0;
  let sy = 0;
  for (let k = 0; k < N; k++) {
    if (mag[k] === 0) continue;
    const d = dirBin(k);
    whole[d] += mag[k];
    const q = (Math.floor(k / G) < G / 2 ? 0 : 2) + (k % G < G / 2 ? 0 : 1);
    quad[q * 8 + d] += mag[k];
    total += mag[k];
    sx += f.u[k];
    sy += f.v[k];
  }
  let entropy = 0;
  for (const w of whole) {
    out[o++] = total > 0 ? w / total : 0;
    if (w > 0) entropy -= (w / total) * Math.log(w / total);
  }
  out[o++] = entropy / Math.log(8);
  out[o++] = total > 0 ? Math.hypot(sx, sy) / total : 0; // coherence: 1 = all one way
  let m1 = 0;
  let m2 = 0;
  for (let k = 0; k < N; k++) {
    if (!f.moving[k]) continue;
    m1 += mag[k];
    m2 += mag[k] * mag[k];
  }
  const mean = moving > 0 ? m1 / moving : 0;
  out[o++] = Math.log1p(mean) / 4;
  out[o++] = Math.log1p(Math.sqrt(Math.max(0, moving > 0 ? m2 / moving - mean * mean : 0))) / 4;
  for (let cy = 0; cy < 4; cy++) {
    for (let cx = 0; cx < 4; cx++) {
      let s = 0;
      for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) s += mag[(cy * 4 + y) * G + cx * 4 + x];
      out[o++] = Math.log1p(s / 16) / 4;
    }
  }
  for (const w of quad) out[o++] = total > 0 ? w / total : 0;
  // Change of magnitude since the last field.
  let dm = 0;
  const dms = new Float32Array(N);
  for (let k = 0; k < N; k++) {
    dms[k] = before ? Math.abs(mag[k] - Math.hypot(before.u[k], before.v[k])) : 0;
    dm += dms[k];
  }
  dm /= N;
  let over = 0;
  for (const d of dms) if (d > dm && d > 0) over++;
  out[o++] = Math.log1p(dm) / 4;
  out[o++] = over / N;
  // Divergence and curl (central differences, inner blocks), over moving blocks.
  let div = 0;
  let curl = 0;
  let inner = 0;
  for (let y = 1; y < G - 1; y++) {
    for (let x = 1; x < G - 1; x++) {
      const k = y * G + x;
      if (!f.moving[k]) continue;
      div += Math.abs((f.u[k + 1] - f.u[k - 1] + f.v[k + G] - f.v[k - G]) / 2);
      curl += Math.abs((f.v[k + 1] - f.v[k - 1] - f.u[k + G] + f.u[k - G]) / 2);
      inner++;
    }
  }
  out[o++] = Math.log1p(inner > 0 ? div / inner : 0) / 4;
  out[o++] = Math.log1p(inner > 0 ? curl / inner : 0) / 4;
  let fit = 0;
  for (let k = 0; k < N; k++) if (f.moving[k]) fit += f.sad[k] / f.sad0[k];
  out[o++] = moving > 0 ? fit / moving : 1;
  if (o !== FLOW_DIM) throw new Error(`summarise wrote ${o}`);
  return out;
}

/** Flow features of a clip, a row per sampled frame (the first frame: no motion). */
async function clipFlow(path: string, filters: string[], fpsScale: number): Promise<Float32Array> {
  const crop = createMotionCrop({ size: SIZE, scale: 1, offset: 0 });
  const scratch = new Float32Array(SIZE * SIZE * 3);
  const rows: Float32Array[] = [];
  let prev: Uint8Array | undefined;
  let before: Field | undefined;
  const n = 80;
  for await (const frame of openFrames(path, { fps: FPS * fpsScale, width: D, height: D, filters })) {
    crop.encode(frame.data, scratch, 0);
    const box = crop.box();
    if (prev === undefined) {
      rows.push(summarise(blockFlow(new Float32Array(n * n), new Float32Array(n * n), n, 0, 1), undefined));
    } else {
      const f = blockFlow(greyCrop(prev, box, n), greyCrop(frame.data, box, n), n, 6, box.side / n);
      rows.push(summarise(f, before));
      before = f;
    }
    prev = frame.data;
  }
  const out = new Float32Array(rows.length * FLOW_DIM);
  rows.forEach((r, t) => out.set(r, t * FLOW_DIM));
  return out;
}

const augment = a.augment === 'none' ? [] : parseAugment(a.augment);
const variants = augmentVariants(augment);
const data = await loadDataset(
  { kind: 'clips', dir: DATASET, groups: join(DATASET, 'videos.txt') },
  { spec: { extractor: 'mobilenet_v2', input: 'motioncrop', fps: FPS }, cacheDir: '.cache/features', augment },
);
const dir = '.cache/probe-flow';
mkdirSync(dir, { recursive: true });
const started = Date.now();
const gain = Number(a.gain);
async function withFlow(item: DatasetItem, seq: Sequence, variant: string | undefined): Promise<Sequence> {
  const file = join(dir, `${item.id}${variant ? `.${variant}` : ''}.f32`);
  if (!existsSync(file)) {
    const d = variant ? augmentDecode(variant) : { filters: [], fpsScale: 1 };
    writeFileSync(file, Buffer.from((await clipFlow(item.path, d.filters, d.fpsScale)).buffer));
  }
  const b = readFileSync(file);
  const flow = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  const T = seq.labels.length;
  if (flow.length !== T * FLOW_DIM) throw new Error(`${item.id}: ${flow.length / FLOW_DIM} flow rows, ${T} frames`);
  const cnn = a.with === 'cnn' ? seq.dim : 0;
  const dim = cnn + FLOW_DIM;
  const features = new Float32Array(T * dim);
  for (let t = 0; t < T; t++) {
    if (cnn > 0) features.set(seq.features.subarray(t * cnn, (t + 1) * cnn), t * dim);
    for (let j = 0; j < FLOW_DIM; j++) features[t * dim + cnn + j] = flow[t * FLOW_DIM + j] * gain;
  }
  return { features, dim, labels: seq.labels };
}
const items: DatasetItem[] = [];
for (const [n, it] of data.items.entries()) {
  const seq = await withFlow(it, it.seq, undefined);
  const augmented = it.augmented ? await Promise.all(it.augmented.map((s, i) => withFlow(it, s, variants[i]))) : undefined;
  items.push({ ...it, seq, ...(augmented ? { augmented } : {}) });
  if ((n + 1) % 40 === 0) console.log(`${n + 1}/${data.items.length} clips, ${((Date.now() - started) / (n + 1)).toFixed(0)} ms a clip`);
}
const accuracies: number[] = [];
for (const seed of a.seeds.split(',').map(Number)) {
  const r = await crossValidate(items, {
    classes: data.classes,
    folds: 5,
    seed,
    fit: { hidden: 16, window: 12, epochs: 60, learningRate: 0.0005 },
    score: (it, probs) => scoreClips(data.classes, it, probs),
  });
  const acc = (r.pooled as ClipScores).report.accuracy;
  accuracies.push(acc);
  console.log(`flow with ${a.with} augment ${a.augment} gain ${gain} seed ${seed}: ${acc.toFixed(3)}`);
}
const { mean, std } = meanStd(accuracies);
console.log(`== flow with ${a.with} augment ${a.augment} gain ${gain}: ${mean.toFixed(3)} ± ${std.toFixed(3)}`);
