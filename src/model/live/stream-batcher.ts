import { vigilError } from '../../errors.js';
import type { FrameProbs } from '../../timeline/types.js';
import type { Frame } from '../../video/types.js';
import { extractorEntry } from '../extractors/registry.js';
import { deltaLags } from '../input/feature-deltas.js';
import type { Focus } from '../input/frame-encoder.js';
import type { VigilModel } from '../model.js';
import { createStreamInput, type StreamInput } from '../input/stream-input.js';

/** A live frame's label: its probabilities and where the model looked. */
export interface LiveLabel extends FrameProbs {
  /** In fractions of the letterboxed decode; absent for a whole-frame model. */
  readonly focus?: Focus;
  /** Too still to need the CNN: the head saw the features of a still scene (motion gating). */
  readonly gated?: true;
}

/** Per stream: how still a frame must be for the CNN to be skipped. */
export interface StreamOptions {
  /**
   * Motion gating threshold: a frame whose encoded difference input has a mean absolute
   * value (in the extractor's pixel scale) under this skips the CNN, and the head is fed the
   * features of a still scene instead, computed once per model. Only models whose input is
   * a difference (`framediff`, `motioncrop`) can be gated; 0 or absent: never.
   */
  gate?: number;
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
  open(options?: StreamOptions): StreamLabeler;
  /** Frames labelled, engine calls made (`frames / runs` is the mean batch), frames gated. */
  readonly stats: { readonly frames: number; readonly runs: number; readonly gated: number };
  readonly streams: number;
  /**
   * Resolves once no frame is queued or in the engine: the model may then be freed (freeing
   * a session mid-call aborts the process). Labels of closed streams count until answered.
   */
  idle(): Promise<void>;
}

interface Stream {
  h: Float32Array;
  /** Per stream: framediff and velocities are differences within one stream. */
  input: StreamInput;
}

interface Pending {
  /** Undefined for a gated frame. */
  pixels: Float32Array | undefined;
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
  const stats = { frames: 0, runs: 0, gated: 0 };
  const gateable = manifest.input === 'framediff' || manifest.input === 'motioncrop';
  const offset = extractorEntry(manifest.extractor).pixelOffset;
  let still: Promise<Float32Array> | undefined;
  let streams = 0;
  let running = false;
  let draining: Promise<void> = Promise.resolve();

  /** The CNN's features of a frame with no motion: every input value at the offset. */
  function stillFeatures(): Promise<Float32Array> {
    still ??= extractor.extract(new Float32Array(frameFloats).fill(offset), 1);
    return still;
  }

  async function run(batch: Pending[]): Promise<void> {
    const moving = batch.filter((p) => p.pixels !== undefined);
    const gated = batch.filter((p) => p.pixels === undefined);
    if (moving.length > 0) await runMoving(moving);
    if (gated.length > 0) await runGated(gated);
  }

  async function runMoving(batch: Pending[]): Promise<void> {
    const n = batch.length;
    batch.forEach((p, i) => {
      pixels.set(p.pixels!, i * frameFloats);
      hs.set(p.stream.h, i * hidden);
    });
    const px = pixels.subarray(0, n * frameFloats);
    const h = hs.subarray(0, n * hidden);
    const out = live ? await live.step(px, h, n) : head.step(features(batch, await extractor.extract(px, n)), h, n);
    stats.frames += n;
    stats.runs += 1;
    settle(batch, out);
  }

  /** The head alone, on the still scene's features: no CNN run at all. */
  async function runGated(batch: Pending[]): Promise<void> {
    const n = batch.length;
    const f = await stillFeatures();
    const x = new Float32Array(n * f.length);
    batch.forEach((p, i) => {
      x.set(f, i * f.length);
      hs.set(p.stream.h, i * hidden);
    });
    const out = head.step(features(batch, x), hs.subarray(0, n * hidden), n);
    stats.frames += n;
    stats.gated += n;
    settle(batch, out, true);
  }

  function settle(batch: Pending[], out: { probs: Float32Array; h: Float32Array }, gated = false): void {
    batch.forEach((p, i) => {
      p.stream.h = out.h.slice(i * hidden, (i + 1) * hidden);
      const probs = out.probs.slice(i * k, (i + 1) * k);
      const label: { tMs: number; probs: Float32Array; focus?: Focus; gated?: true } = { tMs: p.tMs, probs };
      if (p.focus) label.focus = p.focus;
      if (gated) label.gated = true;
      p.resolve(label);
    });
  }

  /** The CNN's features of a batch, with each stream's velocities appended if the model has them. */
  function features(batch: Pending[], x: Float32Array): Float32Array {
    if (lags === 0) return x;
    const dim = extractor.featureSize;
    const width = (1 + lags) * dim;
    const out = new Float32Array(batch.length * width);
    batch.forEach((p, i) => out.set(p.stream.input.withDeltas(x.subarray(i * dim, (i + 1) * dim), 1), i * width));
    return out;
  }

  /**
   * The oldest queued frames, at most one per stream: a stream's next frame needs the state
   * its previous frame leaves, so two of one stream never share an engine call.
   */
  function takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const taken = new Set<Stream>();
    for (let i = 0; i < queue.length && batch.length < maxBatch;) {
      if (taken.has(queue[i].stream)) {
        i++;
        continue;
      }
      taken.add(queue[i].stream);
      batch.push(...queue.splice(i, 1));
    }
    return batch;
  }

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0) {
        const batch = takeBatch();
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
    async idle() {
      // A frame posted while the last drain wound down starts another one.
      while (running) await draining;
    },
    open(o = {}) {
      streams += 1;
      let closed = false;
      const gate = gateable && o.gate !== undefined && o.gate > 0 ? o.gate : 0;
      const stream: Stream = { h: new Float32Array(hidden), input: createStreamInput(model, 1) };
      return {
        label(frame) {
          if (closed) return Promise.reject(vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'label() on a closed stream'));
          const encoded = stream.input.encode([frame]);
          const focus = stream.input.focus(); // this frame's: the next encode moves it
          // Copied: the encoder's buffer is reused by this stream's next frame.
          const px = gate > 0 && meanAbs(encoded, offset) < gate ? undefined : encoded.slice();
          return new Promise<LiveLabel>((resolve, reject) => {
            queue.push({ pixels: px, stream, tMs: frame.tMs, focus, resolve, reject });
            if (!running) {
              running = true;
              draining = new Promise<void>((r) => setImmediate(r)).then(drain);
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

/** Mean of |v - offset|: how much a difference input moved (0 for a still scene). */
export function meanAbs(v: Float32Array, offset: number): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += Math.abs(v[i] - offset);
  return sum / v.length;
}
