import type * as tf from '@tensorflow/tfjs';
import { vigilError, type VigilError } from '../../../errors.js';
import { attr, type GraphBuilder } from './proto.js';

/**
 * How a value is stored in the ONNX graph. Keras images are NHWC; ONNX convolutions are
 * NCHW, so 4-D values live as NCHW inside the graph (`nchw`) and every other rank keeps
 * its Keras layout (`keras`).
 */
export type Layout = 'nchw' | 'keras';

export interface OnnxValue {
  readonly name: string;
  readonly layout: Layout;
  /** Keras shape without the batch axis (channels last), e.g. [112, 112, 32]. */
  readonly shape: readonly (number | null)[];
  /** A ZeroPadding2D not emitted yet, [top, left, bottom, right]: a convolution absorbs it. */
  readonly pads?: readonly [number, number, number, number];
}

export interface LayerContext {
  readonly g: GraphBuilder;
  readonly layer: tf.layers.Layer;
  /** The layer's inputs; may carry pending `pads` (see {@link LayerContext.plain}). */
  readonly inputs: readonly OnnxValue[];
  /** Keras shape of the output without the batch axis. */
  readonly outShape: readonly (number | null)[];
  /** The BatchNormalization right after this convolution, to fold into its weights. */
  readonly foldBn?: tf.layers.Layer;
  /** True for a BatchNormalization already folded into the convolution before it. */
  readonly folded: boolean;
  /** The value with any pending padding emitted as a Pad node. */
  plain(v: OnnxValue): OnnxValue;
}

export type LayerEmitter = (ctx: LayerContext) => OnnxValue;

/** Config keys as tfjs' `getConfig()` spells them. */
interface LayerConfig {
  kernelSize?: number[];
  strides?: number[];
  padding?: string | number[][];
  dataFormat?: string;
  dilationRate?: number[] | number;
  activation?: string;
  useBias?: boolean;
  depthMultiplier?: number;
  poolSize?: number[];
  axis?: number | number[];
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
  maxValue?: number | null;
  alpha?: number;
}

export function unsupported(layer: tf.layers.Layer, detail: string): VigilError {
  return vigilError('VIGIL_ERR_ONNX_UNSUPPORTED', `layer "${layer.name}" (class ${layer.getClassName()}): ${detail}`);
}

function config(layer: tf.layers.Layer): LayerConfig {
  const c = layer.getConfig() as LayerConfig;
  if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast')
    throw unsupported(layer, `dataFormat ${c.dataFormat}; only channelsLast`);
  return c;
}

/** A layer's weights by their short name (`kernel`, `bias`, `gamma`, ...), as float32 copies. */
function weights(layer: tf.layers.Layer): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const v of layer.weights) {
    const t = v.read();
    // dataSync() reads the variable itself (no new tensor); copy so nothing aliases tfjs memory.
    out.set(v.originalName.split('/').at(-1)!, { shape: t.shape.slice(), data: Float32Array.from(t.dataSync() as Float32Array) });
  }
  return out;
}

function need<T>(layer: tf.layers.Layer, m: Map<string, T>, key: string): T {
  const v = m.get(key);
  if (v === undefined) throw unsupported(layer, `no "${key}" weight (has ${[...m.keys()].join(', ') || 'none'})`);
  return v;
}

function pair(layer: tf.layers.Layer, v: number[] | number | undefined, name: string, fallback: number): [number, number] {
  if (v === undefined) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  if (v.length !== 2) throw unsupported(layer, `${name} ${JSON.stringify(v)}`);
  return [v[0], v[1]];
}

/**
 * TensorFlow's SAME padding for one spatial axis: the total split with the odd pixel at the
 * end, which is what makes a stride-2 SAME conv line up with TF's output.
 */
