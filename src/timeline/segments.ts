import { vigilError } from '../errors.js';
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
   * the label changes (the old segment ends where the new one starts), else `[update]`.
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
 * the label's raw probability over them, `peak` the highest.
 *
 * @param classes class names in the model's order (the frames' `probs` order)
 * @throws VIGIL_ERR_INVALID_ARGUMENT for bad classes (here), frames or `endMs` (in the methods)
 */
export function createSegmenter(classes: readonly string[]): Segmenter {
  const names = validateClasses(classes);

  interface Open {
    label: number;
    startMs: number;
    sum: number;
    count: number;
    peak: number;
    /**
     * The latest run of frames led (in the smoothed window) by one other class, not yet in
     * the figures above: the smoother's candidate, whose frames from `startMs` a backdated
     * switch hands to the next segment. No longer than the smoother's hold.
     */
    tail: { tMs: number; probs: number[] }[];
    tailLeader: number;
  }
  let open: Open | null = null;
  let lastMs = -Infinity;
  let intervals: number[] = [];

  const add = (o: Open, probs: readonly number[]): void => {
    const p = probs[o.label];
    o.sum += p;
    o.count += 1;
    o.peak = Math.max(o.peak, p);
  };
  const opened = (label: number, startMs: number, frames: readonly { probs: number[] }[]): Open => {
    const o: Open = { label, startMs, sum: 0, count: 0, peak: -Infinity, tail: [], tailLeader: -1 };
    for (const f of frames) add(o, f.probs);
    return o;
  };
  const snapshot = (o: Open, endMs: number): Segment => {
    let { sum, count, peak } = o;
    for (const f of o.tail) {
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
        throw vigilError(
          'VIGIL_ERR_INVALID_ARGUMENT',
          `${what}.label must be one of ${names.join(', ')}, got ${describe(frame.label)}`,
        );
      }
      const probs = copyProbs(frame.probs, names, what);

      if (lastMs !== -Infinity) {
        intervals.push(tMs - lastMs);
        if (intervals.length > MEDIAN_INTERVALS) intervals.shift();
      }
      lastMs = tMs;

      if (open !== null && open.label === label) {
        // A new leader starts a new candidate run: the old run's frames stay in this segment.
        const leader = leaderOf(frame.smoothed, label);
        if (leader !== open.tailLeader) {
          for (const f of open.tail) add(open, f.probs);
          open.tail = [];
          open.tailLeader = leader;
        }
        if (leader === label) add(open, probs);
        else open.tail.push({ tMs, probs });
        return [{ type: 'update', segment: snapshot(open, tMs) }];
      }
      const events: SegmentEvent[] = [];
      if (open === null) {
        open = opened(label, tMs, [{ probs }]);
      } else {
        const startMs = frame.startMs ?? tMs;
        if (typeof startMs !== 'number' || !(startMs > open.startMs && startMs <= tMs)) {
          throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${what}.startMs must lie after the open segment's start (${open.startMs}) and at most tMs (${tMs}), got ${describe(startMs)}`);
        }
        const moved = open.tail.filter((f) => f.tMs >= startMs);
        open.tail = open.tail.filter((f) => f.tMs < startMs);
        events.push({ type: 'end', segment: snapshot(open, startMs) });
        open = opened(label, startMs, [...moved, { probs }]);
      }
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
      const last = open;
      const end = endMs ?? lastMs + median(intervals);
      open = null;
      lastMs = -Infinity;
      intervals = [];
      return last === null ? [] : [{ type: 'end', segment: snapshot(last, end) }];
    },
  };
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
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
export function buildTimeline(
  classes: readonly string[],
  frames: Iterable<FrameProbs>,
  options: BuildTimelineOptions = {},
): Timeline {
  const { endMs, ...smoothing } = options ?? {};
  const smoother = createSmoother(classes, smoothing);
  const segmenter = createSegmenter(classes);
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
