import { vigilError } from '../errors.js';
import { median } from '../numbers.js';
import {
  checkTime,
  copyProbs,
  createSmoother,
  describe,
  leaderOf,
  validateClasses,
  type SmoothedFrame,
  type SmootherOptions,
} from './smoother.js';
import type { FrameProbs, Segment } from './types.js';

/**
 * What the segmenter reports as frames arrive. In `start` and `update` the segment is
 * provisional: `endMs` is the latest frame's `tMs` and the figures cover the frames so far.
 * An `end` carries the final segment.
 */
export interface SegmentEvent {
  readonly type: 'start' | 'update' | 'end';
  readonly segment: Segment;
}

export interface Segmenter {
  /**
   * Adds the next smoothed frame. Returns `[start]` for the first frame, `[end, start]` when
   * the label changes (the old segment ends where the new one starts), else `[update]`; and
   * `[]` for a `provisional` frame, whose segment starts once the label settles.
   */
  push(frame: SmoothedFrame): SegmentEvent[];
  /**
   * Ends the open segment at `endMs` and clears the state (the next `push` starts a new
   * timeline). Returns `[end]`, or `[]` when no frame was pushed.
   * @param [endMs] must be >= the last frame's `tMs`; defaults to the last `tMs` plus the
   *   median interval of the last {@link MEDIAN_INTERVALS} frame intervals (0 after a single frame)
   */
  finish(endMs?: number): SegmentEvent[];
}

/** How many recent frame intervals the default end of the last segment is estimated from. */
export const MEDIAN_INTERVALS = 1000;

/**
 * Cuts a stream of smoothed frames into labelled segments, as it goes.
 *
 * A segment runs from the `tMs` of the frame where its label became current to the `tMs` of
 * the frame where the next label took over, so segments tile the timeline: each starts where
 * the previous ended. A switched frame with `startMs` (a backdating smoother) moves that
 * boundary back to `startMs`: the `end` of the old segment and the `start` of the new one
 * then carry times before the frame that reported them. Its frames are those in
 * `[startMs, endMs)` (the last segment's include its last frame); `confidence` is the mean of
 * the label's raw probability over them, `peak` the highest. `provisional` frames at the
 * start of a track are held back: the first segment starts at the first frame, but its
 * `start` is reported by the frame that settles its label.
 *
 * @param classes class names in the model's order (the frames' `probs` order)
 * @param [options.reachMs=0] how far before a lead a backdated switch may date its start:
 *   the feeding smoother's {@link Smoother.reachMs}. The frames that may still move to the
 *   next segment are kept: the current lead's and those of the reach before it.
 * @throws VIGIL_ERR_INVALID_ARGUMENT for bad classes or options (here), frames or `endMs` (in the methods)
 */