export function samePads(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Explicit [top, left, bottom, right] pads for `padding`, or undefined when sizes are unknown. */
function spatialPads(
  layer: tf.layers.Layer,
  padding: string | number[][] | undefined,
  input: OnnxValue,
  kernel: [number, number],
  strides: [number, number],
  dilation: [number, number],
): [number, number, number, number] | undefined {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw unsupported(layer, `padding ${JSON.stringify(padding)}`);
  const [h, w] = input.shape;
  if (h === null || w === null) return undefined;
  const [top, bottom] = samePads(h, kernel[0], strides[0], dilation[0]);
  const [left, right] = samePads(w, kernel[1], strides[1], dilation[1]);
  return [top, left, bottom, right];
}

function needNchw(ctx: LayerContext, v: OnnxValue): void {
  if (v.layout !== 'nchw') throw unsupported(ctx.layer, `input of rank ${v.shape.length + 1}; needs an image batch (rank 4)`);
}

/** Emits `activation` on `v` (nothing for linear). Names are tfjs' (camelCase) or Keras'. */
export function emitActivation(
  ctx: Pick<LayerContext, 'g' | 'layer'>,
  v: OnnxValue,
  activation: string | undefined,
  stem: string,
): OnnxValue {
  const { g } = ctx;
  const to = (op: string, attributes: ReturnType<typeof attr.int>[] = [], extra: string[] = []): OnnxValue => {
    const out = g.fresh(stem);
    g.node(op, [v.name, ...extra], [out], attributes);
    return { name: out, layout: v.layout, shape: v.shape };
  };
  switch (activation ?? 'linear') {
    case 'linear':
      return v;
    case 'relu':
      return to('Relu');
    case 'relu6':
      return to('Clip', [], [g.weight(`${stem}_min`, [], new Float32Array([0])), g.weight(`${stem}_max`, [], new Float32Array([6]))]);
    case 'sigmoid':
      return to('Sigmoid');
    case 'tanh':
      return to('Tanh');
    case 'softmax':
      // Keras normalises the last (channel) axis, which is axis 1 once images are NCHW.
      return to('Softmax', [attr.int('axis', v.layout === 'nchw' ? 1 : -1)]);
    case 'elu':
      return to('Elu', [attr.float('alpha', 1)]);
    case 'softplus':
      return to('Softplus');
    case 'softsign':
      return to('Softsign');
    case 'hardSigmoid':
    case 'hard_sigmoid':
      return to('HardSigmoid', [attr.float('alpha', 0.2), attr.float('beta', 0.5)]);
    default:
      throw unsupported(ctx.layer, `activation ${activation}`);
  }
}

/** Per-output-channel scale and shift of an inference-mode BatchNormalization, in float64. */
function batchNormAffine(layer: tf.layers.Layer): { scale: Float64Array; shift: Float64Array } {
  const c = config(layer);
  const axis = Array.isArray(c.axis) ? c.axis : [c.axis ?? -1];
  const rank = (layer.inboundNodes[0].inputTensors[0].shape as unknown[]).length;
  if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== rank - 1))
    throw unsupported(layer, `axis ${JSON.stringify(c.axis)}; only the last axis`);
  const w = weights(layer);
  const mean = need(layer, w, 'moving_mean').data;
  const variance = need(layer, w, 'moving_variance').data;
  const gamma = c.scale === false ? undefined : need(layer, w, 'gamma').data;
  const beta = c.center === false ? undefined : need(layer, w, 'beta').data;
  const eps = c.epsilon ?? 1e-3;
  const scale = new Float64Array(mean.length);
  const shift = new Float64Array(mean.length);
  for (let i = 0; i < mean.length; i++) {
    scale[i] = (gamma?.[i] ?? 1) / Math.sqrt(variance[i] + eps);
    shift[i] = (beta?.[i] ?? 0) - mean[i] * scale[i];
  }
  return { scale, shift };
}

/**
 * A TensorFlow / Keras convolution kernel `[kh, kw, cin, cout | multiplier]` as ONNX wants it,
 * `[cout, cin / group, kh, kw]`. Depthwise output channel c * multiplier + m reads input
 * channel c, the grouping ONNX uses too.
 * @returns the permuted copy, the output channels and the weights per output channel.
 */
export function onnxKernel(
  shape: readonly number[],
  data: Float32Array,
  depthwise: boolean,
): { W: Float32Array; cout: number; perOut: number } {
  const [kh, kw, cin, last] = shape;
  const cout = depthwise ? cin * last : last;
  const W = new Float32Array(data.length);
  const perOut = depthwise ? kh * kw : cin * kh * kw;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let ci = 0; ci < cin; ci++) {
        for (let m = 0; m < last; m++) {
          const src = ((i * kw + j) * cin + ci) * last + m;
          const dst = depthwise ? (ci * last + m) * perOut + i * kw + j : m * perOut + (ci * kh + i) * kw + j;
          W[dst] = data[src];
        }
      }
    }
  }
  return { W, cout, perOut };
}

