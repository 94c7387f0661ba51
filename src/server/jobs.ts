import { asVigilError } from '../errors.js';
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
 * One clip at a time on purpose: live cameras share the machine, and a clip runs on one
 * inference worker (one core) beside them, leaving the others to the cameras.
 */
export function createJobQueue(o: { store: Store; models: ModelPool; publish(msg: ServerMessage): void }): JobQueue {
  const queue: Array<{ clipId: string; model: string }> = [];
  const stopCtl = new AbortController();
  let running: Promise<void> | undefined;

  async function runOne(clipId: string, model: string): Promise<void> {
    const clip = await o.store.clips.get(clipId);
    if (!clip) return;
    await o.store.clips.setStatus(clipId, 'processing');
    o.publish({ type: 'clip', clipId, status: 'processing', progress: 0 });
    try {
      let last = 0;
      const timeline = await o.models.labelClip(model, await o.store.clips.videoPath(clipId), {
        signal: stopCtl.signal,
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
    } catch (e) {
      if (stopCtl.signal.aborted) {
        await o.store.clips.setStatus(clipId, 'pending');
        return;
      }
      const err = asVigilError(e);
      log.warn(`clip ${clipId}: ${err.code}: ${err.message}`);
      const error = { code: err.code, message: err.message };
      await o.store.clips.setStatus(clipId, 'failed', { error });
      o.publish({ type: 'clip', clipId, status: 'failed', error });
    }
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
