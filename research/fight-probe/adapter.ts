// Research probe: can the last convolution of MobileNetV2 learn motion here, where wasm has no
// conv gradients? Conv_1 is a 1x1 convolution (320 -> 1280 at each of the 7x7 positions), so a
// matrix product: it gets a trained low-rank correction, relu6(BN(Conv_1 x) + x·A·B), before the
// mean over positions, and the sigmoid RNN head trains with it. B starts at zero, so training
// starts from exactly the product's frozen features (`motioncrop`, no mirroring here).
// `--rank 0` is the same loop with no correction: the baseline to compare with.
// Caches block_16_project_BN (x) and Conv_1_bn (BN(Conv_1 x)) per frame in .cache/probe-adapter/.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { loadMobileNetV2Layers } from '../../src/model/extractors/mobilenet-v2.js';
import { openModelFrames } from '../../src/model/frames.js';
import { createFrameEncoder } from '../../src/model/input/frame-encoder.js';
import { convertLayersModel } from '../../src/model/runtime/onnx/convert.js';
import { createSession } from '../../src/model/runtime/onnx/runtime.js';
import { selectBackend } from '../../src/model/runtime/backend.js';
import { readClipFolders } from '../../src/train/clip-folders.js';
import { readGroupsFile } from '../../src/train/groups.js';
import { meanStd } from '../../src/train/metrics.js';
import { createRandom } from '../../src/train/random.js';
import { earlyStoppingSplit, groupedFolds } from '../../src/train/split.js';
import { inBatches } from '../../src/video/batches.js';
import { DATASET } from './maps.js';

const { values: a } = parseArgs({
  options: {
    rank: { type: 'string', default: '16' },
    seeds: { type: 'string', default: '1' },
    lr: { type: 'string', default: '0.0005' },
  },
});
const RANK = Number(a.rank);
const LR = Number(a.lr);
const P = 49;
const CX = 320;
const CF = 1280;
const HIDDEN = 16;
const WINDOW = 12;
const BATCH = 16;
const DIR = '.cache/probe-adapter';

interface Clip {
  id: string;
  group: string;
  label: number;
  frames: number;
  /** frames x P x CX */
  x: Float32Array;
  /** frames x P x CF, before relu6 */
  pre: Float32Array;
}

async function extract(): Promise<{ classes: string[]; clips: Clip[] }> {
  const { clips, classes } = readClipFolders(DATASET);
  const groups = readGroupsFile(join(DATASET, 'videos.txt'));
  mkdirSync(DIR, { recursive: true });
  const missing = clips.filter((c) => !existsSync(join(DIR, `${c.id}.f32`)));
  if (missing.length > 0) {
    const layers = await loadMobileNetV2Layers();
    const { model } = layers;
    const cut = tf.model({
      inputs: model.inputs,
      outputs: ['block_16_project_BN', 'Conv_1_bn'].map((n) => model.getLayer(n).output as tf.SymbolicTensor),
    });
    const session = createSession(convertLayersModel(cut, { inputNames: ['pixels'], outputNames: ['x', 'pre'] }), { threads: 2 });
    layers.dispose();
    const started = Date.now();
    for (const [n, c] of missing.entries()) {
      const enc = createFrameEncoder({ mode: 'motioncrop', scale: 1 / 255, offset: 0, size: 224, maxBatch: 8, owner: 'probe' });
      const rows: Float32Array[] = [];
      for await (const batch of inBatches(openModelFrames({ input: 'motioncrop', inputSize: 224, fps: 8 }, c.path), 8)) {
        const out = session.run({ pixels: { data: enc.encode(batch), dims: [batch.length, 224, 224, 3] } });
        for (let i = 0; i < batch.length; i++) {
          const row = new Float32Array(P * (CX + CF));
          row.set(out.x.subarray(i * P * CX, (i + 1) * P * CX), 0);
          row.set(out.pre.subarray(i * P * CF, (i + 1) * P * CF), P * CX);
          rows.push(row);
        }
      }
      const all = new Float32Array(rows.length * P * (CX + CF));
      rows.forEach((r, i) => all.set(r, i * r.length));
      writeFileSync(join(DIR, `${c.id}.f32`), Buffer.from(all.buffer));
      if ((n + 1) % 40 === 0) console.log(`${n + 1}/${missing.length} clips, ${((Date.now() - started) / (n + 1)).toFixed(0)} ms a clip`);
    }
    session.dispose();
  }
  return {
    classes,
    clips: clips.map((c) => {
      const b = readFileSync(join(DIR, `${c.id}.f32`));
      const all = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      const frames = all.length / (P * (CX + CF));
      const x = new Float32Array(frames * P * CX);
      const pre = new Float32Array(frames * P * CF);
      for (let t = 0; t < frames; t++) {
        const row = all.subarray(t * P * (CX + CF), (t + 1) * P * (CX + CF));
        x.set(row.subarray(0, P * CX), t * P * CX);
        pre.set(row.subarray(P * CX), t * P * CF);
      }
      return { id: c.id, group: groups.get(c.id) ?? `clip:${c.id}`, label: classes.indexOf(c.label), frames, x, pre };
    }),
  };
}

