// Research probe: the seed's sigmoid RNN run at every position of the 7x7 map (weights shared
// across positions: a ConvLSTM-like head with 1x1 kernels and sigmoid units), over a trained
// 1x1 projection of the MobileNetV2 features, pooled (max and mean over positions) before the
// softmax. Grouped 5-fold CV on the fight clips, the product's folds and early-stopping split.
// Trained with a hand-written loop on the wasm backend (dense and RNN gradients only).
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/runtime/backend.js';
import { createRandom, shuffle } from '../../src/train/random.js';
import { earlyStoppingSplit, groupedFolds } from '../../src/train/split.js';
import { loadMaps, type ClipMaps } from './maps.js';

const { values: a } = parseArgs({
  options: {
    layer: { type: 'string', default: 'out_relu' },
    proj: { type: 'string', default: '16' },
    hidden: { type: 'string', default: '8' },
    lr: { type: 'string', default: '0.001' },
    epochs: { type: 'string', default: '40' },
    seeds: { type: 'string', default: '1' },
  },
});
const D = Number(a.proj);
const H = Number(a.hidden);
const WINDOW = 12;
const BATCH = 16;
const PATIENCE = 8;
const DROPOUT = 0.3;

await selectBackend();
const { classes, clips } = await loadMaps({ layer: a.layer, input: 'framediff', gain: 1, fps: 8 });
const P = clips[0].positions;
const C = clips[0].channels;
const K = classes.length;

/** Probabilities per frame, [B, T, K], for B windows of T frames ([B, T, P*C] standardised features). */
function forward(v: tf.Variable[], x: tf.Tensor3D, B: number, T: number): tf.Tensor3D {
  const [Wp, bp, Wx, Wh, bh, Wy, by] = v;
  const z = tf
    .relu(
      x
        .reshape([B * T * P, C])
        .matMul(Wp)
        .add(bp),
    )
    .reshape([B, T, P * D]);
  let h: tf.Tensor = tf.zeros([B * P, H]);
  const out: tf.Tensor[] = [];
  for (const zt of tf.unstack(z, 1)) {
    h = tf.sigmoid(
      zt
        .reshape([B * P, D])
        .matMul(Wx)
        .add(h.matMul(Wh))
        .add(bh),
    );
    const hp = h.reshape([B, P, H]);
    out.push(
      tf.softmax(
        tf
          .concat([hp.max(1), hp.mean(1)], 1)
          .matMul(Wy)
          .add(by),
      ),
    );
  }
  return tf.stack(out, 1) as tf.Tensor3D;
}

function standardiser(train: readonly ClipMaps[]): { mean: Float32Array; std: Float32Array } {
  const sum = new Float64Array(C);
  const sq = new Float64Array(C);
  let n = 0;
  for (const m of train) {
    for (let r = 0; r < m.frames * P; r++, n++) {
      for (let c = 0; c < C; c++) {
        const x = m.data[r * C + c];
        sum[c] += x;
        sq[c] += x * x;
      }
    }
  }
  const mean = new Float32Array(C);
  const std = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    mean[c] = sum[c] / n;
    std[c] = Math.max(Math.sqrt(Math.max(sq[c] / n - mean[c] * mean[c], 0)), 1e-2);
  }
  return { mean, std };
}

function fold(train: ClipMaps[], val: ClipMaps[], test: ClipMaps[], seed: number): number {
  const s = standardiser(train);
  const random = createRandom(seed);
  const glorot = (shape: [number, number]) =>
    tf.variable(tf.randomUniform(shape, -Math.sqrt(6 / (shape[0] + shape[1])), Math.sqrt(6 / (shape[0] + shape[1])), 'float32', seed));
  // In a tidy: the initial values are copied into the variables and freed.
  const v = tf.tidy(() => [
    glorot([C, D]),
    tf.variable(tf.zeros([D])),
    glorot([D, H]),
    glorot([H, H]),
    tf.variable(tf.zeros([H])),
    glorot([2 * H, K]),
    tf.variable(tf.zeros([K])),
  ]);
  const optimizer = tf.train.adam(Number(a.lr));
  const window = (m: ClipMaps, start: number, T: number, drop: boolean) => {
    const out = new Float32Array(T * P * C);
    for (let i = 0; i < out.length; i++) {
      const c = i % C;
      out[i] = drop && random() < DROPOUT ? 0 : (m.data[start * P * C + i] - s.mean[c]) / s.std[c];
    }
    return out;
  };
  const clipProbs = (m: ClipMaps) =>
    tf.tidy(() =>
      forward(v, tf.tensor3d(window(m, 0, m.frames, false), [1, m.frames, P * C]), 1, m.frames)
        .mean([0, 1])
        .dataSync(),
    );
  let best = { loss: Infinity, weights: [] as tf.Tensor[], epoch: 0 };
  for (let epoch = 0, since = 0; epoch < Number(a.epochs) && since < PATIENCE; epoch++) {
    const order = shuffle(
      train.map((_, i) => i),
      random,
    );
    for (let at = 0; at < order.length; at += BATCH) {
      const idx = order.slice(at, at + BATCH);
      const xs = new Float32Array(idx.length * WINDOW * P * C);
      const ys = new Float32Array(idx.length * WINDOW * K);
      idx.forEach((i, b) => {
        const m = train[i];
        const T = Math.min(WINDOW, m.frames);
        xs.set(window(m, Math.floor(random() * (m.frames - T + 1)), T, true), b * WINDOW * P * C);
        for (let t = 0; t < T; t++) ys[(b * WINDOW + t) * K + m.label] = 1;
      });
      const x = tf.tensor3d(xs, [idx.length, WINDOW, P * C]);
      const y = tf.tensor3d(ys, [idx.length, WINDOW, K]);
      optimizer.minimize(
        () => tf.neg(tf.sum(y.mul(tf.log(forward(v, x, idx.length, WINDOW).add(1e-7))))).div<tf.Scalar>(idx.length * WINDOW),
        false,
        v,
      );
      tf.dispose([x, y]);
    }
    const loss = val.reduce((l, m) => l - Math.log(Math.max(clipProbs(m)[m.label], 1e-7)), 0) / val.length;
    if (loss < best.loss - 1e-4) {
      tf.dispose(best.weights);
      best = { loss, weights: v.map((w) => w.clone()), epoch };
      since = 0;
    } else {
      since++;
    }
  }
  v.forEach((w, i) => w.assign(best.weights[i]));
  const correct = test.filter((m) => {
    const p = clipProbs(m);
    return p.indexOf(Math.max(...p)) === m.label;
  }).length;
  tf.dispose([...v, ...best.weights]);
  optimizer.dispose();
  return correct;
}

for (const seed of a.seeds.split(',').map(Number)) {
  const foldOf = groupedFolds(
    clips.map((m) => m.group),
    5,
    seed,
  );
  let correct = 0;
  for (let f = 0; f < 5; f++) {
    const test = clips.filter((_, i) => foldOf[i] === f);
    const { train, val } = earlyStoppingSplit(
      clips.filter((_, i) => foldOf[i] !== f),
      seed + f,
    );
    const c = fold(train, val, test, seed + f);
    correct += c;
    console.log(`seed ${seed} fold ${f + 1}: ${c}/${test.length} (${tf.memory().numTensors} tensors live)`);
  }
  console.log(`== grid RNN ${JSON.stringify(a)} seed ${seed}: ${(correct / clips.length).toFixed(3)}`);
}
