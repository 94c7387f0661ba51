import * as tf from '@tensorflow/tfjs';
import { vigilError } from '../errors.js';
import { selectBackend } from '../model/runtime/backend.js';
import { buildHeadModel, createRecurrentHead, mergeHeads } from '../model/head/recurrent-head.js';
import { createRandom, shuffle } from './random.js';

/** One training sequence: a clip's features and a class index per frame. */
export interface Sequence {
  features: Float32Array;
  dim: number;
  /** Class index per frame; -1 (`UNLABELLED`, a frame in no span) takes no part in the loss. */
  labels: Int32Array;
}

export interface FitOptions {
  numClasses: number;
  /** [hidden=16] recurrent units. */
  hidden?: number;
  /** [window=12] frames per training window (random crop of each clip, every epoch). */
  window?: number;
  /** [epochs=60] upper bound; early stopping usually ends sooner. */
  epochs?: number;
  /** [patience=10] epochs without a better validation loss before stopping. */
  patience?: number;
  /** [batchSize=16] */
  batchSize?: number;
  /** [learningRate=0.0005] Adam. */
  learningRate?: number;
  /** [l2=0.001] weight decay on the input and output kernels. */
  l2?: number;
  /** [featureDropout=0.3] fraction of feature entries zeroed per training window. */
  featureDropout?: number;
  /** [seed=1] */
  seed?: number;
  /**
   * [ensemble=1] heads trained from different seeds (each with its own early stopping) and
   * merged into one ({@link mergeHeads}): `hidden` each, `hidden * ensemble` in the shipped head.
   */
  ensemble?: number;
  /**
   * Start from this head (as shipped: standardisation folded in, see {@link foldStandardiser})
   * instead of a random one: fine-tuning, as camera adaptation does. Its shape wins over
   * `hidden`; `ensemble` must be 1. Training runs in the standardised space of *this* training
   * set, so the head is unfolded into it first (an exact re-parameterisation).
   */
  init?: tf.LayersModel;
  /**
   * [anchor=0] with `init`: after every batch each weight moves this fraction of the way back to
   * its starting value (decoupled L2-SP), so a few new clips adjust the head without it
   * forgetting what its base knew. `l2` (towards zero) is best 0 then.
   */
  anchor?: number;
  /** After each epoch: training loss, and on the validation clips the loss, clip and frame accuracy. */
  onEpoch?: (e: {
    epoch: number;
    loss: number;
    valLoss: number | null;
    valAccuracy: number | null;
    valFrameAccuracy?: number | null;
  }) => void;
}

export interface FitResult {
  /** The best epoch's head, with feature standardisation folded into its input kernel. */
  model: tf.LayersModel;
  /** Epochs run and the best one; for an ensemble, the members' rounded means. */
  epochs: number;
  bestEpoch: number;
  /** For an ensemble, the merged head's. */
  valLoss: number | null;
}

/** Seeds of ensemble members lie this far apart, clear of the CV folds' consecutive seeds. */
const MEMBER_SEED_STRIDE = 1000;

interface Standardiser {
  mean: Float32Array;
  std: Float32Array;
}

function standardiser(seqs: Sequence[], dim: number): Standardiser {
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  let n = 0;
  for (const s of seqs) {
    for (let r = 0; r < s.labels.length; r++) {
      for (let d = 0; d < dim; d++) {
        const v = s.features[r * dim + d];
        mean[d] += v;
        sq[d] += v * v;
      }
      n++;
    }
  }
  const m = new Float32Array(dim);
  const sd = new Float32Array(dim);
  for (let d = 0; d < dim; d++) {
    m[d] = mean[d] / n;
    // Dead ReLU channels have no spread; a floor keeps them from blowing up.
    sd[d] = Math.max(Math.sqrt(Math.max(sq[d] / n - m[d] * m[d], 0)), 1e-2);
  }
  return { mean: m, std: sd };
}

/**
 * Folds x' = (x - mean) / std into the first layer: K' = K / std (per input row),
 * b' = b - (mean / std)·K. The shipped head then takes raw CNN features and stays exactly
 * h_t = sigmoid(W_h·[h_{t-1}, x_t] + b_h).
 */
function foldStandardiser(model: tf.LayersModel, s: Standardiser): void {
  const rnn = model.getLayer('rnn');
  const [K, U, b] = rnn.getWeights();
  const folded = tf.tidy(() => {
    const inv = tf.tensor1d(s.std).reciprocal();
    const K2 = K.mul(inv.expandDims(1));
    const b2 = b.sub(tf.tensor1d(s.mean).mul(inv).expandDims(0).matMul(K).squeeze());
    return [K2, U.clone(), b2];
  });
  rnn.setWeights(folded);
  tf.dispose(folded);
}

