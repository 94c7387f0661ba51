import { vigilError } from '../errors.js';
import type { FrameProbs } from './types.js';

/** Smoothing options; see {@link createSmoother}. */
export interface SmootherOptions {
  /** Length of the moving window in ms [windowMs=1000]; 0 disables smoothing. */
  windowMs?: number;
  /** How long a new class must lead the window before the label switches, in ms [minHoldMs=500]. */
  minHoldMs?: number;
  /**
   * Date a switch back to where the new class began, not the frame the hold confirmed it
   * on [backdate=false]; see {@link SmoothedFrame.startMs}. A long hold then
   * filters blips without making onsets late. The first label waits for the hold too
   * (see {@link SmoothedFrame.provisional}).
   */
  backdate?: boolean;
}

/** {@link SmootherOptions} after validation: the two numbers always, `backdate` only when true. */
export interface ResolvedSmootherOptions {
  readonly windowMs: number;
  readonly minHoldMs: number;
  readonly backdate?: true;
}

/** One frame after smoothing. */
export interface SmoothedFrame {
  readonly tMs: number;
  /** The frame's own probabilities (a copy), in class order. */
  readonly probs: readonly number[];
  /** Mean of `probs` over the frames in the window `(tMs - windowMs, tMs]`. */
  readonly smoothed: readonly number[];
  /** The current stable label (after hysteresis). */
  readonly label: string;
  /**
   * True when `label` became current at this frame: the first frame after creation or
   * `reset()`, or with `backdate` the frame that settles the first label.
   */
  readonly switched: boolean;
  /**
   * With `backdate`, on the frames before the first label has held: `label` is only the
   * current leader, and the label that settles takes the track from its first frame. Absent
   * from every other frame.
   */
  readonly provisional?: true;
  /**
   * On a switched frame with `backdate`: where the new label's segment starts (absent when
   * that is this frame): the first frame of the lead that earned the switch, or earlier, the
   * first of the frames just before it (within one window) whose own argmax was already the
   * new label. The window's mean crosses over about half a window after the frames do.
   */
  readonly startMs?: number;
}

export interface Smoother {
  /**
   * Adds the next frame and returns it smoothed. `tMs` must not decrease; call `reset()`
   * when a stream restarts.
   */
  push(frame: FrameProbs): SmoothedFrame;
  /** Forgets the window and the current label; the next frame starts a new track. */
  reset(): void;
  /** Whether switches are backdated (the `backdate` option). */
  readonly backdates: boolean;
  /**
   * How far before the lead that earns a switch its `startMs` may lie: the window with
   * `backdate`, else 0. A segmenter fed by this smoother needs it ({@link createSegmenter}).
   */
  readonly reachMs: number;
}

export const DEFAULT_SMOOTHER_OPTIONS: ResolvedSmootherOptions = Object.freeze({ windowMs: 1000, minHoldMs: 500 });

/**
 * Timestamps come from stream time bases (e.g. 1001/30000 s) and are rarely exact in binary;
 * a frame lying exactly on a window or hold boundary must not flip in or out on rounding noise.
 */
export const TIME_EPSILON_MS = 1e-6;

const NUMBER_KEYS = Object.keys(DEFAULT_SMOOTHER_OPTIONS) as ('windowMs' | 'minHoldMs')[];
const OPTION_KEYS = [...NUMBER_KEYS, 'backdate'];

/**
 * Validates smoothing options once into a full copy with defaults.
 * @param [options.windowMs=1000] moving-window length in ms, a finite number >= 0
 * @param [options.minHoldMs=500] hysteresis hold in ms, a finite number >= 0
 * @param [options.backdate=false] a boolean
 * @throws VIGIL_ERR_INVALID_ARGUMENT naming the option and what is allowed
 */
export function validateSmootherOptions(options: SmootherOptions = {}): ResolvedSmootherOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `smoothing options must be an object with ${OPTION_KEYS.join(', ')}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `unknown smoothing option '${key}' (allowed: ${OPTION_KEYS.join(', ')})`);
    }
  }
  const resolved: { windowMs: number; minHoldMs: number; backdate?: true } = { ...DEFAULT_SMOOTHER_OPTIONS };
  for (const key of NUMBER_KEYS) {
    const value: unknown = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${key} must be a finite number >= 0 (ms), got ${describe(value)}`);
    }
    resolved[key] = value;
  }
  if (options.backdate !== undefined && typeof options.backdate !== 'boolean') {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `backdate must be true or false, got ${describe(options.backdate)}`);
  }
  if (options.backdate === true) resolved.backdate = true;
  return Object.freeze(resolved);
}

