import { vigilError } from '../../../errors.js';
import { CONVERTER_VERSION } from './convert.js';
import {
  GRAPH_OP_EMITTERS,
  ONNX_INT64,
  attrDType,
  unsupportedOp,
  type GraphValue,
  type OpContext,
  type TfAttr,
  type TfNode,
} from './graph-ops.js';
import { decodeGraphWeights, type GraphWeightSpec } from './graph-weights.js';
import { attr, createGraphBuilder, type GraphBuilder } from './proto.js';

/**
 * Bump when the graphs emitted for the same tfjs graph model change: it is part of
 * {@link graphKeyParts}, so old cached conversions are then left unused.
 */
export const GRAPH_CONVERTER_VERSION = '1';

/** The parts of a tfjs graph model's `model.json` the converter reads. */
export interface TfGraphModelJson {
  readonly modelTopology: {
    readonly node: readonly TfNode[];
    readonly library?: { readonly function?: readonly unknown[] };
    readonly versions?: object;
  };
  /** Inputs and outputs by tensor name (`input:0`); without it, the Placeholders and the nodes nothing reads. */
  readonly signature?: {
    readonly inputs?: Readonly<Record<string, { readonly name: string }>>;
    readonly outputs?: Readonly<Record<string, { readonly name: string }>>;
  };
  readonly weightsManifest: readonly { readonly paths: readonly string[]; readonly weights: readonly GraphWeightSpec[] }[];
}

export interface GraphConvertOptions {
  /** Graph input names, in signature (or Placeholder) order [default: the tfjs names]. */
  inputNames?: string[];
  /** Graph output names, in signature order [default: the tfjs node names]. */
  outputNames?: string[];
  /** [name='tfjs_graph'] kept in the model for tools such as Netron. */
  name?: string;
}

/** `node:1` → node and output index; `^node` (a control input) → undefined. */
function parseRef(ref: string): { node: string; index: number } | undefined {
  if (ref.startsWith('^')) return undefined;
  const m = /^(.*):(\d+)$/.exec(ref);
  return m ? { node: m[1], index: Number(m[2]) } : { node: ref, index: 0 };
}

const SPECIAL_OPS = ['Const', 'Placeholder'];

/** The layout helpers every op emitter shares; each converted form of a value is made once. */
function createContext(g: GraphBuilder): Pick<OpContext, 'g' | 'tf' | 'nchw' | 'scalar'> {
  const tfForm = new WeakMap<GraphValue, string>();
  const nchwForm = new WeakMap<GraphValue, string>();
  const scalars = new Map<number, string>();
  const initializer = (v: GraphValue, dims: number[], data: Float32Array | Int32Array, stem: string) =>
    v.dtype === 'float' ? g.weight(stem, dims, data as Float32Array) : g.int64s(stem, data, dims);

  const tf = (v: GraphValue): string => {
    if (v.data === undefined && !v.floatInput && v.layout === 'tf') return v.name!;
    let n = tfForm.get(v);
    if (n !== undefined) return n;
    if (v.data !== undefined) {
      n = initializer(v, [...v.shape], v.data, v.name ?? 'const');
    } else if (v.floatInput) {
      n = g.fresh(`${v.name}_int`);
      g.node('Cast', [v.name!], [n], [attr.int('to', ONNX_INT64)]);
    } else {
      n = g.fresh(`${v.name}_nhwc`);
      g.node('Transpose', [v.name!], [n], [attr.ints('perm', [0, 2, 3, 1])]);
    }
    tfForm.set(v, n);
    return n;
  };

  const nchw = (v: GraphValue): string => {
    if (v.layout === 'nchw') return v.name!;
    let n = nchwForm.get(v);
    if (n !== undefined) return n;
    const r = v.shape.length;
    if (v.data !== undefined && r <= 4) {
      const [N, H, W, C] = [...new Array<number>(4 - r).fill(1), ...v.shape];
      const out = v.data instanceof Float32Array ? new Float32Array(v.data.length) : new Int32Array(v.data.length);
      for (let b = 0; b < N; b++) {
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            for (let c = 0; c < C; c++) out[((b * C + c) * H + y) * W + x] = v.data[((b * H + y) * W + x) * C + c];
          }
        }
      }
      n = initializer(v, [N, C, H, W], out, `${v.name ?? 'const'}_nchw`);
    } else {
      if (r !== 4) throw vigilError('VIGIL_ERR_INTERNAL', `graph converter: NCHW form of a rank-${r} value`);
      n = g.fresh(`${v.name}_nchw`);
      g.node('Transpose', [tf(v)], [n], [attr.ints('perm', [0, 3, 1, 2])]);
    }
    nchwForm.set(v, n);
    return n;
  };

  const scalar = (x: number): string => {
    let n = scalars.get(x);
    if (n === undefined) {
      n = g.weight(`scalar_${x}`, [], new Float32Array([x]));
      scalars.set(x, n);
    }
    return n;
  };
  return { g, tf, nchw, scalar };
}

