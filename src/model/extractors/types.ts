import type * as tf from '@tensorflow/tfjs';
import type { EngineName } from '../runtime/engine.js';
import type { OrtExtractorOptions, OrtFeatureExtractor } from '../runtime/onnx/extractor.js';

/**
 * A pretrained CNN that turns frames into feature vectors. Engines (tfjs, onnxruntime) sit
 * under this interface; callers only see pixels in, features out.
 */
export interface FeatureExtractor {
  readonly name: string;
  /** Square input side in pixels; frames are decoded straight to this size. */
  readonly inputSize: number;
  readonly featureSize: number;
  /** FLOPs for one frame (multiply-add = 2), for throughput figures; NaN where not counted (graph models). */
  readonly flopsPerFrame: number;
  /**
   * @param pixels `batch * inputSize * inputSize * 3` floats, already scaled to the range
   *   the network was trained on (see {@link ExtractorEntry.pixelScale}).
   * @returns `batch * featureSize` floats, row per frame.
   */
  extract(pixels: Float32Array, batch: number): Promise<Float32Array>;
  dispose(): void;
}

export interface ExtractorEntry {
  readonly description: string;
  /** Where the weights come from (they ship inside an npm package: no download). */
  readonly weights: string;
  readonly inputSize: number;
  readonly featureSize: number;
  /** Byte value v becomes v * pixelScale + pixelOffset, as in the network's training. */
  readonly pixelScale: number;
  readonly pixelOffset: number;
  /**
   * Engines that can run it. `ort` needs {@link loadLayers} (a tfjs layers model for the
   * layers converter) or {@link loadOnnx} (an extractor that converts its own network, such
   * as MoveNet's tfjs graph model); an extractor with neither runs on tfjs even when the
   * engine is `ort`, and the head of a model using it may still run on `ort` (see `loadModel`).
   */
  readonly engines: readonly EngineName[];
  /** The extractor on tfjs. */
  load(): Promise<FeatureExtractor>;
  /** The network as a tfjs layers model, for conversion to other engines; only where `engines` has `ort`. */
  loadLayers?(): Promise<LoadedLayers>;
  /**
   * The extractor on onnxruntime, for a network that is not a layers model: it converts the
   * network (or reads the conversion from the ONNX cache) and does its own post-processing.
   * Only where `engines` has `ort`; used instead of {@link loadLayers} when both exist.
   */
  loadOnnx?(options?: OrtExtractorOptions): Promise<OrtFeatureExtractor>;
}

/** A tfjs layers model and how to free it (it may share weights with a larger model). */
export interface LoadedLayers {
  readonly model: tf.LayersModel;
  dispose(): void;
}