/**
 * Checks a class list (non-empty array of unique, non-empty strings) and returns a frozen copy.
 * @throws VIGIL_ERR_INVALID_ARGUMENT
 */
export function validateClasses(classes: readonly string[]): readonly string[] {
  const rule = 'classes must be a non-empty array of unique, non-empty strings';
  if (!Array.isArray(classes) || classes.length === 0) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${rule}, got ${describe(classes)}`);
  }
  const seen = new Set<string>();
  for (const c of classes as unknown[]) {
    if (typeof c !== 'string' || c === '') {
      throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${rule}, got ${describe(c)} in ${describe(classes)}`);
    }
    if (seen.has(c)) {
      throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${rule}, got '${c}' twice in ${describe(classes)}`);
    }
    seen.add(c);
  }
  // The classes in their order: each was added once (a repeat threw).
  return Object.freeze([...seen]);
}

/**
 * Checks a frame timestamp against the previous one.
 * @internal shared with the segmenter
 */
export function checkTime(tMs: unknown, previousMs: number, what: string): number {
  if (typeof tMs !== 'number' || !Number.isFinite(tMs)) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${what}.tMs must be a finite number, got ${describe(tMs)}`);
  }
  if (tMs < previousMs) {
    throw vigilError(
      'VIGIL_ERR_INVALID_ARGUMENT',
      `${what}.tMs must not decrease: got ${tMs} after ${previousMs} (reset when a stream restarts)`,
    );
  }
  return tMs;
}

/**
 * Copies a frame's probabilities, checking their count and that they are finite numbers.
 * @internal shared with the segmenter and the formats
 */
