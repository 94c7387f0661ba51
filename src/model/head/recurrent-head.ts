import * as tf from '@tensorflow/tfjs';

/**
 * The recurrent head, the seed's net:
 *   h_t = sigmoid(W_h · [h_{t-1}, x_t] + b_h),   y_t = softmax(W_y · h_t + b_y),  h_0 = 0.
 * It holds weights only; the hidden state belongs to the caller (one per stream), so many
 * cameras can share one loaded head.
 */
export interface RecurrentHead {
  readonly featureSize: number;
  readonly hidden: number;
  readonly numClasses: number;
  /**
   * One step for `batch` independent streams. `x` is `batch * featureSize`, `h` is
   * `batch * hidden` (zeros for a fresh stream). Returns the probabilities and the next state.
   */
  step(x: Float32Array, h: Float32Array, batch?: number): { probs: Float32Array; h: Float32Array };
  /**
   * A whole sequence of `steps` frames for one stream, from state `h0` (default zeros): the
   * input projection runs as one matrix product over all steps, then the recurrence.
   * Same numbers as calling `step` for each frame.
   */
  sequence(x: Float32Array, steps: number, h0?: Float32Array): { probs: Float32Array; h: Float32Array };
  dispose(): void;
}

export interface HeadShape {
  featureSize: number;
  hidden: number;
  numClasses: number;
}

/**
 * The same net as a tfjs layers model, for training and for storage: SimpleRNN computes
 * sigmoid(x·K + h·U + b), i.e. W_h = [U; K] stacked, so the trained weights are the seed's.
 */
export function buildHeadModel(shape: HeadShape, options: { l2?: number; seed?: number; blank?: boolean } = {}): tf.LayersModel {
  const reg = options.l2 ? tf.regularizers.l2({ l2: options.l2 }) : undefined;
  const seed = options.seed ?? 1;
  // `blank`: the caller sets every weight next, so skip the (for large heads slow) orthogonal init.
  const init = (made: ReturnType<typeof tf.initializers.zeros>) => (options.blank ? tf.initializers.zeros() : made);
  const model = tf.sequential();
  model.add(
    tf.layers.simpleRNN({
      name: 'rnn',
      units: shape.hidden,
      activation: 'sigmoid',
      returnSequences: true,
      inputShape: [null, shape.featureSize],
      kernelRegularizer: reg,
      kernelInitializer: init(tf.initializers.glorotUniform({ seed })),
      recurrentInitializer: init(tf.initializers.orthogonal({ seed: seed + 1 })),
    }),
  );
  model.add(
    tf.layers.timeDistributed({
      name: 'out',
      layer: tf.layers.dense({
        units: shape.numClasses,
        activation: 'softmax',
        kernelRegularizer: reg,
        kernelInitializer: init(tf.initializers.glorotUniform({ seed: seed + 2 })),
      }),
    }),
  );
  return model;
}

/**
 * Several trained heads as one: their logits averaged, i.e. softmax(mean_i(W_y,i · h_i + b_y,i)).
 * That is itself the seed's net with the members' hidden units side by side: input kernels
 * concatenated, recurrent kernel block-diagonal (members never see each other's state), output
 * kernels stacked and divided by the member count. So an ensemble needs no new head type, and a
 * stream still costs one step per frame. The members are left as they were; a single member
 * is returned as it is (not a copy).
 */
export function mergeHeads(members: readonly tf.LayersModel[]): tf.LayersModel {
  if (members.length === 1) return members[0];
  const parts = members.map((m) => [...m.getLayer('rnn').getWeights(), ...m.getLayer('out').getWeights()]);
  const [K0, , , Wy0] = parts[0];
  const [featureSize, hidden] = K0.shape as [number, number];
  const numClasses = (Wy0.shape as [number, number])[1];
  const n = members.length;
  const merged = buildHeadModel({ featureSize, hidden: hidden * n, numClasses }, { blank: true });
  const weights = tf.tidy(() => {
    const U = tf.buffer([hidden * n, hidden * n], 'float32');
    parts.forEach(([, Ui], m) => {
      const u = Ui.dataSync();
      for (let i = 0; i < hidden; i++) for (let j = 0; j < hidden; j++) U.set(u[i * hidden + j], m * hidden + i, m * hidden + j);
    });
    return [
      tf.concat(
        parts.map((p) => p[0]),
        1,
      ),
      U.toTensor(),
      tf.concat(
        parts.map((p) => p[2]),
        0,
      ),
      tf
        .concat(
          parts.map((p) => p[3]),
          0,
        )
        .div(n),
      tf.addN(parts.map((p) => p[4])).div(n),
    ];
  });
  merged.getLayer('rnn').setWeights(weights.slice(0, 3));
  merged.getLayer('out').setWeights(weights.slice(3));
  tf.dispose(weights);
  return merged;
}

/** Reads the weights out of a model made by {@link buildHeadModel} (copies; the model may be disposed). */
export function createRecurrentHead(model: tf.LayersModel): RecurrentHead {
  const [K, U, b] = model.getLayer('rnn').getWeights();
  const [Wy, by] = model.getLayer('out').getWeights();
  const [featureSize, hidden] = K.shape as [number, number];
  const numClasses = (Wy.shape as [number, number])[1];
  const Wh = tf.concat([U, K], 0); // [(hidden + featureSize), hidden], rows for [h, x]
  const kept = { K: tf.clone(K), U: tf.clone(U), b: tf.clone(b), Wy: tf.clone(Wy), by: tf.clone(by), Wh };
  const Ud = kept.U.dataSync() as Float32Array;
  const bd = kept.b.dataSync() as Float32Array;

  const readout = (hs: tf.Tensor2D) => tf.softmax(hs.matMul(kept.Wy).add(kept.by));

  return {
    featureSize,
    hidden,
    numClasses,
    step(x, h, batch = 1) {
      return tf.tidy(() => {
        const hx = tf.concat([tf.tensor2d(h, [batch, hidden]), tf.tensor2d(x, [batch, featureSize])], 1);
        const next = tf.sigmoid(hx.matMul(kept.Wh).add(kept.b)) as tf.Tensor2D;
        return { probs: readout(next).dataSync() as Float32Array, h: next.dataSync() as Float32Array };
      });
    },
    sequence(x, steps, h0) {
      const xk = tf.tidy(() => tf.tensor2d(x, [steps, featureSize]).matMul(kept.K).dataSync() as Float32Array);
      const hs = new Float32Array(steps * hidden);
      let prev = h0 ?? new Float32Array(hidden);
      for (let t = 0; t < steps; t++) {
        const row = t * hidden;
        for (let j = 0; j < hidden; j++) {
          let a = xk[row + j] + bd[j];
          for (let i = 0; i < hidden; i++) a += prev[i] * Ud[i * hidden + j];
          hs[row + j] = 1 / (1 + Math.exp(-a));
        }
        prev = hs.subarray(row, row + hidden);
      }
      const probs = tf.tidy(() => readout(tf.tensor2d(hs, [steps, hidden])).dataSync() as Float32Array);
      return { probs, h: Float32Array.from(prev) };
    },
    dispose() {
      for (const t of Object.values(kept)) t.dispose();
    },
  };
}