/** The product's feature of a frame: mean over positions of relu6(pre). */
function pooled(c: Clip, t: number, out: Float32Array): void {
  out.fill(0);
  for (let p = 0; p < P; p++) {
    const base = (t * P + p) * CF;
    for (let k = 0; k < CF; k++) out[k] += Math.min(Math.max(c.pre[base + k], 0), 6) / P;
  }
}

// A type alias, not an interface, so `Object.values(p)` is typed `tf.Variable[]`.
type Params = Record<'A' | 'B' | 'Wx' | 'Wh' | 'bh' | 'Wy' | 'by', tf.Variable>;

function forward(p: Params, x: tf.Tensor, pre: tf.Tensor, mu: tf.Tensor, sd: tf.Tensor, dropout: number, n: number, T: number): tf.Tensor {
  let act = pre; // [n, T, P, CF]
  if (RANK > 0) act = tf.add(pre, tf.matMul(tf.matMul(x.reshape([n * T * P, CX]), p.A), p.B).reshape([n, T, P, CF]));
  let z = tf.div(tf.sub(tf.mean(tf.clipByValue(act, 0, 6), 2), mu), sd); // [n, T, CF]
  if (dropout > 0) z = tf.dropout(z, dropout);
  let h = tf.zeros([n, HIDDEN]);
  const logits: tf.Tensor[] = [];
  const proj = tf.matMul(z.reshape([n * T, CF]), p.Wx).reshape([n, T, HIDDEN]);
  for (let t = 0; t < T; t++) {
    h = tf.sigmoid(tf.add(tf.add(proj.slice([0, t, 0], [n, 1, HIDDEN]).reshape([n, HIDDEN]), tf.matMul(h, p.Wh)), p.bh));
    logits.push(tf.add(tf.matMul(h, p.Wy), p.by));
  }
  return tf.stack(logits, 1); // [n, T, K]
}

function tensors(clips: Clip[], starts: number[], T: number): { x: tf.Tensor; pre: tf.Tensor } {
  const n = clips.length;
  const x = new Float32Array(n * T * P * CX);
  const pre = new Float32Array(n * T * P * CF);
  clips.forEach((c, i) => {
    x.set(c.x.subarray(starts[i] * P * CX, (starts[i] + T) * P * CX), i * T * P * CX);
    pre.set(c.pre.subarray(starts[i] * P * CF, (starts[i] + T) * P * CF), i * T * P * CF);
  });
  return { x: tf.tensor4d(x, [n, T, P, CX]), pre: tf.tensor4d(pre, [n, T, P, CF]) };
}