export function copyProbs(probs: ArrayLike<number>, classes: readonly string[], what: string): number[] {
  if (probs === null || typeof probs !== 'object' || probs.length !== classes.length) {
    throw vigilError(
      'VIGIL_ERR_INVALID_ARGUMENT',
      `${what}.probs must hold ${classes.length} numbers, one per class (${classes.join(', ')}), got ${describe(probs)}`,
    );
  }
  const out = Array.from(probs);
  for (const p of out) {
    if (typeof p !== 'number' || !Number.isFinite(p)) {
      throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${what}.probs must be finite numbers, got ${describe(p)}`);
    }
  }
  return out;
}

/**
 * The class leading the smoothed window: the highest, the current label on a tie (`current`
 * -1: none yet), then the class listed first.
 * @internal shared with the segmenter, which follows the smoother's candidate runs
 */
export function leaderOf(smoothed: readonly number[], current: number): number {
  let best = 0;
  for (let i = 1; i < smoothed.length; i++) if (smoothed[i] > smoothed[best]) best = i;
  return current >= 0 && smoothed[current] === smoothed[best] ? current : best;
}

/** @internal for error messages */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  if (ArrayBuffer.isView(value) && 'length' in value) return `${value.constructor.name}(${String(value.length)})`;
  return typeof value;
}

/**
 * Smooths per-frame class probabilities over time and derives a stable label.
 *
 * Each frame's `smoothed` is the plain mean of the probabilities of the frames with `tMs` in
 * `(t - windowMs, t]` (the current frame always counts, so `windowMs = 0` means no smoothing).
 * The label starts as the first frame's argmax and switches to another class only once that
 * class has been the smoothed argmax on every frame for at least `minHoldMs`, measured from
 * the first frame of its run to the current one; the switch happens on that frame. On a tie
 * the current label wins, then the class listed first. With `backdate`, a switched frame
 * also says where the new label began (`startMs`): the label is only known once the hold has
 * passed, but the behaviour began there. And the first label must hold as well: a track
 * starts with no history (a model's first output is its least reliable), so until one class
 * has led for `minHoldMs` the frames are `provisional`, and the class that then leads labels
 * the track from its first frame. A track that never settles takes its leader after
 * `2 * minHoldMs`, so no more than that is ever undecided.
 *
 * @param classes class names in the model's order
 * @param [options.windowMs=1000] moving-window length in ms
 * @param [options.minHoldMs=500] hysteresis hold in ms; 0 switches on the first frame a class leads
 * @throws VIGIL_ERR_INVALID_ARGUMENT for bad classes or options (here) and bad frames (in `push`)
 * @example
 * const s = createSmoother(['fight', 'no_fight'], { windowMs: 1000, minHoldMs: 500 });
 * s.push({ tMs: 0, probs: [0.2, 0.8] }); // { label: 'no_fight', switched: true, ... }
 */
export function createSmoother(classes: readonly string[], options: SmootherOptions = {}): Smoother {
  const names = validateClasses(classes);
  const { windowMs, minHoldMs, backdate } = validateSmootherOptions(options);

  let window: { tMs: number; probs: number[] }[] = [];
  let label = -1;
  let candidate = -1;
  let candidateSinceMs = 0;
  let labelSinceMs = 0;
  let lastMs = -Infinity;
  // Backdating only: the first label is provisional until a leader (the candidate) has held.
  let settling = false;
  let trackStartMs = 0;
  // Backdating only: each recent frame's own leader, to date a switch from the raw lead.
  let recent: { tMs: number; raw: number }[] = [];

  return {
    backdates: backdate === true,
    reachMs: backdate ? windowMs : 0,
    push(frame: FrameProbs): SmoothedFrame {
      const what = 'frame';
      if (frame === null || typeof frame !== 'object') {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `frame must be an object { tMs, probs }, got ${describe(frame)}`);
      }
      const tMs = checkTime(frame.tMs, lastMs, what);
      const probs = copyProbs(frame.probs, names, what);
      lastMs = tMs;

      window.push({ tMs, probs });
      let drop = 0;
      while (drop < window.length - 1 && tMs - window[drop].tMs >= windowMs - TIME_EPSILON_MS) drop++;
      if (drop > 0) window = window.slice(drop);

      // Summed afresh each frame: a running sum would drift over a days-long live stream.
      const smoothed = new Array<number>(names.length).fill(0);
      for (const w of window) for (let i = 0; i < smoothed.length; i++) smoothed[i] += w.probs[i];
      for (let i = 0; i < smoothed.length; i++) smoothed[i] /= window.length;

      const best = leaderOf(smoothed, label);
      if (backdate) {
        // Kept back to a window before the current lead (as of the last frame): as far as a
        // switch can be dated.
        const anchor = candidate >= 0 ? candidateSinceMs : recent[recent.length - 1]?.tMs;
        while (recent.length > 0 && recent[0].tMs < anchor - windowMs) recent.shift();
        recent.push({ tMs, raw: leaderOf(probs, -1) });
      }

      let switched = false;
      let startMs: number | undefined;
      if (label < 0 && backdate && minHoldMs > 0) {
        settling = true;
        trackStartMs = tMs;
      }
      if (settling) {
        if (best !== candidate) {
          candidate = best;
          candidateSinceMs = tMs;
        }
        label = best;
        const held = tMs - candidateSinceMs >= minHoldMs - TIME_EPSILON_MS;
        if (!held && tMs - trackStartMs < 2 * minHoldMs - TIME_EPSILON_MS) {
          return { tMs, probs, smoothed, label: names[label], switched: false, provisional: true };
        }
        settling = false;
        candidate = -1;
        switched = true;
        if (trackStartMs < tMs) startMs = trackStartMs;
        labelSinceMs = trackStartMs;
      } else if (label < 0) {
        label = best;
        switched = true;
        labelSinceMs = tMs;
      } else if (best === label) {
        candidate = -1;
      } else {
        if (best !== candidate) {
          candidate = best;
          candidateSinceMs = tMs;
        }
        if (tMs - candidateSinceMs >= minHoldMs - TIME_EPSILON_MS) {
          label = best;
          candidate = -1;
          switched = true;
          if (backdate) {
            // The window's mean trails the frames by up to a window: the frames just before
            // the lead that already favoured the new class on their own are where it began.
            let start = candidateSinceMs;
            let k = recent.findIndex((r) => r.tMs === candidateSinceMs);
            const reachedMs = Math.max(candidateSinceMs - windowMs, labelSinceMs + TIME_EPSILON_MS);
            while (k > 0 && recent[k - 1].raw === best && recent[k - 1].tMs >= reachedMs) start = recent[--k].tMs;
            if (start < tMs) startMs = start;
            labelSinceMs = start;
          }
        }
      }
      return { tMs, probs, smoothed, label: names[label], switched, ...(startMs === undefined ? {} : { startMs }) };
    },

    reset(): void {
      window = [];
      label = -1;
      settling = false;
      recent = [];
      candidate = -1;
      lastMs = -Infinity;
    },
  };
}