/**
 * The inverse of {@link foldStandardiser}: a shipped head that takes raw features, rewritten
 * to take features standardised by `s` and compute the same: K_s = K · std (per input row),
 * b_s = b + mean·K.
 */
function unfoldStandardiser(shipped: tf.LayersModel, s: Standardiser): tf.Tensor[] {
  const [K, U, b] = shipped.getLayer('rnn').getWeights();
  const out = shipped.getLayer('out').getWeights();
  return tf.tidy(() => {
    const std = tf.tensor1d(s.std).expandDims(1);
    const b2 = b.add(tf.tensor1d(s.mean).expandDims(0).matMul(K).squeeze());
    return [K.mul(std), U.clone(), b2, ...out.map((w) => w.clone())];
  });
}

/** Moves every weight of `model` the fraction `a` of the way back to `start` (same order as getWeights). */
function pullTowards(model: tf.LayersModel, start: readonly tf.Tensor[], a: number): void {
  const now = model.getWeights();
  const moved = tf.tidy(() => now.map((w, i) => w.sub(w.sub(start[i]).mul(a))));
  model.setWeights(moved);
  tf.dispose(moved);
}

function meanLossAndAccuracy(model: tf.LayersModel, seqs: Sequence[], s: Standardiser, k: number) {
  const head = createRecurrentHead(model);
  try {
    let loss = 0;
    let frames = 0;
    let correct = 0;
    let clips = 0;
    let framesCorrect = 0;
    for (const q of seqs) {
      const steps = q.labels.length;
      const x = new Float32Array(q.features.length);
      for (let i = 0; i < x.length; i++) x[i] = (q.features[i] - s.mean[i % q.dim]) / s.std[i % q.dim];
      const { probs } = head.sequence(x, steps);
      const votes = new Float64Array(k);
      let labelled = 0;
      for (let t = 0; t < steps; t++) {
        for (let c = 0; c < k; c++) votes[c] += probs[t * k + c];
        const l = q.labels[t];
        if (l < 0) continue;
        loss -= Math.log(Math.max(probs[t * k + l], 1e-7));
        labelled++;
        let best = 0;
        for (let c = 1; c < k; c++) if (probs[t * k + c] > probs[t * k + best]) best = c;
        if (best === l) framesCorrect++;
      }
      frames += labelled;
      if (labelled === 0) continue;
      // Clip-level accuracy against the majority frame label: the figure clip datasets report.
      const truth = majority(q.labels, k);
      if (votes.indexOf(Math.max(...votes)) === truth) correct++;
      clips++;
    }
    return { loss: loss / frames, accuracy: correct / clips, frameAccuracy: framesCorrect / frames, frames };
  } finally {
    head.dispose();
  }
}

function majority(labels: Int32Array, k: number): number {
  const n = new Array<number>(k).fill(0);
  for (const l of labels) if (l >= 0) n[l]++;
  return n.indexOf(Math.max(...n));
}

/**
 * Trains the sigmoid RNN head on cached features with per-frame cross-entropy, on random
 * windows of each clip, and keeps the epoch with the lowest validation loss; with `ensemble`,
 * several such heads merged into one.
 * Deterministic for a seed: batches, crops and dropout come from the seeded generator.
 */
export async function fitHead(train: Sequence[], val: Sequence[], options: FitOptions): Promise<FitResult> {
  await selectBackend();
  const { ensemble = 1, seed = 1 } = options;
  if (!Number.isInteger(ensemble) || ensemble < 1)
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `ensemble must be a whole number >= 1, got ${ensemble}`);
  if (options.init !== undefined && ensemble !== 1)
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'fine-tuning from an initial head takes ensemble 1');
  if (ensemble === 1) return fitOne(train, val, options);
  const fits: FitResult[] = [];
  for (let m = 0; m < ensemble; m++) fits.push(await fitOne(train, val, { ...options, seed: seed + m * MEMBER_SEED_STRIDE }));
  const model = mergeHeads(fits.map((f) => f.model));
  for (const f of fits) f.model.dispose();
  const mean = (pick: (f: FitResult) => number) => Math.round(fits.reduce((a, f) => a + pick(f), 0) / fits.length);
  const identity = { mean: new Float32Array(train[0].dim), std: new Float32Array(train[0].dim).fill(1) };
  const merged = val.length > 0 ? meanLossAndAccuracy(model, val, identity, options.numClasses) : null;
  return {
    model,
    epochs: mean((f) => f.epochs),
    bestEpoch: mean((f) => f.bestEpoch),
    valLoss: merged !== null && merged.frames > 0 ? merged.loss : null,
  };
}