export function createSegmenter(classes: readonly string[], options: { reachMs?: number } = {}): Segmenter {
  const names = validateClasses(classes);
  const reachMs = options.reachMs ?? 0;
  if (typeof reachMs !== 'number' || !Number.isFinite(reachMs) || reachMs < 0) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `reachMs must be a finite number >= 0 (ms), got ${describe(reachMs)}`);
  }

  interface Open {
    label: number;
    startMs: number;
    sum: number;
    count: number;
    peak: number;
    /**
     * Frames not yet in the figures above, because a backdated switch may still hand them to
     * the next segment: the latest run led (in the smoothed window) by one other class (the
     * smoother's candidate, no longer than its hold) and the `reachMs` before it.
     */
    kept: { tMs: number; probs: number[] }[];
    /** The class leading the latest frame's window, and since when (the candidate's run). */
    leader: number;
    leaderSinceMs: number;
  }
  let open: Open | null = null;
  /** Provisional frames before the first segment opens (at most the smoother's 2 holds). */
  let pending: { tMs: number; probs: number[]; label: number }[] = [];
  let firstMs = 0;
  let lastMs = -Infinity;
  let intervals: number[] = [];

  const add = (o: Open, probs: readonly number[]): void => {
    const p = probs[o.label];
    o.sum += p;
    o.count += 1;
    o.peak = Math.max(o.peak, p);
  };
  const opened = (label: number, startMs: number, frames: readonly { tMs: number; probs: number[] }[]): Open => ({
    label,
    startMs,
    sum: 0,
    count: 0,
    peak: -Infinity,
    kept: [...frames],
    leader: label,
    leaderSinceMs: startMs,
  });
  const keep = (o: Open, tMs: number, probs: number[], smoothed: readonly number[]): void => {
    const leader = leaderOf(smoothed, o.label);
    if (leader !== o.leader) {
      o.leader = leader;
      o.leaderSinceMs = tMs;
    }
    o.kept.push({ tMs, probs });
    // Frames a reach before the current lead (or this frame) can no longer move.
    const fixedMs = (leader === o.label ? tMs : o.leaderSinceMs) - reachMs;
    let n = 0;
    while (n < o.kept.length && o.kept[n].tMs < fixedMs) n++;
    for (const f of o.kept.splice(0, n)) add(o, f.probs);
  };
  const snapshot = (o: Open, endMs: number): Segment => {
    let { sum, count, peak } = o;
    for (const f of o.kept) {
      sum += f.probs[o.label];
      count += 1;
      peak = Math.max(peak, f.probs[o.label]);
    }
    return { label: names[o.label], startMs: o.startMs, endMs, confidence: sum / count, peak };
  };

  return {
    push(frame: SmoothedFrame): SegmentEvent[] {
      const what = 'smoothed frame';
      if (frame === null || typeof frame !== 'object') {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${what} must be an object, got ${describe(frame)}`);
      }
      const tMs = checkTime(frame.tMs, lastMs, what);
      const label = names.indexOf(frame.label);
      if (label < 0) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${what}.label must be one of ${names.join(', ')}, got ${describe(frame.label)}`);
      }
      const probs = copyProbs(frame.probs, names, what);

      if (lastMs !== -Infinity) {
        intervals.push(tMs - lastMs);
        if (intervals.length > MEDIAN_INTERVALS) intervals.shift();
      } else {
        firstMs = tMs;
      }
      lastMs = tMs;

      if (frame.provisional === true) {
        if (open !== null)
          throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${what} is provisional after the first segment started (at ${open.startMs})`);
        pending.push({ tMs, probs, label });
        return [];
      }

      if (open !== null && open.label === label) {
        keep(open, tMs, probs, frame.smoothed);
        return [{ type: 'update', segment: snapshot(open, tMs) }];
      }
      const events: SegmentEvent[] = [];
      if (open === null) {
        open = opened(label, firstMs, pending);
        pending = [];
      } else {
        const startMs = frame.startMs ?? tMs;
        const earliest = Math.max(open.startMs, open.kept[0]?.tMs ?? tMs);
        if (typeof startMs !== 'number' || !(startMs > open.startMs && startMs >= earliest && startMs <= tMs)) {
          throw vigilError(
            'VIGIL_ERR_INVALID_ARGUMENT',
            `${what}.startMs must lie after the open segment's start (${open.startMs}), ` +
              `at or after the frames this segmenter keeps (${earliest}; is reachMs the smoother's?) ` +
              `and at most tMs (${tMs}), got ${describe(startMs)}`,
          );
        }
        const moved = open.kept.filter((f) => f.tMs >= startMs);
        open.kept = open.kept.filter((f) => f.tMs < startMs);
        events.push({ type: 'end', segment: snapshot(open, startMs) });
        open = opened(label, startMs, moved);
      }
      keep(open, tMs, probs, frame.smoothed);
      events.push({ type: 'start', segment: snapshot(open, tMs) });
      return events;
    },

    finish(endMs?: number): SegmentEvent[] {
      if (endMs !== undefined && (typeof endMs !== 'number' || !Number.isFinite(endMs) || endMs < lastMs)) {
        throw vigilError(
          'VIGIL_ERR_INVALID_ARGUMENT',
          `endMs must be a finite number >= the last frame's tMs (${lastMs}), got ${describe(endMs)}`,
        );
      }
      // A track that ended before its label settled: its last provisional label takes it.
      const last = open ?? (pending.length > 0 ? opened(pending[pending.length - 1].label, firstMs, pending) : null);
      const end = endMs ?? lastMs + median(intervals);
      open = null;
      pending = [];
      lastMs = -Infinity;
      intervals = [];
      return last === null ? [] : [{ type: 'end', segment: snapshot(last, end) }];
    },
  };
}

/** Options of {@link buildTimeline}: the smoothing options plus where the timeline ends. */
export interface BuildTimelineOptions extends SmootherOptions {
  /** End of the last segment in ms [endMs=last tMs + median frame interval]. */
  endMs?: number;
}

export interface Timeline {
  readonly frames: SmoothedFrame[];
  /** Tiles `[first tMs, endMs]` in order; empty when there are no frames. */
  readonly segments: Segment[];
}

/**
 * Offline path: runs a whole clip through {@link createSmoother} and {@link createSegmenter},
 * so its segments are exactly the `end` events a live run would emit. With `backdate`, each
 * frame's label is its segment's (live, the frames between a lead's start and the switch
 * carried the old label).
 * @param classes class names in the model's order
 * @param frames frames in non-decreasing `tMs` order
 * @param [options.windowMs=1000] moving-window length in ms
 * @param [options.minHoldMs=500] hysteresis hold in ms
 * @param [options.endMs] end of the last segment; defaults to last `tMs` + median frame interval
 * @throws VIGIL_ERR_INVALID_ARGUMENT
 */
export function buildTimeline(classes: readonly string[], frames: Iterable<FrameProbs>, options: BuildTimelineOptions = {}): Timeline {
  const { endMs, ...smoothing } = options ?? {};
  const smoother = createSmoother(classes, smoothing);
  const segmenter = createSegmenter(classes, { reachMs: smoother.reachMs });
  if (endMs !== undefined && (typeof endMs !== 'number' || !Number.isFinite(endMs))) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `endMs must be a finite number (ms), got ${describe(endMs)}`);
  }

  const out: SmoothedFrame[] = [];
  const segments: Segment[] = [];
  const collect = (events: SegmentEvent[]): void => {
    for (const e of events) if (e.type === 'end') segments.push(e.segment);
  };
  for (const frame of frames) {
    const sf = smoother.push(frame);
    out.push(sf);
    collect(segmenter.push(sf));
  }
  collect(segmenter.finish(endMs));
  // Backdated segments start before the frame that switched; offline, the frames in between
  // take their segment's label so frames and segments agree (live clients saw the old one).
  if (smoother.backdates) {
    let s = 0;
    for (let i = 0; i < out.length; i++) {
      while (s < segments.length - 1 && out[i].tMs >= segments[s + 1].startMs) s++;
      if (out[i].label !== segments[s].label) out[i] = { ...out[i], label: segments[s].label };
    }
  }
  return { frames: out, segments };
}
