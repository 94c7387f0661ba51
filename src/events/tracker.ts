import { setTimeout as sleep } from 'node:timers/promises';
import { isVigilError } from '../errors.js';
import { log } from '../log.js';
import { newEventId } from '../store/ids.js';
import { round } from '../numbers.js';
import type { EventProgress, EventRepo } from '../store/index.js';
import type { SegmentEvent } from '../timeline/segments.js';
import type { Segment } from '../timeline/types.js';
import type { AlertRule, EventChange, VigilEvent } from './types.js';

/** Where a labelled frame stands: its stream time and when the source showed it (epoch ms). */
export interface FrameTime {
  tMs: number;
  wallMs: number;
}

/** Turns one camera's segments into events (see {@link createEventTracker}). */
export interface EventTracker {
  /**
   * The segment events of one labelled frame (or of a session's end), with that frame's time.
   * Stored in the order pushed (one chain per tracker); the promise settles once these are
   * stored and their changes told, and never rejects (failures are logged).
   */
  push(events: readonly SegmentEvent[], at: FrameTime): Promise<void>;
}

export interface TrackerOptions {
  cameraId: string;
  /** The model's name. */
  model: string;
  rule: AlertRule;
  repo: EventRepo;
  /** The camera's latest picture (its preview), taken at each new peak. */
  snapshot(): Buffer | undefined;
  /** Called unbound with each change, in order. */
  onChange(change: EventChange): void;
  /** Least stream time between two `update` changes, and between two snapshot writes [everyMs=1000]. */
  everyMs?: number;
  /**
   * How long a write the store refuses (VIGIL_ERR_STORE: a PostgreSQL restarting, a disk
   * briefly full) is tried again before it is given up and logged [retryForMs=30000]. The
   * bound is per outage: once it is spent, later writes are tried once each until one succeeds.
   * Frames meanwhile wait their turn in the chain, so nothing is reordered.
   */
  retryForMs?: number;
}

/**
 * An event is an alert segment that has lasted `rule.minDurationMs` with a peak of at least
 * `rule.minConfidence`: it opens (`start`) on the segment update that passes both, follows the
 * segment (an `update` at most every `everyMs` of stream time, its figures stored with it, so a
 * crash loses at most that much of the event), and ends with it (`end`, with the segment's final
 * figures). Storing every frame's figures instead made most of a fleet's PostgreSQL writes
 * (3.47 rows a second a camera on the demo clip against 1.13, `npm run bench:fleet`). Its
 * wall-clock times come from the frame that reported them: a backdated start lies
 * `tMs - startMs` before that frame.
 * A snapshot is taken at each new peak and written at most every `everyMs` (the last one when
 * the event ends). Nothing here throws into the camera: a failure is logged and labelling goes on.
 */
