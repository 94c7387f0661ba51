import type { TimelineJson } from '../../timeline/format.js';
import type { Focus } from '../input/frame-encoder.js';
import type { StreamOptions } from '../live/stream-batcher.js';

/** What a recorded clip's labelling takes across the thread boundary (no callbacks, no signals). */
export interface ClipJobOptions {
  fps?: number;
  windowMs?: number;
  minHoldMs?: number;
  batch?: number;
}

/**
 * What crosses between the main thread and an inference worker. Pixels travel as the
 * frame's own ArrayBuffer, transferred (moved, not copied); probabilities come back the
 * same way. Order on one port is kept, so a `reset` applies to the frames posted after it.
 */
export type ToWorker =
  | { op: 'open'; stream: number; model: string; options: StreamOptions }
  | { op: 'frame'; stream: number; seq: number; tMs: number; width: number; height: number; data: Uint8Array }
  | { op: 'reset'; stream: number }
  | { op: 'close'; stream: number }
  /** Label a recorded clip end to end in this worker: ffmpeg decodes while the CNN runs. */
  | { op: 'clip'; job: number; model: string; source: string; options: ClipJobOptions }
  | { op: 'cancel'; job: number }
  /**
   * Free this model once nothing here uses it (its streams' frames in flight answered first).
   * Ignored while a stream or clip of it is open here: one opened after the pool decided wins.
   */
  | { op: 'unload'; model: string }
  /** Finish the engine call under way, free every session, then exit. */
  | { op: 'shutdown' };

export type FromWorker =
  | { op: 'opened'; stream: number; engine: string }
  | {
      op: 'label';
      stream: number;
      seq: number;
      tMs: number;
      probs: Float32Array;
      focus?: Focus;
      gated?: true;
      /** This worker's counters for the stream's model, cumulative: `frames / runs` is its mean batch. */
      frames: number;
      runs: number;
    }
  /** `seq` absent: the stream could not open. */
  | { op: 'failed'; stream: number; seq?: number; code: string; message: string }
  | { op: 'progress'; job: number; tMs: number; durationMs: number | null }
  | { op: 'clip-done'; job: number; timeline: TimelineJson; engine: string }
  | { op: 'clip-failed'; job: number; code: string; message: string }
  /** The models loaded here now, sent whenever that changes (a load, a failed load, an unload). */
  | { op: 'models'; loaded: string[] }
  | { op: 'down' };
