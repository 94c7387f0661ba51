import { asVigilError, type VigilError } from '../errors.js';
import { log } from '../log.js';
import { round } from '../numbers.js';
import type { Store } from '../store/index.js';
import type { ModelPool } from './model-pool.js';
import type { ServerMessage } from './protocol.js';

/** Labels uploaded clips in the background, one at a time, with progress over WebSocket. */
export interface JobQueue {
  /** Queues a clip that is `pending`; the model is the clip's or the default. */
  add(clipId: string, model: string): void;
  readonly waiting: number;
  /** Stops after the running clip is cancelled; it goes back to `pending` for the next start. */
  close(): Promise<void>;
}

/**
 * What labelling one clip came to: `ready` or `failed` (its status says so, and a `clip`
 * message went out), `cancelled` (the signal fired; its status is left to the caller),
 * `finished` (already ready or failed: nothing to do) or `missing` (not in the store).
 */
export type ClipOutcome = 'ready' | 'failed' | 'cancelled' | 'finished' | 'missing';

/** Labels one clip and keeps its status and its subscribers up to date: the part every job queue shares. */
export interface ClipLabeller {
  label(clipId: string, model: string, signal: AbortSignal): Promise<ClipOutcome>;
  /** Marks a clip failed with an error, as a failed labelling would (no-op for a clip that is gone). */
  fail(clipId: string, err: VigilError): Promise<void>;
}

export interface LabellerDeps {
  store: Store;
  models: ModelPool;
  publish(msg: ServerMessage): void;
}

export function createClipLabeller(o: LabellerDeps): ClipLabeller {
  async function fail(clipId: string, err: VigilError): Promise<void> {
    log.warn(`clip ${clipId}: ${err.code}: ${err.message}`);
    if (!(await o.store.clips.get(clipId))) return;
    const error = { code: err.code, message: err.message };
    await o.store.clips.setStatus(clipId, 'failed', { error });
    o.publish({ type: 'clip', clipId, status: 'failed', error });
  }

  async function label(clipId: string, model: string, signal: AbortSignal): Promise<ClipOutcome> {
    const clip = await o.store.clips.get(clipId);
    // A queue that may hand a clip out twice (the fleet's, after a lost acknowledgement) must
    // not label a finished one again.
    if (!clip) return 'missing';
    if (clip.status === 'ready' || clip.status === 'failed') return 'finished';
    await o.store.clips.setStatus(clipId, 'processing');
    o.publish({ type: 'clip', clipId, status: 'processing', progress: 0 });
    try {
      let last = 0;
      const timeline = await o.models.labelClip(model, await o.store.clips.videoPath(clipId), {
        signal,
        onProgress(tMs, durationMs) {
          const progress = durationMs ? Math.min(1, tMs / durationMs) : 0;
          // At most a message per percent.
          if (progress - last < 0.01) return;
          last = progress;
          o.publish({ type: 'clip', clipId, status: 'processing', progress: round(progress, 3) });
        },
      });
      // The stored timeline names the clip, not the server's path to it.
      const named = { ...timeline, source: { ...timeline.source, uri: `clip:${clipId}` } };
      await o.store.clips.setStatus(clipId, 'ready', { timeline: named, durationMs: timeline.source.durationMs ?? undefined });
      o.publish({ type: 'clip', clipId, status: 'ready', progress: 1 });
      return 'ready';
    } catch (e) {
      if (signal.aborted) return 'cancelled';
      await fail(clipId, asVigilError(e));
      return 'failed';
    }
  }

  return { label, fail };
}

/**
 * One clip at a time on purpose: live cameras share the machine, and a clip runs on one
 * inference worker (one core) beside them, leaving the others to the cameras.
 */
export function createJobQueue(o: LabellerDeps): JobQueue {
  const labeller = createClipLabeller(o);
  const queue: Array<{ clipId: string; model: string }> = [];
  const stopCtl = new AbortController();
  let running: Promise<void> | undefined;

  async function runOne(clipId: string, model: string): Promise<void> {
    const outcome = await labeller.label(clipId, model, stopCtl.signal);
    // Labelled again at the next start (app.ts re-queues pending clips).
    if (outcome === 'cancelled') await o.store.clips.setStatus(clipId, 'pending');
  }

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0 && !stopCtl.signal.aborted) {
        const next = queue.shift() as { clipId: string; model: string };
        // A clip deleted while it was labelled cannot take its status: skip it, go on.
        await runOne(next.clipId, next.model).catch((e) => log.warn(`clip ${next.clipId}: ${(e as Error).message}`));
      }
    } finally {
      running = undefined;
    }
  }

  return {
    add(clipId, model) {
      queue.push({ clipId, model });
      o.publish({ type: 'clip', clipId, status: 'pending' });
      running ??= drain();
    },
    get waiting() {
      return queue.length;
    },
    async close() {
      stopCtl.abort();
      queue.length = 0;
      await running;
    },
  };
}
