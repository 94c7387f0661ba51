import { vigilError, type VigilError } from '../../../errors.js';
import { onnxKernel, samePads } from './layers.js';
import { attr, type Attribute, type GraphBuilder } from './proto.js';

/**
 * Element types of graph values. TF's int32 (and int64) values are `int` and live as int64
 * in ONNX, the type ONNX's index ops (ArgMax, GatherND, Reshape shapes) take and give.
 */
export type DType = 'float' | 'int';

/**
 * A value of the tfjs graph as the converter carries it. `shape` is always TF's (NHWC for
 * images) and fully known: graph models have static shapes, and the pads of SAME convs need
 * them. 4-D values coming out of convolutions are stored NCHW (`layout: 'nchw'`) so the conv
 * trunk runs without transposes; any op that needs TF order gets a Transpose, made once.
 */
export interface GraphValue {
  /** ONNX name of the value as stored (see `layout`); absent for a constant not emitted yet. */
  readonly name?: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly layout: 'tf' | 'nchw';
  /** The value itself, for Const nodes (TF layout). Emitted as an initializer on first use. */
  readonly data?: Float32Array | Int32Array;
  /**
   * An int32 graph input that vigil feeds as float32 (pixels 0-255): a Cast of it to float is
   * the input itself; any other reader gets it cast to int.
   */
  readonly floatInput?: boolean;
}

/** An attribute as tfjs' model.json spells it (strings base64, ints as decimal strings). */
export interface TfAttr {
  readonly i?: string | number;
  readonly f?: number;
  readonly b?: boolean;
  readonly s?: string;
  readonly type?: string;
  readonly list?: { readonly i?: readonly (string | number)[]; readonly s?: readonly string[]; readonly f?: readonly number[] };
  readonly shape?: { readonly dim?: readonly { readonly size?: string | number }[]; readonly unknownRank?: boolean };
  readonly tensor?: unknown;
}

/** One node of a tfjs graph model's `modelTopology.node`. */
export interface TfNode {
  readonly name: string;
  readonly op: string;
  readonly input?: readonly string[];
  readonly attr?: Readonly<Record<string, TfAttr>>;
}

/** What an op emitter sees: the builder, the node, its (data) inputs, and layout helpers. */
export interface OpContext {
  readonly g: GraphBuilder;
  readonly node: TfNode;
  readonly inputs: readonly GraphValue[];
  /** ONNX name of `v` in TF layout: a Transpose for NCHW values, an initializer for constants (each made once). */
  tf(v: GraphValue): string;
  /** ONNX name of `v` in NCHW; `v` of rank 4, or a constant of rank <= 4 (broadcast as numpy does). */
  nchw(v: GraphValue): string;
  /** A float scalar initializer, shared by value. */
  scalar(value: number): string;
}

export type OpEmitter = (ctx: OpContext) => GraphValue[];

export function unsupportedOp(node: TfNode, detail: string): VigilError {
  return vigilError('VIGIL_ERR_ONNX_UNSUPPORTED', `op ${node.op} (node "${node.name}"): ${detail}`);
}

// --- attributes --------------------------------------------------------------------------

const text = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

export function attrInt(node: TfNode, key: string, fallback?: number): number {
  const a = node.attr?.[key];
  if (a?.i !== undefined) return Number(a.i);
  if (fallback !== undefined) return fallback;
  throw unsupportedOp(node, `no "${key}" attribute`);
}

export function attrInts(node: TfNode, key: string, fallback?: number[]): number[] {
  const a = node.attr?.[key];
  if (a?.list !== undefined) return (a.list.i ?? []).map(Number);
  if (fallback !== undefined) return fallback;
  throw unsupportedOp(node, `no "${key}" attribute`);
}

export function attrBool(node: TfNode, key: string, fallback: boolean): boolean {
  return node.attr?.[key]?.b ?? fallback;
}

export function attrString(node: TfNode, key: string, fallback?: string): string {
  const s = node.attr?.[key]?.s;
  if (s !== undefined) return text(s);
  if (fallback !== undefined) return fallback;
  throw unsupportedOp(node, `no "${key}" attribute`);
}

export function attrStrings(node: TfNode, key: string): string[] {
  return (node.attr?.[key]?.list?.s ?? []).map(text);
}

