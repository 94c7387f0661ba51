import type * as tf from '@tensorflow/tfjs';
import { CONVERTER_VERSION, declareOutput, emitLayersModel } from './convert.js';
import { unsupported } from './layers.js';
import { attr, createGraphBuilder, type GraphBuilder } from './proto.js';

/** The recurrent head's weights as plain arrays (see `buildHeadModel` for the layout). */
export interface HeadWeights {
  readonly featureSize: number;
  readonly hidden: number;
  readonly numClasses: number;
  /** Input kernel [featureSize, hidden]. */
  readonly K: Float32Array;
  /** Recurrent kernel [hidden, hidden]. */
  readonly U: Float32Array;
  readonly b: Float32Array;
  /** Readout [hidden, numClasses]. */
  readonly Wy: Float32Array;
  readonly by: Float32Array;
}

/** Names of the graphs' inputs and outputs: the ORT engine feeds and reads these. */
export const ONNX_IO = Object.freeze({
  pixels: 'pixels',
  features: 'features',
  /** MoveNet's output: [1, 1, 17, 3], (y, x, score) per keypoint. */
  keypoints: 'keypoints',
  x: 'x',
  h: 'h',
  probs: 'probs',
  hNext: 'h_next',
});

const copy = (t: tf.Tensor) => Float32Array.from(t.dataSync() as Float32Array);

/**
 * Reads a head made by `buildHeadModel` (layers `rnn`: SimpleRNN with sigmoid, `out`:
 * TimeDistributed Dense with softmax). Copies; nothing stays tied to tfjs.
 * @throws VIGIL_ERR_ONNX_UNSUPPORTED when the layers are not that net.
 */
export function headWeights(model: tf.LayersModel): HeadWeights {
  const rnn = model.getLayer('rnn');
  const out = model.getLayer('out');
  const rc = rnn.getConfig() as { activation?: string; useBias?: boolean };
  if (rnn.getClassName() !== 'SimpleRNN' || rc.activation !== 'sigmoid' || rc.useBias === false) {
    throw unsupported(rnn, 'the head must be a SimpleRNN with sigmoid activation and a bias');
  }
  const oc = (out.getConfig() as { layer?: { className?: string; config?: { activation?: string; useBias?: boolean } } }).layer;
  if (
    out.getClassName() !== 'TimeDistributed' ||
    oc?.className !== 'Dense' ||
    oc.config?.activation !== 'softmax' ||
    oc.config.useBias === false
  ) {
    throw unsupported(out, 'the readout must be a TimeDistributed Dense with softmax and a bias');
  }
  const [K, U, b] = rnn.getWeights();
  const [Wy, by] = out.getWeights();
  const [featureSize, hidden] = K.shape as [number, number];
  return { featureSize, hidden, numClasses: Wy.shape[1] as number, K: copy(K), U: copy(U), b: copy(b), Wy: copy(Wy), by: copy(by) };
}

/**
 * One recurrent step: `h_next = sigmoid([h, x] · [U; K] + b)`, `probs = softmax(h_next · Wy + by)`.
 * @returns the names of the probability and next-state values.
 */
export function emitHeadStep(g: GraphBuilder, w: HeadWeights, x: string, h: string): { probs: string; hNext: string } {
  const { featureSize: D, hidden: H, numClasses: C } = w;
  const Wh = new Float32Array((H + D) * H);
  Wh.set(w.U, 0);
  Wh.set(w.K, H * H);
  const hx = g.fresh('hx');
  g.node('Concat', [h, x], [hx], [attr.int('axis', 1)]);
  const pre = g.fresh('h_pre');
  const pre2 = g.fresh('h_pre_b');
  const hNext = g.fresh('h_sigmoid');
  g.node('MatMul', [hx, g.weight('W_h', [H + D, H], Wh)], [pre]);
  g.node('Add', [pre, g.weight('b_h', [H], w.b)], [pre2]);
  g.node('Sigmoid', [pre2], [hNext]);
  const logits = g.fresh('logits');
  const logits2 = g.fresh('logits_b');
  const probs = g.fresh('softmax');
  g.node('MatMul', [hNext, g.weight('W_y', [H, C], w.Wy)], [logits]);
  g.node('Add', [logits, g.weight('b_y', [C], w.by)], [logits2]);
  g.node('Softmax', [logits2], [probs], [attr.int('axis', -1)]);
  return { probs, hNext };
}

/**
 * The head's step as its own graph, the state passed in and out:
 * `x [B, D]`, `h [B, H]` → `probs [B, C]`, `h_next [B, H]`.
 */