async function fitOne(train: Sequence[], val: Sequence[], options: FitOptions): Promise<FitResult> {
  const o = {
    hidden: 16,
    window: 12,
    epochs: 60,
    patience: 10,
    batchSize: 16,
    learningRate: 0.0005,
    l2: 0.001,
    featureDropout: 0.3,
    seed: 1,
    ...options,
  };
  const dim = train[0].dim;
  const k = o.numClasses;
  const std = standardiser(train, dim);
  const random = createRandom(o.seed);
  const hidden = o.init ? o.init.getLayer('rnn').getWeights()[1].shape[0] : o.hidden;
  const model = buildHeadModel({ featureSize: dim, hidden, numClasses: k }, { l2: o.l2, seed: o.seed, blank: o.init !== undefined });
  // With an initial head: its weights in this training set's standardised space, kept as the anchor.
  const start = o.init ? unfoldStandardiser(o.init, std) : undefined;
  if (start) {
    model.getLayer('rnn').setWeights(start.slice(0, 3));
    model.getLayer('out').setWeights(start.slice(3));
  }
  const anchor = start ? (o.anchor ?? 0) : 0;
  model.compile({ optimizer: tf.train.adam(o.learningRate), loss: 'categoricalCrossentropy' });

  const T = Math.min(o.window, ...train.map((s) => s.labels.length));
  let best: { loss: number; weights: tf.Tensor[]; epoch: number } | undefined;
  // Fine-tuning: the starting head competes as "epoch -1", so training that only makes the
  // validation loss worse gives the initial head back.
  if (start && val.length > 0) {
    const v = meanLossAndAccuracy(model, val, std, k);
    if (v.frames > 0) best = { loss: v.loss, weights: model.getWeights().map((w) => w.clone()), epoch: -1 };
  }
  let epoch = 0;
  let since = 0;
  let validated = false;
  for (; epoch < o.epochs && since < o.patience; epoch++) {
    const order = shuffle(
      train.map((_, i) => i),
      random,
    );
    let sum = 0;
    let batches = 0;
    for (let at = 0; at < order.length; at += o.batchSize) {
      const idx = order.slice(at, at + o.batchSize);
      const xs = new Float32Array(idx.length * T * dim);
      const ys = new Float32Array(idx.length * T * k);
      idx.forEach((clip, b) => {
        const s = train[clip];
        const start = Math.floor(random() * (s.labels.length - T + 1));
        for (let t = 0; t < T; t++) {
          const src = (start + t) * dim;
          const dst = (b * T + t) * dim;
          for (let d = 0; d < dim; d++) {
            xs[dst + d] = random() < o.featureDropout ? 0 : (s.features[src + d] - std.mean[d]) / std.std[d];
          }
          // An unlabelled frame keeps an all-zero target: zero cross-entropy, no gradient.
          if (s.labels[start + t] >= 0) ys[(b * T + t) * k + s.labels[start + t]] = 1;
        }
      });
      const x = tf.tensor3d(xs, [idx.length, T, dim]);
      const y = tf.tensor3d(ys, [idx.length, T, k]);
      const loss = (await model.trainOnBatch(x, y)) as number;
      tf.dispose([x, y]);
      if (anchor > 0) pullTowards(model, start!, anchor);
      sum += loss;
      batches++;
    }
    const lastLoss = sum / batches;
    const measured = val.length > 0 ? meanLossAndAccuracy(model, val, std, k) : null;
    const v = measured !== null && measured.frames > 0 ? measured : null;
    validated = v !== null;
    o.onEpoch?.({
      epoch,
      loss: lastLoss,
      valLoss: v?.loss ?? null,
      valAccuracy: v?.accuracy ?? null,
      valFrameAccuracy: v?.frameAccuracy ?? null,
    });
    const score = v?.loss ?? lastLoss;
    if (best === undefined || score < best.loss - 1e-4) {
      tf.dispose(best?.weights);
      best = { loss: score, weights: model.getWeights().map((w) => w.clone()), epoch };
      since = 0;
    } else {
      since++;
    }
  }
  model.setWeights(best!.weights);
  tf.dispose(best!.weights);
  foldStandardiser(model, std);
  tf.dispose(start);
  return { model, epochs: epoch, bestEpoch: best!.epoch, valLoss: validated ? best!.loss : null };
}
