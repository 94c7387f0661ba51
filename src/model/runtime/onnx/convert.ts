import type * as tf from '@tensorflow/tfjs';
import { vigilError } from '../../../errors.js';
import { FOLDS_BATCH_NORM, LAYER_EMITTERS, unsupported, type OnnxValue } from './layers.js';
import { attr, createGraphBuilder, type Dim, type GraphBuilder } from './proto.js';

/**
 * Bump when the emitted graphs change for the same tfjs model: it is part of the cache key,
 * so old cached conversions are then left unused.
 */
export const CONVERTER_VERSION = '1';

/** A graph input or output at the boundary: Keras layout (NHWC for images). */
export interface BoundaryValue {
  readonly name: string;
  /** With `'batch'` for the batch axis. */
  readonly dims: Dim[];
}

type Symbolic = tf.SymbolicTensor;

function dimsOf(shape: readonly (number | null)[], stem: string): Dim[] {
  return shape.map((d, i) => d ?? (i === 0 ? 'batch' : `${stem}_d${i}`));
}

/**
 * Emits a tfjs functional or sequential LayersModel into `g`: NHWC graph inputs, one
 * transpose to NCHW, the layers, and a transpose back for any 4-D output. Inference only
 * (Dropout is the identity; BatchNormalization uses its moving statistics).
 * @param inputs the value names to read the model's inputs from; the caller declares them
 *   as graph inputs (or produces them with earlier nodes), in Keras layout.
 * @returns the model's outputs as values in Keras layout (not yet declared as graph outputs).
 * @throws VIGIL_ERR_ONNX_UNSUPPORTED naming the layer and its class.
 */
