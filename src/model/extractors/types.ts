import type * as tf from '@tensorflow/tfjs';
import type { EngineName } from '../engine.js';

/**
 * A pretrained CNN that turns frames into feature vectors. Engines (tfjs today, a native
 * runtime later) sit under this interface; callers only see pixels in, features out.
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
   * Engines that can run it. `ort` needs {@link loadLayers} (the converter takes tfjs layers
   * models); an extractor without it runs on tfjs even when the engine is `ort`, and the
   * head of a model using it may still run on `ort` (see `loadModel`).
   */
  readonly engines: readonly EngineName[];
  /** The extractor on tfjs. */
  load(): Promise<FeatureExtractor>;
  /** The network as a tfjs layers model, for conversion to other engines; only where `engines` has `ort`. */
  loadLayers?(): Promise<LoadedLayers>;
}

/** A tfjs layers model and how to free it (it may share weights with a larger model). */
export interface LoadedLayers {
  readonly model: tf.LayersModel;
  dispose(): void;
}
