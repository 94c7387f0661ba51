import type { FrameProbs } from '../timeline/types.js';
import type { Frame } from '../video/types.js';
import type { VigilModel } from './model.js';
import { createStreamInput } from './input/stream-input.js';

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
  const { extractor, head, live } = model;
  const input = createStreamInput(model, options.maxBatch ?? 8);
  const features = async (px: Float32Array, n: number) => input.withDeltas(await extractor.extract(px, n), n);
  let h: Float32Array = new Float32Array(head.hidden);

  return {
    async label(frame) {
      const px = input.encode([frame]);
      // One engine call where the engine fuses CNN and step (ort); same numbers either way.
      const out = live ? await live.step(px, h) : head.step(await features(px, 1), h);
      h = out.h;
      return { tMs: frame.tMs, probs: out.probs };
    },
    async labelBatch(frames) {
      if (frames.length === 0) return [];
      const x = await features(input.encode(frames), frames.length);
      const out = head.sequence(x, frames.length, h);
      h = out.h;
      const k = head.numClasses;
      return frames.map((f, i) => ({ tMs: f.tMs, probs: out.probs.subarray(i * k, (i + 1) * k) }));
    },
    reset() {
      h = new Float32Array(head.hidden);
      input.reset();
    },
  };
}