export function emitLayersModel(g: GraphBuilder, model: tf.LayersModel, inputs: readonly string[]): OnnxValue[] {
  if (inputs.length !== model.inputs.length) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${model.name} has ${model.inputs.length} inputs, ${inputs.length} names given`);
  }
  const values = new Map<number, OnnxValue>();
  model.inputs.forEach((t, i) => {
    const shape = t.shape.slice(1);
    if (shape.length === 3) {
      const nchw = g.fresh(`${inputs[i]}_nchw`);
      g.node('Transpose', [inputs[i]], [nchw], [attr.ints('perm', [0, 3, 1, 2])]);
      values.set(t.id, { name: nchw, layout: 'nchw', shape });
    } else {
      values.set(t.id, { name: inputs[i], layout: 'keras', shape });
    }
  });

  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const nodeOf = (layer: tf.layers.Layer) => {
    if (layer.inboundNodes.length !== 1)
      throw unsupported(layer, `called ${layer.inboundNodes.length} times; shared layers are not supported`);
    const node = layer.inboundNodes[0];
    if (node.outputTensors.length !== 1) throw unsupported(layer, `${node.outputTensors.length} outputs`);
    return node;
  };
  for (const layer of layers) {
    if (LAYER_EMITTERS[layer.getClassName()] === undefined) {
      throw unsupported(layer, `no ONNX converter for this class; supported: InputLayer, ${Object.keys(LAYER_EMITTERS).join(', ')}`);
    }
  }

  // A BatchNormalization folds into the convolution before it when nothing else reads the
  // convolution's raw output: then the folded weights give exactly the BN's output.
  const readers = new Map<number, number>();
  for (const layer of layers) for (const t of nodeOf(layer).inputTensors) readers.set(t.id, (readers.get(t.id) ?? 0) + 1);
  for (const t of model.outputs) readers.set(t.id, (readers.get(t.id) ?? 0) + 1);
  const foldInto = new Map<tf.layers.Layer, tf.layers.Layer>();
  const folded = new Set<tf.layers.Layer>();
  for (const bn of layers) {
    if (bn.getClassName() !== 'BatchNormalization') continue;
    const input = nodeOf(bn).inputTensors[0];
    const conv = input.sourceLayer;
    const activation = (conv.getConfig() as { activation?: string }).activation ?? 'linear';
    if (FOLDS_BATCH_NORM.has(conv.getClassName()) && activation === 'linear' && readers.get(input.id) === 1) {
      foldInto.set(conv, bn);
      folded.add(bn);
    }
  }

  const padded = new Map<string, OnnxValue>();
  const plain = (v: OnnxValue): OnnxValue => {
    if (v.pads === undefined || v.pads.every((p) => p === 0)) return { ...v, pads: undefined };
    const key = `${v.name}/${v.pads.join(',')}`;
    let out = padded.get(key);
    if (out === undefined) {
      const [top, left, bottom, right] = v.pads;
      const name = g.fresh(`${v.name}_pad`);
      g.node('Pad', [v.name, g.int64s(`${name}_pads`, [0, 0, top, left, 0, 0, bottom, right])], [name], [attr.string('mode', 'constant')]);
      out = { name, layout: v.layout, shape: v.shape };
      padded.set(key, out);
    }
    return out;
  };

  for (const layer of layers) {
    const node = nodeOf(layer);
    const ins = node.inputTensors.map((t: Symbolic) => {
      const v = values.get(t.id);
      if (v === undefined) throw vigilError('VIGIL_ERR_INTERNAL', `ONNX converter: ${layer.name} reads ${t.name} before it is computed`);
      return v;
    });
    const out = LAYER_EMITTERS[layer.getClassName()]({
      g,
      layer,
      inputs: ins,
      outShape: node.outputTensors[0].shape.slice(1),
      foldBn: foldInto.get(layer),
      folded: folded.has(layer),
      plain,
    });
    values.set(node.outputTensors[0].id, out);
  }

  return model.outputs.map((t) => {
    const v = plain(values.get(t.id)!);
    if (v.layout !== 'nchw') return v;
    const nhwc = g.fresh(`${v.name}_nhwc`);
    g.node('Transpose', [v.name], [nhwc], [attr.ints('perm', [0, 2, 3, 1])]);
    return { name: nhwc, layout: 'keras', shape: v.shape };
  });
}

/**
 * Declares `value` as a graph output called `name` (an Identity renames it when needed:
 * onnxruntime drops it at load time).
 */
export function declareOutput(g: GraphBuilder, value: OnnxValue, name: string): BoundaryValue {
  if (value.name !== name) g.node('Identity', [value.name], [name]);
  const dims = dimsOf([null, ...value.shape], name);
  g.output(name, dims);
  return { name, dims };
}

export interface ConvertOptions {
  /** Graph input names, in `model.inputs` order [default: the tfjs input names]. */
  inputNames?: string[];
  /** Graph output names, in `model.outputs` order [default: the tfjs output names]. */
  outputNames?: string[];
}

/**
 * Converts a tfjs LayersModel to a serialised ONNX ModelProto (opset 13) with Keras-layout
 * inputs and outputs (NHWC images), a dynamic batch axis, BatchNormalization folded into
 * convolutions where exact, and ZeroPadding2D folded into the convolution it feeds.
 * @throws VIGIL_ERR_ONNX_UNSUPPORTED for a layer class or config the converter lacks.
 * @example
 * const bytes = convertLayersModel(net, { inputNames: ['pixels'], outputNames: ['features'] });
 * const session = createSession(bytes); // ./runtime.js
 */
export function convertLayersModel(model: tf.LayersModel, options: ConvertOptions = {}): Uint8Array {
  const g = createGraphBuilder(model.name, CONVERTER_VERSION);
  const inputNames = options.inputNames ?? model.inputs.map((t) => t.name.split('/')[0]);
  model.inputs.forEach((t, i) => g.input(inputNames[i], dimsOf(t.shape, inputNames[i])));
  const outputNames = options.outputNames ?? model.outputs.map((t) => t.name.split('/')[0]);
  g.reserve(...outputNames);
  const outs = emitLayersModel(g, model, inputNames);
  outs.forEach((v, i) => declareOutput(g, v, outputNames[i]));
  return g.encode(`converted from tfjs model ${model.name} by vigil's converter ${CONVERTER_VERSION}`);
}

/**
 * What a conversion of `model` depends on, for a cache key: the converter version, the
 * topology and every weight (name, shape, bytes) in order.
 */
export function modelKeyParts(model: tf.LayersModel): (string | ArrayBufferView)[] {
  const parts: (string | ArrayBufferView)[] = [`vigil-onnx-converter/${CONVERTER_VERSION}`, JSON.stringify(model.toJSON(null, false))];
  for (const v of model.weights) parts.push(`${v.originalName}:${v.shape.join('x')}`, v.read().dataSync());
  return parts;
}