export function headStepModel(w: HeadWeights): Uint8Array {
  const g = createGraphBuilder('vigil_head_step', CONVERTER_VERSION);
  g.input(ONNX_IO.x, ['batch', w.featureSize]);
  g.input(ONNX_IO.h, ['batch', w.hidden]);
  g.reserve(ONNX_IO.probs, ONNX_IO.hNext);
  const out = emitHeadStep(g, w, ONNX_IO.x, ONNX_IO.h);
  declareOutput(g, { name: out.probs, layout: 'keras', shape: [w.numClasses] }, ONNX_IO.probs);
  declareOutput(g, { name: out.hNext, layout: 'keras', shape: [w.hidden] }, ONNX_IO.hNext);
  return g.encode('vigil recurrent head, one step');
}

/**
 * The head over a whole sequence with ONNX's RNN operator (which projects every step's
 * input in one product before the recurrence): `x [T, B, D]`, `h [B, H]` →
 * `probs [T, B, C]`, `h_next [B, H]` (the state after the last step).
 */
export function headSequenceModel(w: HeadWeights): Uint8Array {
  const { featureSize: D, hidden: H, numClasses: C } = w;
  const g = createGraphBuilder('vigil_head_sequence', CONVERTER_VERSION);
  g.input(ONNX_IO.x, ['steps', 'batch', D]);
  g.input(ONNX_IO.h, ['batch', H]);
  g.reserve(ONNX_IO.probs, ONNX_IO.hNext);
  // ONNX RNN computes X·Wᵀ + H·Rᵀ + Wb + Rb: W = Kᵀ [1, H, D], R = Uᵀ [1, H, H].
  const Wt = new Float32Array(H * D);
  for (let d = 0; d < D; d++) for (let j = 0; j < H; j++) Wt[j * D + d] = w.K[d * H + j];
  const Rt = new Float32Array(H * H);
  for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) Rt[j * H + i] = w.U[i * H + j];
  const B = new Float32Array(2 * H);
  B.set(w.b, 0);
  const h0 = g.fresh('h0');
  g.node('Unsqueeze', [ONNX_IO.h, g.int64s('axis0', [0])], [h0]);
  const Y = g.fresh('Y');
  const Yh = g.fresh('Y_h');
  g.node(
    'RNN',
    [ONNX_IO.x, g.weight('W', [1, H, D], Wt), g.weight('R', [1, H, H], Rt), g.weight('B', [1, 2 * H], B), '', h0],
    [Y, Yh],
    [attr.int('hidden_size', H), attr.strings('activations', ['Sigmoid'])],
  );
  const hs = g.fresh('hs');
  g.node('Squeeze', [Y, g.int64s('axis1', [1])], [hs]);
  const hLast = g.fresh('h_last');
  g.node('Squeeze', [Yh, g.int64s('axis0b', [0])], [hLast]);
  const logits = g.fresh('logits');
  const logits2 = g.fresh('logits_b');
  g.node('MatMul', [hs, g.weight('W_y', [H, C], w.Wy)], [logits]);
  g.node('Add', [logits, g.weight('b_y', [C], w.by)], [logits2]);
  g.node('Softmax', [logits2], [ONNX_IO.probs], [attr.int('axis', -1)]);
  g.output(ONNX_IO.probs, ['steps', 'batch', C]);
  declareOutput(g, { name: hLast, layout: 'keras', shape: [H] }, ONNX_IO.hNext);
  return g.encode('vigil recurrent head over a sequence');
}

/**
 * CNN and head step in one graph, so a live frame costs one run and frames of several
 * streams share it, each row with its own state:
 * `pixels [B, S, S, 3]` (NHWC, scaled as the CNN wants), `h [B, H]` →
 * `probs [B, C]`, `h_next [B, H]`, `features [B, D]`.
 */
export function liveModel(cnn: tf.LayersModel, w: HeadWeights): Uint8Array {
  const g = createGraphBuilder('vigil_live_step', CONVERTER_VERSION);
  const [, s1, s2, ch] = cnn.inputs[0].shape;
  g.input(ONNX_IO.pixels, ['batch', s1 ?? 'height', s2 ?? 'width', ch ?? 'channels']);
  g.input(ONNX_IO.h, ['batch', w.hidden]);
  g.reserve(ONNX_IO.probs, ONNX_IO.hNext, ONNX_IO.features);
  const [features] = emitLayersModel(g, cnn, [ONNX_IO.pixels]);
  const out = emitHeadStep(g, w, features.name, ONNX_IO.h);
  declareOutput(g, { name: out.probs, layout: 'keras', shape: [w.numClasses] }, ONNX_IO.probs);
  declareOutput(g, { name: out.hNext, layout: 'keras', shape: [w.hidden] }, ONNX_IO.hNext);
  declareOutput(g, features, ONNX_IO.features);
  return g.encode('vigil CNN + recurrent head step');
}
