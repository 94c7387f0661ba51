/**
 * The JobQueue a fleet node's uploads go through (app.ts uses it instead of the in-process
 * one): adding puts the clip on the fleet's job stream, and a worker node's stream runs the
 * jobs with the same per-clip labelling as a lone server. The stream exists once the node has
 * joined, after the port is bound; what is added before that waits for it here.
 */
import { vigilError } from '../errors.js';
import { log } from '../log.js';
import { createClipLabeller, type JobQueue, type LabellerDeps } from '../server/jobs.js';
import type { JobHandlers, JobStream, StopReason } from './job-stream.js';

export interface FleetJobQueue extends JobQueue {
  /** What a worker node's job stream runs. */
  readonly handlers: JobHandlers;
  /** Hands over the fleet's stream once joined; what was added before goes on it now. */
  attach(stream: JobStream): void;
  /**
   * The start-up re-queue: puts back on the stream only the pending clips that have no entry.
   * Re-adding every pending clip, as a lone server does, would add a duplicate each time any
   * node starts (the entries of a fleet outlive its nodes); relying on XAUTOCLAIM alone would
   * lose the clips whose entry is gone (a Redis restarted empty, an add while it was away).
   */
  requeue(clips: ReadonlyArray<{ id: string; model: string }>): void;
}

export function createFleetJobQueue(o: LabellerDeps): FleetJobQueue {
  const labeller = createClipLabeller(o);
  let stream: JobStream | undefined;
  let closed = false;
  /** Work asked for before the stream was attached, in order. */
  const early: Array<(s: JobStream) => Promise<void>> = [];

  const later = (work: (s: JobStream) => Promise<void>, what: string) => {
    if (closed) return;
    const run = (s: JobStream) =>
      work(s).catch((e: Error) => log.warn(`${what}: ${e.message}; it stays pending until a node starts again`));
    if (stream) void run(stream);
    else early.push(run);
  };

  const handlers: JobHandlers = {
    async run(job, signal) {
      const outcome = await labeller.label(job.clipId, job.model, signal);
      // Deleted since, or uploaded to a node whose store this one does not share (see docs/fleet.md).
      if (outcome === 'missing') log.warn(`clip ${job.clipId}: not in this node's store; its upload job is dropped`);
      if (outcome !== 'cancelled') return 'done';
      // This node closes: the clip waits for the worker that takes its entry. Lost to another
      // worker: that one has set it `processing` already.
      if ((signal.reason as StopReason) === 'close') await o.store.clips.setStatus(job.clipId, 'pending');
      return 'cancelled';
    },
    async abandon(job) {
      const times = job.deliveries - 1;
      await labeller.fail(
        job.clipId,
        vigilError(
          'VIGIL_ERR_JOB_ABANDONED',
          `clip ${job.clipId} was taken up ${times} times and never finished (its workers died or lost Redis)`,
        ),
      );
    },
  };

  return {
    handlers,
    add(clipId, model) {
      o.publish({ type: 'clip', clipId, status: 'pending' });
      later(async (s) => void (await s.add(clipId, model)), `clip ${clipId}: cannot queue it on the fleet`);
    },
    requeue(clips) {
      later(async (s) => {
        const queued = await s.queued(clips.map((c) => c.id));
        for (const c of clips) if (!queued.has(c.id)) await s.add(c.id, c.model);
      }, 'pending clips: cannot re-queue them on the fleet');
    },
    attach(s) {
      stream = s;
      // One after another, so the stream keeps the order they were asked in.
      void early.splice(0).reduce((done, run) => done.then(() => run(s)), Promise.resolve());
    },
    get waiting() {
      return stream ? stream.waiting() : early.length;
    },
    // The stream is the fleet node's and closes with it (cancelling the running clip, whose entry another worker takes).
    close() {
      closed = true;
      early.length = 0;
      return Promise.resolve();
    },
  };
}
