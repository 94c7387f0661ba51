import onnxProto from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';

// onnx-proto is CommonJS whose namespace export Node's ESM loader cannot see by name.
const { onnx } = onnxProto;

/** ONNX operator set the converter emits (Clip/Pad take their bounds as inputs from 13 on). */
export const OPSET = 13;
/** IR version 8 (ONNX 1.10), the newest the onnx-proto schema knows; onnxruntime reads it. */
const IR_VERSION = 8;

/** A dimension: a size, or a name for a size fixed only at run time (`'batch'`). */
export type Dim = number | string;

export type Attribute = P.IAttributeProto;

export const attr = {
  int: (name: string, i: number): Attribute => ({ name, type: onnx.AttributeProto.AttributeType.INT, i }),
  ints: (name: string, ints: number[]): Attribute => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints }),
  float: (name: string, f: number): Attribute => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f }),
  string: (name: string, s: string): Attribute => ({
    name,
    type: onnx.AttributeProto.AttributeType.STRING,
    s: new TextEncoder().encode(s),
  }),
  strings: (name: string, ss: string[]): Attribute => ({
    name,
    type: onnx.AttributeProto.AttributeType.STRINGS,
    strings: ss.map((s) => new TextEncoder().encode(s)),
  }),
};

/**
 * Collects the nodes, weights and signature of one ONNX graph, in the order they are added
 * (which must be topological: ONNX requires it).
 */
export interface GraphBuilder {
  /** A value name not used yet in this graph, built from `stem`. */
  fresh(stem: string): string;
  /** Keeps `names` (graph outputs to come) from being handed out by `fresh`. */
  reserve(...names: string[]): void;
  /** Adds a float32 weight; returns its name. */
  weight(stem: string, dims: number[], data: Float32Array): string;
  /** Adds an int64 constant (shapes, pads, axes) [dims=[values.length]]; returns its name. */
  int64s(stem: string, values: ArrayLike<number>, dims?: number[]): string;
  node(op: string, inputs: string[], outputs: string[], attributes?: Attribute[]): void;
  input(name: string, dims: Dim[]): void;
  output(name: string, dims: Dim[]): void;
  /** Serialised ModelProto. */
  encode(docString?: string): Uint8Array;
}

function valueInfo(name: string, dims: Dim[]): P.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Little-endian bytes of a typed array, as `raw_data` wants them (x86 and arm64 are LE). */
function rawBytes(a: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * @param name graph name, kept in the model for tools such as Netron.
 * @param producerVersion written into the model; the converter passes its version.
 */
export function createGraphBuilder(name: string, producerVersion: string): GraphBuilder {
  const nodes: P.INodeProto[] = [];
  const initializers: P.ITensorProto[] = [];
  const inputs: P.IValueInfoProto[] = [];
  const outputs: P.IValueInfoProto[] = [];
  const used = new Set<string>();

  function fresh(stem: string): string {
    let n = stem;
    for (let i = 1; used.has(n); i++) n = `${stem}_${i}`;
    used.add(n);
    return n;
  }

  return {
    fresh,
    reserve(...names) {
      for (const n of names) used.add(n);
    },
    weight(stem, dims, data) {
      const n = fresh(stem);
      initializers.push({ name: n, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: rawBytes(data) });
      return n;
    },
    int64s(stem, values, dims = [values.length]) {
      const n = fresh(stem);
      const data = BigInt64Array.from(Array.from(values), (v) => BigInt(v));
      initializers.push({ name: n, dims, dataType: onnx.TensorProto.DataType.INT64, rawData: rawBytes(data) });
      return n;
    },
    node(op, ins, outs, attributes = []) {
      for (const o of outs) used.add(o);
      nodes.push({ opType: op, name: outs[0], input: ins, output: outs, attribute: attributes });
    },
    input(n, dims) {
      used.add(n);
      inputs.push(valueInfo(n, dims));
    },
    output(n, dims) {
      outputs.push(valueInfo(n, dims));
    },
    encode(docString = '') {
      const model = onnx.ModelProto.create({
        irVersion: IR_VERSION,
        opsetImport: [{ domain: '', version: OPSET }],
        producerName: 'vigil',
        producerVersion,
        docString,
        graph: { name, node: nodes, initializer: initializers, input: inputs, output: outputs },
      });
      return onnx.ModelProto.encode(model).finish();
    },
  };
}