export function createEventTracker(o: TrackerOptions): EventTracker {
  const everyMs = o.everyMs ?? 1000;
  const retryForMs = o.retryForMs ?? 30_000;
  const alerts = new Set(o.rule.labels);
  // Since when the store has refused every write (undefined: it answers).
  let downSince: number | undefined;

  async function stored<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await write();
        if (downSince !== undefined) log.info(`camera ${o.cameraId}: events: the store answers again`);
        downSince = undefined;
        return result;
      } catch (e) {
        if (!isVigilError(e, 'VIGIL_ERR_STORE')) throw e;
        downSince ??= Date.now();
        if (Date.now() - downSince >= retryForMs) throw e;
        if (attempt === 0) log.warn(`camera ${o.cameraId}: events: ${e.message}; trying again for up to ${retryForMs} ms`);
        await sleep(Math.min(2000, 100 * 2 ** attempt));
      }
    }
  }
  interface Open {
    startMs: number;
    event?: VigilEvent;
    /** Stream time of the last `update` change and snapshot write. */
    sentMs: number;
    snapMs: number;
    peak: number;
    jpeg?: Buffer;
  }
  let open: Open | undefined;

  const wall = (at: FrameTime, tMs: number) => Math.round(at.wallMs + (tMs - at.tMs));
  const figures = (s: Segment, at: FrameTime): EventProgress => ({
    endMs: s.endMs,
    endedAtMs: wall(at, s.endMs),
    peak: round(s.peak, 4),
    mean: round(s.confidence, 4),
  });
  const change = (type: EventChange['type'], event: VigilEvent) => {
    try {
      o.onChange({ type, event });
    } catch (e) {
      log.warn(`camera ${o.cameraId}: event listener failed: ${(e as Error).message}`);
    }
  };

  async function writeSnapshot(cur: Open, tMs: number): Promise<boolean> {
    if (!cur.event || !cur.jpeg) return false;
    const { id } = cur.event;
    const jpeg = cur.jpeg;
    cur.jpeg = undefined;
    cur.snapMs = tMs;
    return await stored(() => o.repo.saveSnapshot(id, jpeg));
  }

  async function follow(cur: Open, s: Segment, at: FrameTime, final: boolean): Promise<void> {
    if (s.peak > cur.peak) {
      cur.peak = s.peak;
      cur.jpeg = o.snapshot() ?? cur.jpeg;
    }
    if (!cur.event) {
      if (s.endMs - s.startMs < o.rule.minDurationMs || s.peak < o.rule.minConfidence) return;
      const start = {
        cameraId: o.cameraId,
        model: o.model,
        label: s.label,
        startMs: s.startMs,
        startedAtMs: wall(at, s.startMs),
        ...figures(s, at),
      };
      // Its id chosen here: a retry after a failure whose insert did commit is still one event.
      const id = newEventId();
      cur.event = await stored(() => o.repo.open(start, id));
      cur.sentMs = at.tMs;
      // Just inserted, and this tracker's chain is the only writer of an active event's
      // figures and snapshot: a review or clip given meanwhile is read back by the next progress.
      if (await writeSnapshot(cur, at.tMs)) cur.event = { ...cur.event, snapshot: true };
      change('start', cur.event);
      if (!final) return;
    }
    const id = cur.event.id;
    if (final) {
      await writeSnapshot(cur, at.tMs);
      const last = figures(s, at);
      try {
        change('end', await stored(() => o.repo.end(id, last)));
      } catch (e) {
        // This node lost the camera while cut off, and its new node ended the event: one end.
        if (!isVigilError(e, 'VIGIL_ERR_CONFLICT')) throw e;
        log.info(`camera ${o.cameraId}: event ${id} was ended by the camera's new node`);
      }
      return;
    }
    const firstSnapshot = !cur.event.snapshot && cur.jpeg !== undefined;
    // The snapshot before the figures: the row the figures' write returns then says it has one.
    const snapped = (firstSnapshot || at.tMs - cur.snapMs >= everyMs) && (await writeSnapshot(cur, at.tMs));
    if (!snapped && at.tMs - cur.sentMs < everyMs) return;
    // The write returns the row, with the review or clip others gave it: no second read.
    const progress = figures(s, at);
    const now = await stored(() => o.repo.progress(id, progress));
    // None: it ended meanwhile (its camera's new node ended it).
    if (now) {
      cur.sentMs = at.tMs;
      cur.event = now;
      change('update', now);
    }
  }

  async function one(e: SegmentEvent, at: FrameTime): Promise<void> {
    const s = e.segment;
    if (!alerts.has(s.label)) return;
    if (e.type === 'start') open = { startMs: s.startMs, sentMs: -Infinity, snapMs: -Infinity, peak: -Infinity };
    // A segment this tracker did not see start (it started before the camera's tracker) is not followed.
    if (!open || open.startMs !== s.startMs) return;
    const cur = open;
    if (e.type === 'end') open = undefined;
    await follow(cur, s, at, e.type === 'end');
  }

  // Frames arrive faster than a remote store may answer: each push waits for the one before,
  // so an event opens before it progresses and ends after its last progress.
  let chain: Promise<void> = Promise.resolve();

  return {
    push(events, at) {
      // Most frames move no segment of an alert label: no turn of the chain for them.
      if (!events.some((e) => alerts.has(e.segment.label))) return chain;
      const batch = [...events];
      chain = chain.then(async () => {
        for (const e of batch) {
          try {
            await one(e, at);
          } catch (err) {
            log.warn(`camera ${o.cameraId}: events: ${(err as Error).message}`);
          }
        }
      });
      return chain;
    },
  };
}
