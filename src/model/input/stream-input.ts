import type { Frame } from '../../video/types.js';
import { extractorEntry } from '../extractors/registry.js';
import { createFeatureDeltas, deltaLags } from './feature-deltas.js';
import { createFrameEncoder, type Focus } from './frame-encoder.js';
import type { VigilModel } from '../model.js';

/**
 * What one stream remembers on the way into a model: its previous frame (for `framediff`
 * and `motioncrop` input, which also keeps where the motion is) and its previous features
 * (for `deltas`). The labeler and the live batcher both hold one per stream, so the two
 * paths cannot drift apart.
 */
export interface StreamInput {
  /** Consecutive frames of this stream as CNN input; a view valid until the next call. */
  encode(frames: readonly Frame[]): Float32Array;
  /** This stream's consecutive features with their velocities appended, if the model has them. */
  withDeltas(features: Float32Array, batch: number): Float32Array;
  /** Where the CNN looked in the last encoded frame (see `FrameEncoder.focus`). */
  focus(): Focus | undefined;
  reset(): void;
}

/** @param maxBatch most frames per `encode` call */
export function createStreamInput(model: Pick<VigilModel, 'manifest' | 'extractor'>, maxBatch: number): StreamInput {
  const { manifest, extractor } = model;
  const entry = extractorEntry(manifest.extractor);
  const pixels = createFrameEncoder({
    mode: manifest.input,
    scale: entry.pixelScale,
    offset: entry.pixelOffset,
    size: manifest.inputSize,
    maxBatch,
    owner: `model ${manifest.name}`,
  });
  const lags = deltaLags(manifest.deltas);
  const deltas = lags.length > 0 ? createFeatureDeltas(extractor.featureSize, lags) : undefined;
  return {
    encode: (frames) => pixels.encode(frames),
    withDeltas: (features, batch) => (deltas ? deltas.apply(features, batch) : features),
    focus: () => pixels.focus(),
    reset() {
      pixels.reset();
      deltas?.reset();
    },
  };
}