/** Conv2D and DepthwiseConv2D, with a following BatchNormalization and a ZeroPadding2D before folded in. */
function convolution(ctx: LayerContext, depthwise: boolean): OnnxValue {
  const { g, layer } = ctx;
  const c = config(layer);
  let x = ctx.inputs[0];
  needNchw(ctx, x);
  const kernel = pair(layer, c.kernelSize, 'kernelSize', 1);
  const strides = pair(layer, c.strides, 'strides', 1);
  const dilation = pair(layer, c.dilationRate, 'dilationRate', 1);
  let pads = spatialPads(layer, c.padding, x, kernel, strides, dilation);
  if (pads === undefined) x = ctx.plain(x);
  else if (x.pads) pads = pads.map((p, i) => p + x.pads![i]) as typeof pads;

  const w = weights(layer);
  const k = need(layer, w, depthwise ? 'depthwise_kernel' : 'kernel');
  const [kh, kw, cin] = k.shape;
  const { W, cout, perOut } = onnxKernel(k.shape, k.data, depthwise);
  let bias: Float32Array | undefined = c.useBias === false ? undefined : need(layer, w, 'bias').data;
  if (ctx.foldBn) {
    const { scale, shift } = batchNormAffine(ctx.foldBn);
    for (let o = 0; o < cout; o++) {
      for (let e = o * perOut; e < (o + 1) * perOut; e++) W[e] = W[e] * scale[o];
    }
    bias = Float32Array.from(scale, (s, o) => (bias?.[o] ?? 0) * s + shift[o]);
  }
  const inputs = [x.name, g.weight(`${layer.name}_W`, [cout, depthwise ? 1 : cin, kh, kw], W)];
  if (bias) inputs.push(g.weight(`${layer.name}_B`, [cout], bias));
  const attributes = [
    attr.ints('kernel_shape', kernel),
    attr.ints('strides', strides),
    attr.ints('dilations', dilation),
    attr.int('group', depthwise ? cin : 1),
    pads ? attr.ints('pads', [pads[0], pads[1], pads[2], pads[3]]) : attr.string('auto_pad', 'SAME_UPPER'),
  ];
  const out = g.fresh(ctx.foldBn ? ctx.foldBn.name : layer.name);
  g.node('Conv', inputs, [out], attributes);
  return emitActivation(ctx, { name: out, layout: 'nchw', shape: ctx.outShape }, c.activation, `${layer.name}_act`);
}

function batchNormalization(ctx: LayerContext): OnnxValue {
  const x = ctx.plain(ctx.inputs[0]);
  if (ctx.folded) return x;
  const { g, layer } = ctx;
  const { scale, shift } = batchNormAffine(layer);
  // Channels are axis 1 of an NCHW value, the last axis otherwise: shape the constants to broadcast.
  const dims = x.layout === 'nchw' ? [scale.length, 1, 1] : [scale.length];
  const s = g.weight(`${layer.name}_scale`, dims, Float32Array.from(scale));
  const t = g.weight(`${layer.name}_shift`, dims, Float32Array.from(shift));
  const mid = g.fresh(`${layer.name}_mul`);
  const out = g.fresh(layer.name);
  g.node('Mul', [x.name, s], [mid]);
  g.node('Add', [mid, t], [out]);
  return { name: out, layout: x.layout, shape: ctx.outShape };
}

function relu(ctx: LayerContext): OnnxValue {
  const max = config(ctx.layer).maxValue;
  const x = ctx.plain(ctx.inputs[0]);
  const out = ctx.g.fresh(ctx.layer.name);
  if (max === undefined || max === null) {
    ctx.g.node('Relu', [x.name], [out]);
  } else {
    const lo = ctx.g.weight(`${ctx.layer.name}_min`, [], new Float32Array([0]));
    const hi = ctx.g.weight(`${ctx.layer.name}_max`, [], new Float32Array([max]));
    ctx.g.node('Clip', [x.name, lo, hi], [out]);
  }
  return { name: out, layout: x.layout, shape: ctx.outShape };
}

function zeroPadding(ctx: LayerContext): OnnxValue {
  const x = ctx.inputs[0];
  needNchw(ctx, x);
  const p = config(ctx.layer).padding;
  if (!Array.isArray(p) || p.length !== 2 || p.some((a) => !Array.isArray(a) || a.length !== 2)) {
    throw unsupported(ctx.layer, `padding ${JSON.stringify(p)}`);
  }
  const [[top, bottom], [left, right]] = p;
  const prev = x.pads ?? [0, 0, 0, 0];
  // Emitted lazily: a following convolution takes these as its own pads (see plain()).
  return { ...x, shape: ctx.outShape, pads: [prev[0] + top, prev[1] + left, prev[2] + bottom, prev[3] + right] };
}

function add(ctx: LayerContext): OnnxValue {
  const xs = ctx.inputs.map((v) => ctx.plain(v));
  if (new Set(xs.map((v) => v.layout)).size !== 1) throw unsupported(ctx.layer, 'inputs of different ranks');
  const out = ctx.g.fresh(ctx.layer.name);
  ctx.g.node(
    xs.length === 2 ? 'Add' : 'Sum',
    xs.map((v) => v.name),
    [out],
  );
  return { name: out, layout: xs[0].layout, shape: ctx.outShape };
}