function placeholderShape(node: TfNode): number[] {
  const s: TfAttr['shape'] = node.attr?.shape?.shape;
  const dims = (s?.dim ?? []).map((d) => Number(d.size ?? -1));
  if (s === undefined || s.unknownRank || dims.some((d) => !(d >= 1))) {
    throw unsupportedOp(node, `shape [${dims.join(',')}]; the converter needs every input dimension fixed`);
  }
  return dims;
}

/**
 * Emits a tfjs graph model (`model.json` nodes and the weight bytes) into a new ONNX graph,
 * opset 13. Shapes must be static, as tfjs graph models of fixed-size networks are. Images
 * stay NHWC at the boundary; convolutions, resizes and the element-wise ops between them run
 * NCHW inside, with a Transpose wherever TF's order matters (Reshape, GatherNd, ...). TF's
 * int32 math (ArgMax, FloorDiv, GatherNd indices) runs on int64 with TF's semantics
 * (FloorDiv floors). An int32 input (MoveNet's pixels) is declared float32: vigil feeds whole
 * numbers, and a Cast to float of it is dropped.
 * @param weightData the weight files of `weightsManifest`, concatenated in order.
 * @returns a serialised ModelProto.
 * @throws VIGIL_ERR_ONNX_UNSUPPORTED naming the op (and node) the converter lacks, or an
 *   attribute or shape it cannot take.
 * @example
 * const bytes = convertGraphModel(json, weights, { inputNames: ['pixels'], outputNames: ['keypoints'] });
 * const session = createSession(bytes); // ./runtime.js
 */