function runFold(train: Clip[], val: Clip[], test: Clip[], seed: number, K: number): Float32Array[] {
  const random = createRandom(seed);
  // Standardisation of the frozen features, from the training frames.
  const sum = new Float64Array(CF);
  const sq = new Float64Array(CF);
  const f = new Float32Array(CF);
  let count = 0;
  for (const c of train) {
    for (let t = 0; t < c.frames; t++) {
      pooled(c, t, f);
      for (let k = 0; k < CF; k++) {
        sum[k] += f[k];
        sq[k] += f[k] * f[k];
      }
      count++;
    }
  }
  const mu = tf.tensor1d(Array.from(sum, (s) => s / count));
  const sd = tf.tensor1d(Array.from(sum, (s, k) => Math.sqrt(Math.max(sq[k] / count - (s / count) ** 2, 0)) + 1e-3));
  const p: Params = {
    A: tf.variable(tf.randomNormal([CX, Math.max(RANK, 1)], 0, 1 / Math.sqrt(CX), 'float32', seed)),
    B: tf.variable(tf.zeros([Math.max(RANK, 1), CF])),
    Wx: tf.variable(tf.initializers.glorotUniform({ seed: seed + 1 }).apply([CF, HIDDEN])),
    Wh: tf.variable(tf.initializers.orthogonal({ gain: 1, seed: seed + 2 }).apply([HIDDEN, HIDDEN])),
    bh: tf.variable(tf.zeros([HIDDEN])),
    Wy: tf.variable(tf.initializers.glorotUniform({ seed: seed + 3 }).apply([HIDDEN, K])),
    by: tf.variable(tf.zeros([K])),
  };
  const trainable = RANK > 0 ? Object.values(p) : [p.Wx, p.Wh, p.bh, p.Wy, p.by];
  const opt = tf.train.adam(LR);
  const T = Math.min(WINDOW, ...train.map((c) => c.frames));
  const probsOf = (clips: Clip[]) =>
    clips.map((c) =>
      tf.tidy(() => {
        const { x, pre } = tensors([c], [0], c.frames);
        return tf.softmax(forward(p, x, pre, mu, sd, 0, 1, c.frames)).dataSync<'float32'>();
      }),
    );
  const lossOf = (probs: Float32Array[], clips: Clip[]) => {
    let l = 0;
    let n = 0;
    probs.forEach((pr, i) => {
      for (let t = 0; t < clips[i].frames; t++) {
        l -= Math.log(Math.max(pr[t * K + clips[i].label], 1e-7));
        n++;
      }
    });
    return l / n;
  };
  let best = { loss: Infinity, epoch: -1, values: [] as tf.Tensor[] };
  for (let epoch = 0; epoch < 60 && epoch - best.epoch <= 10; epoch++) {
    const order = train.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let b = 0; b < order.length; b += BATCH) {
      const clips = order.slice(b, b + BATCH).map((i) => train[i]);
      const starts = clips.map((c) => Math.floor(random() * (c.frames - T + 1)));
      const labels = tf.oneHot(
        tf.tensor2d(
          clips.flatMap((c) => new Array<number>(T).fill(c.label)),
          [clips.length, T],
          'int32',
        ),
        K,
      );
      const { x, pre } = tensors(clips, starts, T);
      opt.minimize(
        () => {
          const logits = forward(p, x, pre, mu, sd, 0.3, clips.length, T);
          const ce = tf.losses.softmaxCrossEntropy(labels, logits);
          const l2 = tf.mul(
            0.001,
            tf.addN([tf.sum(tf.square(p.Wx)), tf.sum(tf.square(p.Wy)), ...(RANK > 0 ? [tf.sum(tf.square(p.B))] : [])]),
          );
          return tf.add<tf.Scalar>(ce, l2);
        },
        false,
        trainable,
      );
      tf.dispose([labels, x, pre]);
    }
    const valLoss = lossOf(probsOf(val), val);
    if (valLoss < best.loss) {
      tf.dispose(best.values);
      best = { loss: valLoss, epoch, values: Object.values(p).map((v) => v.clone()) };
    }
  }
  Object.values(p).forEach((v, i) => v.assign(best.values[i]));
  const out = probsOf(test);
  tf.dispose([...best.values, ...Object.values(p), mu, sd]);
  opt.dispose();
  return out;
}

await selectBackend();
const { classes, clips } = await extract();
const K = classes.length;
const usable = clips.filter((c) => c.frames >= 2);
const accs: number[] = [];
for (const seed of a.seeds.split(',').map(Number)) {
  const started = Date.now();
  const foldOf = groupedFolds(
    usable.map((c) => c.group),
    5,
    seed,
  );
  let right = 0;
  for (let fo = 0; fo < 5; fo++) {
    const test = usable.filter((_, i) => foldOf[i] === fo);
    const { train, val } = earlyStoppingSplit(
      usable.filter((_, i) => foldOf[i] !== fo),
      seed + fo,
    );
    const probs = runFold(train, val, test, seed + fo, K);
    probs.forEach((pr, i) => {
      const mean = new Array<number>(K).fill(0);
      for (let j = 0; j < pr.length; j++) mean[j % K] += pr[j];
      if (mean.indexOf(Math.max(...mean)) === test[i].label) right++;
    });
    console.log(`rank ${RANK} seed ${seed} fold ${fo + 1}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  accs.push(right / usable.length);
  console.log(`rank ${RANK} lr ${LR} seed ${seed}: ${(right / usable.length).toFixed(3)}`);
}
const { mean, std } = meanStd(accs);
console.log(`== rank ${RANK} lr ${LR}: ${mean.toFixed(3)} ± ${std.toFixed(3)}`);
