import { vigilError } from '../errors.js';
import type { FrameProbs } from '../timeline/types.js';
import type { Frame } from '../video/types.js';
import { deltaLags } from './feature-deltas.js';
import type { Focus } from './input.js';
import type { VigilModel } from './model.js';
import { createStreamInput, type StreamInput } from './stream-input.js';

/** A live frame's label: its probabilities and where the model looked. */
export interface LiveLabel extends FrameProbs {
  /** In fractions of the letterboxed decode; absent for a whole-frame model. */
  readonly focus?: Focus;
}

/**
 * One live stream's labeler; its recurrent state and previous frame live with it (in this
 * thread, or in an inference worker: see workers/pool.ts).
 */
export interface StreamLabeler {
  /**
   * One CNN pass and one recurrent step; frames of all open streams share engine calls.
   * The frame's pixels may be handed over (moved to a worker): do not read them afterwards.
   */
  label(frame: Frame): Promise<LiveLabel>;
  /** Zero state, no previous frame (a reconnected camera); applies to frames handed in after it. */
  reset(): void;
  /** Leaves the batcher; a pending `label` still resolves. */
  close(): void;
}

/** Shares one loaded model between many live streams (cameras). */
export interface StreamBatcher {
  open(): StreamLabeler;
  /** Frames labelled and engine calls made: `frames / runs` is the mean batch. */
  readonly stats: { readonly frames: number; readonly runs: number };
  readonly streams: number;
}

interface Stream {
  h: Float32Array;
  /** Per stream: framediff and velocities are differences within one stream. */
  input: StreamInput;
}

interface Pending {
  pixels: Float32Array;
  stream: Stream;
  tMs: number;
  focus: Focus | undefined;
  resolve(p: LiveLabel): void;
  reject(e: unknown): void;
}

/**
 * Batches the frames of many streams into one engine call. While a call runs, frames that
 * arrive queue up and go together in the next one, so a quiet thread answers each frame
 * at once (batch 1) and a busy one makes fewer, larger calls. The engine call blocks its
 * thread: each call starts a loop turn later (setImmediate), so frames that arrived as
 * messages meanwhile (an inference worker's port) are in the queue and share it.
 * @param [options.maxBatch=16] most frames per engine call.
 */
export function createStreamBatcher(model: VigilModel, options: { maxBatch?: number } = {}): StreamBatcher {
  const maxBatch = options.maxBatch ?? 16;
  const { manifest, extractor, head, live } = model;
  const S = manifest.inputSize;
  const frameFloats = S * S * 3;
  const hidden = head.hidden;
  const k = head.numClasses;
  const lags = deltaLags(manifest.deltas).length;
  const pixels = new Float32Array(maxBatch * frameFloats);
  const hs = new Float32Array(maxBatch * hidden);
  const queue: Pending[] = [];
  const stats = { frames: 0, runs: 0 };
  let streams = 0;
  let running = false;

  async function run(batch: Pending[]): Promise<void> {
    const n = batch.length;
    batch.forEach((p, i) => {
      pixels.set(p.pixels, i * frameFloats);
      hs.set(p.stream.h, i * hidden);
    });
    const px = pixels.subarray(0, n * frameFloats);
    const h = hs.subarray(0, n * hidden);
    const out = live ? await live.step(px, h, n) : head.step(await features(batch, px), h, n);
    stats.frames += n;
    stats.runs += 1;
    batch.forEach((p, i) => {
      p.stream.h = out.h.slice(i * hidden, (i + 1) * hidden);
      const probs = out.probs.slice(i * k, (i + 1) * k);
      p.resolve(p.focus ? { tMs: p.tMs, probs, focus: p.focus } : { tMs: p.tMs, probs });
    });
  }

  async function features(batch: Pending[], px: Float32Array): Promise<Float32Array> {
    const x = await extractor.extract(px, batch.length);
    if (lags === 0) return x;
    const dim = extractor.featureSize;
    const width = (1 + lags) * dim;
    const out = new Float32Array(batch.length * width);
    batch.forEach((p, i) => out.set(p.stream.input.withDeltas(x.subarray(i * dim, (i + 1) * dim), 1), i * width));
    return out;
  }

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatch);
        try {
          await run(batch);
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
        // A loop turn between calls: frames posted while this one ran join the next.
        if (queue.length > 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      running = false;
    }
  }

  return {
    stats,
    get streams() {
      return streams;
    },
    open() {
      streams += 1;
      let closed = false;
      const stream: Stream = { h: new Float32Array(hidden), input: createStreamInput(model, 1) };
      return {
        label(frame) {
          if (closed) return Promise.reject(vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'label() on a closed stream'));
          // Copied: the encoder's buffer is reused by this stream's next frame.
          const px = stream.input.encode([frame]).slice();
          const focus = stream.input.focus(); // this frame's: the next encode moves it
          return new Promise<LiveLabel>((resolve, reject) => {
            queue.push({ pixels: px, stream, tMs: frame.tMs, focus, resolve, reject });
            if (!running) {
              running = true;
              setImmediate(() => void drain());
            }
          });
        },
        reset() {
          stream.h = new Float32Array(hidden);
          stream.input.reset();
        },
        close() {
          if (!closed) streams -= 1;
          closed = true;
        },
      };
    },
  };
}