export function convertGraphModel(json: TfGraphModelJson, weightData: Uint8Array, options: GraphConvertOptions = {}): Uint8Array {
  const nodes = json.modelTopology.node;
  const byName = new Map(nodes.map((n) => [n.name, n]));
  if ((json.modelTopology.library?.function?.length ?? 0) > 0) {
    throw vigilError('VIGIL_ERR_ONNX_UNSUPPORTED', 'graph model with functions (control flow); only plain graphs');
  }
  const inputRefs = json.signature?.inputs
    ? Object.values(json.signature.inputs).map((t) => parseRef(t.name)!)
    : nodes.filter((n) => n.op === 'Placeholder').map((n) => ({ node: n.name, index: 0 }));
  const read = new Set(nodes.flatMap((n) => (n.input ?? []).map((r) => parseRef(r)?.node)));
  const outputRefs = json.signature?.outputs
    ? Object.values(json.signature.outputs).map((t) => parseRef(t.name)!)
    : nodes.filter((n) => !read.has(n.name) && !SPECIAL_OPS.includes(n.op)).map((n) => ({ node: n.name, index: 0 }));

  // Depth first from the outputs: a topological order of the nodes the outputs need.
  const order: TfNode[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, from: string) => {
    const node = byName.get(name);
    if (node === undefined) throw vigilError('VIGIL_ERR_ONNX_UNSUPPORTED', `node "${from}" reads "${name}", which the graph does not have`);
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw vigilError('VIGIL_ERR_ONNX_UNSUPPORTED', `graph has a cycle through "${name}"`);
    state.set(name, 'visiting');
    for (const r of node.input ?? []) {
      const ref = parseRef(r);
      if (ref) visit(ref.node, name);
    }
    state.set(name, 'done');
    order.push(node);
  };
  for (const r of outputRefs) visit(r.node, 'the outputs');
  for (const node of order) {
    if (!SPECIAL_OPS.includes(node.op) && GRAPH_OP_EMITTERS[node.op] === undefined) {
      throw unsupportedOp(
        node,
        `no ONNX converter for this op; supported: ${[...SPECIAL_OPS, ...Object.keys(GRAPH_OP_EMITTERS)].join(', ')}`,
      );
    }
  }

  const weights = decodeGraphWeights(
    json.weightsManifest.flatMap((m) => m.weights),
    weightData,
  );
  const g = createGraphBuilder(options.name ?? 'tfjs_graph', `${CONVERTER_VERSION}/graph-${GRAPH_CONVERTER_VERSION}`);
  const inputNames = options.inputNames ?? inputRefs.map((r) => r.node);
  const outputNames = options.outputNames ?? outputRefs.map((r) => r.node);
  if (inputNames.length !== inputRefs.length || outputNames.length !== outputRefs.length) {
    throw vigilError(
      'VIGIL_ERR_INVALID_ARGUMENT',
      `the graph has ${inputRefs.length} inputs and ${outputRefs.length} outputs; ${inputNames.length} and ${outputNames.length} names given`,
    );
  }
  g.reserve(...outputNames);
  const ctx = createContext(g);
  const values = new Map<string, GraphValue[]>();
  const valueOf = (ref: { node: string; index: number }, reader: string): GraphValue => {
    const v = values.get(ref.node)?.[ref.index];
    if (v === undefined)
      throw vigilError('VIGIL_ERR_ONNX_UNSUPPORTED', `node "${reader}" reads output ${ref.index} of "${ref.node}", which it does not have`);
    return v;
  };

  for (const node of order) {
    if (node.op === 'Const') {
      const w = weights.get(node.name);
      if (w === undefined) throw unsupportedOp(node, 'no weight of that name in the weights manifest');
      values.set(node.name, [{ name: node.name, dtype: w.dtype, shape: w.shape, layout: 'tf', data: w.data }]);
      continue;
    }
    if (node.op === 'Placeholder') {
      const at = inputRefs.findIndex((r) => r.node === node.name);
      if (at < 0) throw unsupportedOp(node, 'a Placeholder that is not a graph input');
      const shape = placeholderShape(node);
      const dtype = attrDType(node, 'dtype');
      g.input(inputNames[at], shape);
      values.set(node.name, [{ name: inputNames[at], dtype, shape, layout: 'tf', floatInput: dtype === 'int' }]);
      continue;
    }
    const inputs = (node.input ?? []).flatMap((r) => {
      const ref = parseRef(r);
      return ref ? [valueOf(ref, node.name)] : [];
    });
    values.set(node.name, GRAPH_OP_EMITTERS[node.op]({ ...ctx, node, inputs }));
  }

  outputRefs.forEach((ref, i) => {
    const v = valueOf(ref, 'the outputs');
    if (v.dtype !== 'float') throw vigilError('VIGIL_ERR_ONNX_UNSUPPORTED', `output "${ref.node}" is ${v.dtype}; only float outputs`);
    const name = ctx.tf(v);
    if (name !== outputNames[i]) g.node('Identity', [name], [outputNames[i]]);
    g.output(outputNames[i], [...v.shape]);
  });
  return g.encode(`converted from a tfjs graph model by vigil's graph converter ${GRAPH_CONVERTER_VERSION}`);
}

/**
 * What a conversion of a graph model depends on, for a cache key: both converter versions
 * (the graph converter shares the layers converter's kernels), the topology, the signature,
 * the weight specs and the weight bytes.
 */
export function graphKeyParts(json: TfGraphModelJson, weightData: Uint8Array): (string | ArrayBufferView)[] {
  return [
    `vigil-onnx-graph-converter/${GRAPH_CONVERTER_VERSION}/${CONVERTER_VERSION}`,
    JSON.stringify(json.modelTopology),
    JSON.stringify(json.signature ?? null),
    JSON.stringify(json.weightsManifest.map((m) => m.weights)),
    weightData,
  ];
}
