import * as tf from '@tensorflow/tfjs';

/** The parts of a tfjs `model.json` that loading reads: layers models and graph models alike. */
export interface TfjsModelJson {
  readonly modelTopology?: object;
  /** A graph model's inputs and outputs by tensor name. */
  readonly signature?: object;
  readonly weightsManifest?: readonly { readonly weights: readonly object[] }[];
}

/**
 * Loading from a `model.json` and its weight files concatenated in manifest order, with no
 * file or URL access by tfjs: model folders, weights bundled in packages, graphs built in tests.
 */
function fromMemory(json: TfjsModelJson, weights: Uint8Array): tf.io.IOHandler {
  return tf.io.fromMemory({
    modelTopology: json.modelTopology,
    signature: json.signature,
    weightSpecs: (json.weightsManifest ?? []).flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
    // A copy of exactly the view's bytes: a Buffer's `.buffer` may be a shared pool.
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
  });
}

/** A tfjs layers model from its `model.json` and weight bytes (MobileNetV2, a model folder's head). */
export function loadLayersModelFromMemory(json: TfjsModelJson, weights: Uint8Array): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fromMemory(json, weights));
}

/** A tfjs graph model from its `model.json` and weight bytes (MoveNet); the signature names its inputs and outputs. */
export function loadGraphModelFromMemory(json: TfjsModelJson, weights: Uint8Array): Promise<tf.GraphModel> {
  return tf.loadGraphModel(fromMemory(json, weights));
}