/** A TF dtype attribute (`DT_FLOAT`, `DT_INT32`, ...) as a {@link DType}. */
export function attrDType(node: TfNode, key: string): DType {
  const t = node.attr?.[key]?.type;
  if (t === 'DT_FLOAT') return 'float';
  if (t === 'DT_INT32' || t === 'DT_INT64') return 'int';
  throw unsupportedOp(node, `${key} ${t ?? 'missing'}; only DT_FLOAT, DT_INT32 and DT_INT64`);
}

// --- shapes and constants ----------------------------------------------------------------

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** `axis` in [-rank, rank) as a non-negative axis. */
function axisOf(node: TfNode, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw unsupportedOp(node, `axis ${axis} for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** The values of a constant int input (shapes, axes, sizes). */
function constInts(ctx: OpContext, i: number, what: string): number[] {
  const v = ctx.inputs.at(i);
  if (v?.data === undefined || v.dtype !== 'int')
    throw unsupportedOp(ctx.node, `${what} (input ${i < 0 ? ctx.inputs.length + i : i}) must be a constant int tensor`);
  return Array.from(v.data);
}

function constFloats(ctx: OpContext, i: number, what: string): Float32Array {
  const v = ctx.inputs[i];
  if (v?.data === undefined || v.dtype !== 'float') throw unsupportedOp(ctx.node, `${what} (input ${i}) must be a constant float tensor`);
  return v.data as Float32Array;
}

/** Numpy broadcasting of the shapes. */
function broadcast(node: TfNode, shapes: readonly (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    let d = 1;
    for (const s of shapes) {
      const e = s[s.length - rank + k] ?? 1;
      if (e !== 1 && d !== 1 && e !== d)
        throw unsupportedOp(node, `shapes ${shapes.map((x) => `[${x.join(',')}]`).join(' and ')} do not broadcast`);
      if (e !== 1) d = e;
    }
    out.push(d);
  }
  return out;
}

function sameDType(ctx: OpContext, xs = ctx.inputs): DType {
  const types = new Set(xs.map((v) => v.dtype));
  if (types.size !== 1) throw unsupportedOp(ctx.node, `inputs of different types (${[...types].join(', ')})`);
  return xs[0].dtype;
}

const value = (name: string, dtype: DType, shape: readonly number[], layout: 'tf' | 'nchw' = 'tf'): GraphValue => ({
  name,
  dtype,
  shape,
  layout,
});

/** Emits `op` with one fresh output named after the node (plus `suffix`). */
function emit(ctx: OpContext, op: string, inputs: string[], attributes: Attribute[] = [], suffix = ''): string {
  const out = ctx.g.fresh(`${ctx.node.name}${suffix}`);
  ctx.g.node(op, inputs, [out], attributes);
  return out;
}

/** TF axis a of a 4-D value is this axis of its NCHW form. */
const NCHW_AXIS = [0, 2, 3, 1];

// --- element-wise ------------------------------------------------------------------------

/**
 * Puts the inputs of an element-wise op in one layout: NCHW when every non-constant input is
 * 4-D and one is NCHW already, or when a constant varies per channel of an image (constants
 * are transposed at conversion); else TF order.
 */
function elementwiseInputs(ctx: OpContext): { names: string[]; shape: number[]; layout: 'tf' | 'nchw' } {
  const shape = broadcast(
    ctx.node,
    ctx.inputs.map((v) => v.shape),
  );
  const dynamic = ctx.inputs.filter((v) => v.data === undefined);
  // A per-channel constant broadcast over NHWC has an inner run of C values, which
  // onnxruntime's element-wise kernels handle several times slower than a whole plane per
  // channel: MoveNet's input normalisation took 15% of the run that way.
  const perChannel =
    shape.length === 4 && shape[1] * shape[2] > 1 && ctx.inputs.some((v) => v.data !== undefined && (v.shape.at(-1) ?? 1) > 1);
  const nchw =
    shape.length === 4 &&
    dynamic.length > 0 &&
    (dynamic.some((v) => v.layout === 'nchw') || perChannel) &&
    dynamic.every((v) => v.shape.length === 4) &&
    ctx.inputs.every((v) => v.shape.length <= 4);
  return { names: ctx.inputs.map((v) => (nchw ? ctx.nchw(v) : ctx.tf(v))), shape, layout: nchw ? 'nchw' : 'tf' };
}

function binary(onnxOp: string, floatOnly = false): OpEmitter {
  return (ctx) => {
    const dtype = sameDType(ctx);
    if (floatOnly && dtype !== 'float') throw unsupportedOp(ctx.node, 'int inputs');
    const { names, shape, layout } = elementwiseInputs(ctx);
    return [value(emit(ctx, onnxOp, names), dtype, shape, layout)];
  };
}

function unary(onnxOp: string): OpEmitter {
  return (ctx) => {
    const [x] = ctx.inputs;
    if (x.dtype !== 'float') throw unsupportedOp(ctx.node, 'int input');
    const { names, shape, layout } = elementwiseInputs(ctx);
    return [value(emit(ctx, onnxOp, names), 'float', shape, layout)];
  };
}

/** TF floors; ONNX's integer Div truncates. a - mod(a, b) (sign of b) is a multiple of b, so dividing it is exact. */
const floorDiv: OpEmitter = (ctx) => {
  const dtype = sameDType(ctx);
  const { names, shape, layout } = elementwiseInputs(ctx);
  const [a, b] = names;
  if (dtype === 'float') {
    const q = emit(ctx, 'Div', [a, b], [], '_div');
    return [value(emit(ctx, 'Floor', [q]), dtype, shape, layout)];
  }
  const m = emit(ctx, 'Mod', [a, b], [attr.int('fmod', 0)], '_mod');
  const d = emit(ctx, 'Sub', [a, m], [], '_sub');
  return [value(emit(ctx, 'Div', [d, b]), dtype, shape, layout)];
};

const squaredDifference: OpEmitter = (ctx) => {
  const dtype = sameDType(ctx);
  const { names, shape, layout } = elementwiseInputs(ctx);
  const d = emit(ctx, 'Sub', names, [], '_diff');
  return [value(emit(ctx, 'Mul', [d, d]), dtype, shape, layout)];
};

const cast: OpEmitter = (ctx) => {
  const [x] = ctx.inputs;
  const to = attrDType(ctx.node, 'DstT');
  if (x.floatInput && to === 'float') return [value(x.name!, 'float', x.shape)];
  if (x.dtype === to) return [x];
  if (x.data !== undefined) {
    // TF truncates float to int, as Int32Array.from does.
    const data = to === 'int' ? Int32Array.from(x.data, Math.trunc) : Float32Array.from(x.data);
    return [{ dtype: to, shape: x.shape, layout: 'tf', data }];
  }
  const stored = x.layout === 'nchw' ? x.name! : ctx.tf(x);
  const out = emit(ctx, 'Cast', [stored], [attr.int('to', to === 'float' ? ONNX_FLOAT : ONNX_INT64)]);
  return [value(out, to, x.shape, x.layout)];
};

/** ONNX TensorProto.DataType codes. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

// --- convolutions ------------------------------------------------------------------------

/**
 * Conv2D and DepthwiseConv2dNative, plain or fused (tfjs' `_FusedConv2D`,
 * `FusedDepthwiseConv2dNative`: BiasAdd, then Relu or Relu6, as `fused_ops` lists them).
 * NHWC in TF; the ONNX Conv reads and writes NCHW.
 */
function convolution(depthwise: boolean, fused: boolean): OpEmitter {
  return (ctx) => {
    const { node, g } = ctx;
    const [x, filter] = ctx.inputs;
    const format = attrString(node, 'data_format', 'NHWC').toUpperCase();
    if (format !== 'NHWC') throw unsupportedOp(node, `data_format ${format}; only NHWC`);
    if (x.shape.length !== 4 || x.dtype !== 'float')
      throw unsupportedOp(node, `input [${x.shape.join(',')}] ${x.dtype}; needs a float image batch (rank 4)`);
    const W0 = constFloats(ctx, 1, 'the filter');
    if (filter.shape.length !== 4) throw unsupportedOp(node, `filter of rank ${filter.shape.length}`);
    const [kh, kw, cin] = filter.shape;
    const [n, h, w, c] = x.shape;
    if (c !== cin) throw unsupportedOp(node, `filter for ${cin} channels on an input of ${c}`);
    const strides = attrInts(node, 'strides', [1, 1, 1, 1]);
    const dilations = attrInts(node, 'dilations', [1, 1, 1, 1]);
    if (strides[0] !== 1 || strides[3] !== 1 || dilations[0] !== 1 || dilations[3] !== 1) {
      throw unsupportedOp(node, `strides [${strides.join(',')}] / dilations [${dilations.join(',')}] over batch or channels`);
    }
    const [sh, sw] = [strides[1], strides[2]];
    const [dh, dw] = [dilations[1], dilations[2]];
    const padding = attrString(node, 'padding').toUpperCase();
    let top = 0;
    let bottom = 0;
    let left = 0;
    let right = 0;
    if (padding === 'SAME') {
      [top, bottom] = samePads(h, kh, sh, dh);
      [left, right] = samePads(w, kw, sw, dw);
    } else if (padding === 'EXPLICIT') {
      const p = attrInts(node, 'explicit_paddings');
      if (p.length !== 8 || p[0] || p[1] || p[6] || p[7]) throw unsupportedOp(node, `explicit_paddings [${p.join(',')}]`);
      [top, bottom, left, right] = p.slice(2, 6);
    } else if (padding !== 'VALID') {
      throw unsupportedOp(node, `padding ${padding}`);
    }
    const outH = Math.floor((h + top + bottom - ((kh - 1) * dh + 1)) / sh) + 1;
    const outW = Math.floor((w + left + right - ((kw - 1) * dw + 1)) / sw) + 1;

    let bias: Float32Array | undefined;
    let activation: string | undefined;
    if (fused) {
      // TF writes BiasAdd, Relu6; tfjs reads them case-blind.
      const ops = attrStrings(node, 'fused_ops');
      const lower = ops.map((o) => o.toLowerCase());
      let k = 0;
      if (lower[k] === 'biasadd') {
        bias = constFloats(ctx, 2, 'the bias');
        k++;
      }
      if (lower[k] === 'relu' || lower[k] === 'relu6') activation = lower[k++];
      if (k !== ops.length) throw unsupportedOp(node, `fused_ops [${ops.join(', ')}]; supported: BiasAdd, then Relu or Relu6`);
    }
    const { W, cout } = onnxKernel(filter.shape, W0, depthwise);
    if (bias !== undefined && bias.length !== cout) throw unsupportedOp(node, `bias of ${bias.length} for ${cout} output channels`);
    const inputs = [ctx.nchw(x), g.weight(`${node.name}_W`, [cout, depthwise ? 1 : cin, kh, kw], W)];
    if (bias) inputs.push(g.weight(`${node.name}_B`, [cout], bias));
    const attributes = [
      attr.ints('kernel_shape', [kh, kw]),
      attr.ints('strides', [sh, sw]),
      attr.ints('dilations', [dh, dw]),
      attr.int('group', depthwise ? cin : 1),
      attr.ints('pads', [top, left, bottom, right]),
    ];
    let out = emit(ctx, 'Conv', inputs, attributes, activation ? '_conv' : '');
    if (activation === 'relu') out = emit(ctx, 'Relu', [out]);
    else if (activation === 'relu6') out = emit(ctx, 'Clip', [out, ctx.scalar(0), ctx.scalar(6)]);
    return [value(out, 'float', [n, outH, outW, cout], 'nchw')];
  };
}

/**
 * TF's ResizeBilinear. Its coordinate modes are ONNX Resize's: `align_corners` maps to
 * `align_corners`, `half_pixel_centers` to `half_pixel`, neither to `asymmetric`.
 */
const resizeBilinear: OpEmitter = (ctx) => {
  const { node, g } = ctx;
  const [x] = ctx.inputs;
  const [oh, ow] = constInts(ctx, 1, 'the size');
  if (x.shape.length !== 4 || x.dtype !== 'float') throw unsupportedOp(node, 'needs a float image batch (rank 4)');
  const alignCorners = attrBool(node, 'align_corners', false);
  const halfPixel = attrBool(node, 'half_pixel_centers', false);
  if (alignCorners && halfPixel) throw unsupportedOp(node, 'align_corners and half_pixel_centers together');
  const mode = alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric';
  const [n, , , c] = x.shape;
  const out = emit(
    ctx,
    'Resize',
    [ctx.nchw(x), '', '', g.int64s(`${node.name}_sizes`, [n, c, oh, ow])],
    [attr.string('mode', 'linear'), attr.string('coordinate_transformation_mode', mode)],
  );
  return [value(out, 'float', [n, oh, ow, c], 'nchw')];
};

// --- shapes ------------------------------------------------------------------------------

const reshape: OpEmitter = (ctx) => {
  const [x] = ctx.inputs;
  const want = constInts(ctx, 1, 'the shape');
  const known = want.filter((d) => d !== -1);
  if (want.some((d) => d === 0 || d < -1) || want.length - known.length > 1) throw unsupportedOp(ctx.node, `shape [${want.join(',')}]`);
  const total = size(x.shape);
  const shape = want.map((d) => (d === -1 ? total / size(known) : d));
  if (size(shape) !== total || !shape.every(Number.isInteger))
    throw unsupportedOp(ctx.node, `[${x.shape.join(',')}] cannot become [${want.join(',')}]`);
  if (x.data !== undefined) return [{ ...x, shape }];
  return [value(emit(ctx, 'Reshape', [ctx.tf(x), ctx.g.int64s(`${ctx.node.name}_shape`, shape)]), x.dtype, shape)];
};

function squeezeTo(ctx: OpContext, x: GraphValue, axes: number[], suffix = ''): GraphValue {
  const shape = x.shape.filter((_, i) => !axes.includes(i));
  if (axes.length === 0) return x;
  const out = emit(ctx, 'Squeeze', [ctx.tf(x), ctx.g.int64s(`${ctx.node.name}${suffix}_axes`, axes)], [], suffix);
  return value(out, x.dtype, shape);
}

const squeeze: OpEmitter = (ctx) => {
  const [x] = ctx.inputs;
  const given = attrInts(ctx.node, 'squeeze_dims', attrInts(ctx.node, 'axis', []));
  const axes = given.length ? given.map((a) => axisOf(ctx.node, a, x.shape.length)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of axes) if (x.shape[a] !== 1) throw unsupportedOp(ctx.node, `axis ${a} of [${x.shape.join(',')}] is not 1`);
  return [squeezeTo(ctx, x, [...new Set(axes)].sort())];
};

function unsqueezeTo(ctx: OpContext, x: GraphValue, axis: number, suffix = ''): GraphValue {
  const shape = [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)];
  const out = emit(ctx, 'Unsqueeze', [ctx.tf(x), ctx.g.int64s(`${ctx.node.name}${suffix}_axes`, [axis])], [], suffix);
  return value(out, x.dtype, shape);
}

const expandDims: OpEmitter = (ctx) => {
  const [x] = ctx.inputs;
  const [dim] = constInts(ctx, 1, 'the axis');
  return [unsqueezeTo(ctx, x, axisOf(ctx.node, dim, x.shape.length + 1))];
};

/** tf.unstack: a Split (unless there is one piece) and a Squeeze per piece. */
const unpack: OpEmitter = (ctx) => {
  const { node, g } = ctx;
  const [x] = ctx.inputs;
  const axis = axisOf(node, attrInt(node, 'axis', 0), x.shape.length);
  const num = x.shape[axis];
  if (attrInt(node, 'num', num) !== num)
    throw unsupportedOp(node, `num ${attrInt(node, 'num')} for axis ${axis} of [${x.shape.join(',')}]`);
  if (num === 1) return [squeezeTo(ctx, x, [axis])];
  const pieces = Array.from({ length: num }, (_, i) => g.fresh(`${node.name}_split${i}`));
  g.node('Split', [ctx.tf(x), g.int64s(`${node.name}_sizes`, new Array(num).fill(1))], pieces, [attr.int('axis', axis)]);
  const shape = x.shape.map((d, i) => (i === axis ? 1 : d));
  return pieces.map((p, i) => squeezeTo(ctx, value(p, x.dtype, shape), [axis], i === 0 ? '' : `:${i}`));
};

/** tf.stack: an Unsqueeze per input and a Concat. */
const pack: OpEmitter = (ctx) => {
  const dtype = sameDType(ctx);
  const { node } = ctx;
  const [first] = ctx.inputs;
  if (!ctx.inputs.every((v) => v.shape.join() === first.shape.join())) throw unsupportedOp(node, 'inputs of different shapes');
  const axis = axisOf(node, attrInt(node, 'axis', 0), first.shape.length + 1);
  const parts = ctx.inputs.map((v, i) => ctx.tf(unsqueezeTo(ctx, v, axis, `_in${i}`)));
  const shape = [...first.shape.slice(0, axis), ctx.inputs.length, ...first.shape.slice(axis)];
  return [value(emit(ctx, 'Concat', parts, [attr.int('axis', axis)]), dtype, shape)];
};

const concat: OpEmitter = (ctx) => {
  const { node } = ctx;
  const xs = ctx.inputs.slice(0, -1);
  const [axisIn] = constInts(ctx, -1, 'the axis');
  const dtype = sameDType(ctx, xs);
  const rank = xs[0].shape.length;
  const axis = axisOf(node, axisIn, rank);
  for (const v of xs) {
    if (v.shape.length !== rank || v.shape.some((d, i) => i !== axis && d !== xs[0].shape[i]))
      throw unsupportedOp(node, 'inputs of mismatched shapes');
  }
  const shape = xs[0].shape.map((d, i) => (i === axis ? xs.reduce((s, v) => s + v.shape[axis], 0) : d));
  const nchw = rank === 4 && xs.every((v) => v.layout === 'nchw');
  const names = xs.map((v) => (nchw ? ctx.nchw(v) : ctx.tf(v)));
  return [value(emit(ctx, 'Concat', names, [attr.int('axis', nchw ? NCHW_AXIS[axis] : axis)]), dtype, shape, nchw ? 'nchw' : 'tf')];
};

// --- indices -----------------------------------------------------------------------------

const argMax: OpEmitter = (ctx) => {
  const [x] = ctx.inputs;
  const [dim] = constInts(ctx, 1, 'the dimension');
  const axis = axisOf(ctx.node, dim, x.shape.length);
  attrDType(ctx.node, 'output_type');
  // select_last_index 0: the first maximum, as TF.
  const out = emit(ctx, 'ArgMax', [ctx.tf(x)], [attr.int('axis', axis), attr.int('keepdims', 0), attr.int('select_last_index', 0)]);
  return [
    value(
      out,
      'int',
      x.shape.filter((_, i) => i !== axis),
    ),
  ];
};

const gatherNd: OpEmitter = (ctx) => {
  const [params, indices] = ctx.inputs;
  if (indices.dtype !== 'int') throw unsupportedOp(ctx.node, 'float indices');
  const depth = indices.shape.at(-1)!;
  if (indices.shape.length < 1 || depth > params.shape.length)
    throw unsupportedOp(ctx.node, `indices [${indices.shape.join(',')}] into [${params.shape.join(',')}]`);
  const shape = [...indices.shape.slice(0, -1), ...params.shape.slice(depth)];
  return [value(emit(ctx, 'GatherND', [ctx.tf(params), ctx.tf(indices)]), params.dtype, shape)];
};

const identity: OpEmitter = (ctx) => [ctx.inputs[0]];

/**
 * Every op the graph converter emits, by TF op name (besides Const and Placeholder, which
 * the converter itself turns into initializers and graph inputs).
 */
export const GRAPH_OP_EMITTERS: Readonly<Record<string, OpEmitter>> = Object.freeze({
  Identity: identity,
  Cast: cast,
  AddV2: binary('Add'),
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  RealDiv: binary('Div', true),
  FloorDiv: floorDiv,
  SquaredDifference: squaredDifference,
  Sigmoid: unary('Sigmoid'),
  Sqrt: unary('Sqrt'),
  _FusedConv2D: convolution(false, true),
  FusedDepthwiseConv2dNative: convolution(true, true),
  DepthwiseConv2dNative: convolution(true, false),
  ResizeBilinear: resizeBilinear,
  Reshape: reshape,
  Squeeze: squeeze,
  ExpandDims: expandDims,
  Unpack: unpack,
  Pack: pack,
  ConcatV2: concat,
  ArgMax: argMax,
  GatherNd: gatherNd,
});