function averagePooling(ctx: LayerContext): OnnxValue {
  const { g, layer } = ctx;
  const c = config(layer);
  const x = ctx.plain(ctx.inputs[0]);
  needNchw(ctx, x);
  const kernel = pair(layer, c.poolSize, 'poolSize', 2);
  const strides = pair(layer, c.strides ?? c.poolSize, 'strides', 2);
  const pads = spatialPads(layer, c.padding, x, kernel, strides, [1, 1]);
  const out = g.fresh(layer.name);
  if (pads?.every((p) => p === 0) && x.shape[0] === kernel[0] && x.shape[1] === kernel[1]) {
    // One window over the whole map, as MobileNetV2's 7x7 pool: the global op is faster.
    g.node('GlobalAveragePool', [x.name], [out]);
  } else {
    // count_include_pad=0: TF averages only the real pixels of a SAME-padded window.
    const attributes = [attr.ints('kernel_shape', kernel), attr.ints('strides', strides), attr.int('count_include_pad', 0)];
    attributes.push(pads ? attr.ints('pads', [pads[0], pads[1], pads[2], pads[3]]) : attr.string('auto_pad', 'SAME_UPPER'));
    g.node('AveragePool', [x.name], [out], attributes);
  }
  return { name: out, layout: 'nchw', shape: ctx.outShape };
}

function globalAveragePooling(ctx: LayerContext): OnnxValue {
  const x = ctx.plain(ctx.inputs[0]);
  needNchw(ctx, x);
  const pooled = ctx.g.fresh(`${ctx.layer.name}_pool`);
  const out = ctx.g.fresh(ctx.layer.name);
  ctx.g.node('GlobalAveragePool', [x.name], [pooled]);
  if (ctx.outShape.length === 3) return { name: pooled, layout: 'nchw', shape: ctx.outShape }; // keepDims
  ctx.g.node('Flatten', [pooled], [out], [attr.int('axis', 1)]);
  return { name: out, layout: 'keras', shape: ctx.outShape };
}

function flatten(ctx: LayerContext): OnnxValue {
  const { g, layer } = ctx;
  let x = ctx.plain(ctx.inputs[0]);
  if (x.layout === 'keras' && x.shape.length === 1) return x;
  if (x.layout === 'nchw' && !(x.shape[0] === 1 && x.shape[1] === 1)) {
    // Keras flattens in HWC order; a 1x1 map is the same either way, a larger one is not.
    const nhwc = g.fresh(`${layer.name}_nhwc`);
    g.node('Transpose', [x.name], [nhwc], [attr.ints('perm', [0, 2, 3, 1])]);
    x = { name: nhwc, layout: 'keras', shape: x.shape };
  }
  const out = g.fresh(layer.name);
  g.node('Flatten', [x.name], [out], [attr.int('axis', 1)]);
  return { name: out, layout: 'keras', shape: ctx.outShape };
}

function dense(ctx: LayerContext): OnnxValue {
  const { g, layer } = ctx;
  const c = config(layer);
  const x = ctx.plain(ctx.inputs[0]);
  if (x.layout !== 'keras') throw unsupported(layer, 'Dense on an image batch (rank 4); flatten or pool first');
  const w = weights(layer);
  const k = need(layer, w, 'kernel');
  const W = g.weight(`${layer.name}_W`, k.shape, k.data);
  const out = g.fresh(`${layer.name}_linear`);
  const b = c.useBias === false ? undefined : need(layer, w, 'bias');
  if (x.shape.length === 1) {
    g.node('Gemm', b ? [x.name, W, g.weight(`${layer.name}_B`, b.shape, b.data)] : [x.name, W], [out]);
  } else if (b) {
    const mm = g.fresh(`${layer.name}_matmul`);
    g.node('MatMul', [x.name, W], [mm]);
    g.node('Add', [mm, g.weight(`${layer.name}_B`, b.shape, b.data)], [out]);
  } else {
    g.node('MatMul', [x.name, W], [out]);
  }
  return emitActivation(ctx, { name: out, layout: 'keras', shape: ctx.outShape }, c.activation, layer.name);
}

function activation(ctx: LayerContext): OnnxValue {
  return emitActivation(ctx, ctx.plain(ctx.inputs[0]), config(ctx.layer).activation, ctx.layer.name);
}

/** Inference-time identity (Dropout). */
function identity(ctx: LayerContext): OnnxValue {
  return ctx.plain(ctx.inputs[0]);
}

/** Every layer class the converter knows, by tfjs class name. */
export const LAYER_EMITTERS: Readonly<Record<string, LayerEmitter>> = Object.freeze({
  Conv2D: (ctx) => convolution(ctx, false),
  DepthwiseConv2D: (ctx) => convolution(ctx, true),
  BatchNormalization: batchNormalization,
  ReLU: relu,
  ZeroPadding2D: zeroPadding,
  Add: add,
  AveragePooling2D: averagePooling,
  GlobalAveragePooling2D: globalAveragePooling,
  Flatten: flatten,
  Dense: dense,
  Activation: activation,
  Dropout: identity,
});

/** Convolutions a following BatchNormalization can be folded into. */
export const FOLDS_BATCH_NORM: ReadonlySet<string> = new Set(['Conv2D', 'DepthwiseConv2D']);
