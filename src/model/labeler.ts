import { vigilError } from '../errors.js';
import type { FrameProbs } from '../timeline/types.js';
import type { Frame } from '../video/types.js';
import { extractorEntry } from './extractors/registry.js';
import { createInputEncoder } from './input.js';
import type { VigilModel } from './model.js';

/** Labels one stream's frames in order, carrying the recurrent state between calls. */
export interface Labeler {
  /** One CNN pass and one recurrent step: the live path. */
  label(frame: Frame): Promise<FrameProbs>;
  /** Consecutive frames of the same stream in one CNN batch; same numbers as `label` each. */
  labelBatch(frames: readonly Frame[]): Promise<FrameProbs[]>;
  /** Starts over: zero state, no previous frame (a new clip, a reconnected camera). */
  reset(): void;
}

/**
 * @param model a loaded model, which may be shared by many labelers.
 * @param [options.maxBatch=8] largest batch `labelBatch` accepts (sizes the pixel buffer).
 */
export function createLabeler(model: VigilModel, options: { maxBatch?: number } = {}): Labeler {
  const { manifest, extractor, head, live } = model;
  const entry = extractorEntry(manifest.extractor);
  const size = manifest.inputSize;
  const frameFloats = size * size * 3;
  const maxBatch = options.maxBatch ?? 8;
  const encoder = createInputEncoder(manifest.input, entry.pixelScale, entry.pixelOffset);
  // One buffer for the life of the labeler: the per-frame path allocates no pixel arrays.
  const pixels = new Float32Array(maxBatch * frameFloats);
  let h: Float32Array = new Float32Array(head.hidden);

  function encode(frames: readonly Frame[]): void {
    if (frames.length > maxBatch) {
      throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `batch of ${frames.length} frames; maxBatch is ${maxBatch}`);
    }
    frames.forEach((f, i) => {
      if (f.width !== size || f.height !== size) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `frame is ${f.width}x${f.height}; model ${manifest.name} takes ${size}x${size}`);
      }
      encoder.encode(f.data, pixels, i * frameFloats);
    });
  }

  return {
    async label(frame) {
      encode([frame]);
      // One engine call where the engine fuses CNN and step (ort); same numbers either way.
      const out = live
        ? await live.step(pixels.subarray(0, frameFloats), h)
        : head.step(await extractor.extract(pixels.subarray(0, frameFloats), 1), h);
      h = out.h;
      return { tMs: frame.tMs, probs: out.probs };
    },
    async labelBatch(frames) {
      if (frames.length === 0) return [];
      encode(frames);
      const x = await extractor.extract(pixels.subarray(0, frames.length * frameFloats), frames.length);
      const out = head.sequence(x, frames.length, h);
      h = out.h;
      const k = head.numClasses;
      return frames.map((f, i) => ({ tMs: f.tMs, probs: out.probs.subarray(i * k, (i + 1) * k) }));
    },
    reset() {
      h = new Float32Array(head.hidden);
      encoder.reset();
    },
  };
}
