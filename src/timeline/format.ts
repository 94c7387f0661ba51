import { vigilError } from '../errors.js';
import { round } from '../numbers.js';
import { textTable } from '../text-table.js';
import { copyProbs, describe, validateClasses, validateSmootherOptions, type SmoothedFrame, type SmootherOptions } from './smoother.js';
import type { Segment } from './types.js';

/**
 * The timeline file, schema `vigil.timeline/1`. Plain JSON: every field is always present
 * except the optional `source` fields marked so. Times are ms on the source's own clock
 * (the stream timestamps), rounded to 3 decimals; probabilities are rounded to 4 decimals.
 *
 * ```jsonc
 * {
 *   "schema": "vigil.timeline/1",
 *   "source": { "uri": "clips/hall.mp4", "durationMs": 12000, "width": 1280, "height": 720, "codec": "h264" },
 *   "model": { "name": "fight-lstm", "version": "1.0.0" },
 *   "classes": ["fight", "no_fight"],
 *   "fps": 8,
 *   "smoothing": { "windowMs": 1000, "minHoldMs": 500 },
 *   "frames": [{ "tMs": 0, "probs": [0.1234, 0.8766], "label": "no_fight" }],
 *   "segments": [{ "label": "no_fight", "startMs": 0, "endMs": 4500, "confidence": 0.91, "peak": 0.98 }],
 *   "createdAt": "2025-01-31T12:00:00.000Z"
 * }
 * ```
 *
 * A reader should check `schema` first: a change that breaks readers bumps the number after
 * the slash; fields may be added without a bump.
 *
 * A clip labelled by several models (a recording of a camera that runs them) also has
 * `models`: each model's own `model`, `classes`, `fps`, `smoothing`, `frames` and `segments`,
 * in the camera's order. The top-level fields stay the first model's, so a reader that knows
 * one model per timeline reads that one as before; with one model there is no `models`.
 * A camera's recording that spans a switch of model versions lists them in `model.versions`.
 */
export interface TimelineJson {
  /** Format name and major version. */
  readonly schema: typeof TIMELINE_SCHEMA;
  readonly source: TimelineSourceJson;
  /** The labeler that produced `probs` (see {@link TimelineModelRef}). */
  readonly model: TimelineModelRef;
  /** Class names; `frames[].probs[i]` is the probability of `classes[i]`. */
  readonly classes: readonly string[];
  /** Nominal sampling rate in frames/s, or null when unknown; frames are not evenly spaced. */
  readonly fps: number | null;
  /** The smoothing that turned `probs` into `label`s (see createSmoother), defaults filled in. */
  readonly smoothing: { readonly windowMs: number; readonly minHoldMs: number; readonly backdate?: true };
  /** Every analysed frame in time order. */
  readonly frames: readonly TimelineFrameJson[];
  /** Segments in time order, tiling `[frames[0].tMs, last endMs]` without gaps or overlaps. */
  readonly segments: readonly TimelineSegmentJson[];
  /** When the file was written, ISO 8601 in UTC. */
  readonly createdAt: string;
  /** Every model's timeline when several labelled the clip (the first is the top level's); absent with one. */
  readonly models?: readonly TimelineModelJson[];
}

/**
 * Which model labelled a timeline. A camera's recording that spans a switch of versions (an
 * adapted version going live, a rollback) says `version`: the one that labelled its last frame,
 * and `versions`: each version in the order they labelled, from the clip time of its first
 * frame. One version labelled it all: no `versions`.
 */
export interface TimelineModelRef {
  readonly name: string;
  readonly version: string;
  readonly versions?: readonly { readonly version: string; readonly fromMs: number }[];
}

/** One model's part of a timeline labelled by several (see {@link TimelineJson.models}). */
export type TimelineModelJson = Pick<TimelineJson, 'model' | 'classes' | 'fps' | 'smoothing' | 'frames' | 'segments'>;

export interface TimelineSourceJson {
  /** File path or URL, as given. */
  readonly uri: string;
  /** Length of the media in ms, or null when unknown (live streams). */
  readonly durationMs: number | null;
  /** Coded frame size in pixels (optional). */
  readonly width?: number;
  readonly height?: number;
  /** Video codec name as ffprobe reports it (optional). */
  readonly codec?: string;
}

export interface TimelineFrameJson {
  /** Stream timestamp in ms. */
  readonly tMs: number;
  /** Raw (unsmoothed) class probabilities, in `classes` order. */
  readonly probs: readonly number[];
  /** The stable label current at this frame (after smoothing and hysteresis). */
  readonly label: string;
}

export interface TimelineSegmentJson {
  readonly label: string;
  /** Where the label became current (inclusive). */
  readonly startMs: number;
  /** Where the next label took over, or the end of the timeline (exclusive). */
  readonly endMs: number;
  /** Mean raw probability of `label` over the segment's frames. */
  readonly confidence: number;
  /** Highest raw probability of `label` over the segment's frames. */
  readonly peak: number;
}

export const TIMELINE_SCHEMA = 'vigil.timeline/1';

/** What {@link toTimelineJson} needs. */
export interface TimelineJsonInput {
  /** The source's path or URL, or an object with it and the optional details. */
  source: string | { uri: string; width?: number; height?: number; codec?: string };
  /** `versions` only when more than one version labelled the frames (see {@link TimelineModelRef}). */
  model: { name: string; version: string; versions?: readonly { version: string; fromMs: number }[] };
  classes: readonly string[];
  /** Nominal sampling rate [fps=null]. */
  fps?: number | null;
  /** Media length in ms [durationMs=null]. */
  durationMs?: number | null;
  frames: readonly Pick<SmoothedFrame, 'tMs' | 'probs' | 'label'>[];
  segments: readonly Segment[];
  /** The smoothing used; only `windowMs`, `minHoldMs` and `backdate` are read [options={}]. */
  options?: SmootherOptions;
  /** [createdAt=new Date()]; pass one for reproducible files. */
  createdAt?: Date;
}

function bad(detail: string): never {
  throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', detail);
}

const roundMs = (ms: number): number => round(ms, 3);
const roundP = (p: number): number => round(p, 4);

/**
 * Builds the timeline file (see {@link TimelineJson}) from a finished timeline.
 * @throws VIGIL_ERR_INVALID_ARGUMENT when fields are missing or do not fit the classes
 */
export function toTimelineJson(input: TimelineJsonInput): TimelineJson {
  const classes = validateClasses(input.classes);
  const smoothing = validateSmootherOptions({
    windowMs: input.options?.windowMs,
    minHoldMs: input.options?.minHoldMs,
    backdate: input.options?.backdate,
  });

  const src = typeof input.source === 'string' ? { uri: input.source } : input.source;
  if (src === null || typeof src !== 'object' || typeof src.uri !== 'string' || src.uri === '') {
    bad(`source must be a non-empty path or URL, or { uri, width?, height?, codec? }, got ${describe(input.source)}`);
  }
  const durationMs = input.durationMs ?? null;
  if (durationMs !== null && !(typeof durationMs === 'number' && Number.isFinite(durationMs) && durationMs >= 0)) {
    bad(`durationMs must be a finite number >= 0 or null, got ${describe(durationMs)}`);
  }
  const fps = input.fps ?? null;
  if (fps !== null && !(typeof fps === 'number' && Number.isFinite(fps) && fps > 0)) {
    bad(`fps must be a finite number > 0 or null, got ${describe(fps)}`);
  }
  const model = input.model;
  if (model === null || typeof model !== 'object' || typeof model.name !== 'string' || typeof model.version !== 'string') {
    bad(`model must be { name: string, version: string }, got ${describe(model)}`);
  }
  const versions: unknown = model.versions;
  const isVersion = (v: unknown): v is { version: string; fromMs: number } => {
    const x = v as { version?: unknown; fromMs?: unknown } | null;
    return typeof x?.version === 'string' && typeof x.fromMs === 'number' && Number.isFinite(x.fromMs);
  };
  if (versions !== undefined && !(Array.isArray(versions) && versions.every(isVersion))) {
    bad(`model.versions must be [{ version: string, fromMs: number }], got ${describe(versions)}`);
  }

  const source: TimelineSourceJson = {
    uri: src.uri,
    durationMs: durationMs === null ? null : roundMs(durationMs),
    ...(src.width !== undefined && { width: src.width }),
    ...(src.height !== undefined && { height: src.height }),
    ...(src.codec !== undefined && { codec: src.codec }),
  };
  const frames = input.frames.map((f, i): TimelineFrameJson => {
    const probs = copyProbs(f.probs, classes, `frames[${i}]`).map(roundP);
    if (!classes.includes(f.label)) bad(`frames[${i}].label must be one of ${classes.join(', ')}, got ${describe(f.label)}`);
    return { tMs: roundMs(f.tMs), probs, label: f.label };
  });
  const segments = input.segments.map((s, i): TimelineSegmentJson => {
    if (!classes.includes(s.label)) bad(`segments[${i}].label must be one of ${classes.join(', ')}, got ${describe(s.label)}`);
    return {
      label: s.label,
      startMs: roundMs(s.startMs),
      endMs: roundMs(s.endMs),
      confidence: roundP(s.confidence),
      peak: roundP(s.peak),
    };
  });

  return {
    schema: TIMELINE_SCHEMA,
    source,
    model: {
      name: model.name,
      version: model.version,
      ...(model.versions && model.versions.length > 1
        ? { versions: model.versions.map((v) => ({ version: v.version, fromMs: roundMs(v.fromMs) })) }
        : {}),
    },
    classes: [...classes],
    fps,
    smoothing: { windowMs: smoothing.windowMs, minHoldMs: smoothing.minHoldMs, ...(smoothing.backdate ? { backdate: true as const } : {}) },
    frames,
    segments,
    createdAt: (input.createdAt ?? new Date()).toISOString(),
  };
}

/**
 * One timeline of a clip that several models labelled: the first model's at the top level (as
 * a one-model timeline), each model's in `models`. One timeline comes back as it is.
 * @param timelines of the same source, in the camera's model order; at least one
 */
export function combineTimelines(timelines: readonly TimelineJson[]): TimelineJson {
  if (timelines.length === 0) bad('combineTimelines takes at least one timeline');
  if (timelines.length === 1) return timelines[0];
  const models = timelines.map(({ model, classes, fps, smoothing, frames, segments }) => ({
    model,
    classes,
    fps,
    smoothing,
    frames,
    segments,
  }));
  return { ...timelines[0], models };
}

/** Options of {@link toWebVtt}. */
export interface WebVttOptions {
  /** Only segments with these labels become cues [classes=all], e.g. `['fight']`. */
  classes?: readonly string[];
}

/**
 * Renders segments as a WebVTT file (https://www.w3.org/TR/webvtt1/), one cue per segment:
 * identifier `seg-N` (N is the segment's 1-based position in `segments`, so it matches the
 * JSON's `segments[N-1]` even when `classes` filters some out), timing `HH:MM:SS.mmm`, text
 * `label (confidence)` with `&`, `<`, `>` escaped and line breaks turned into spaces.
 *
 * Times are rounded to whole ms. WebVTT requires end > start, so a segment that is empty after
 * rounding (a single-frame timeline, or sub-ms segments) is widened to end 1 ms after its
 * start rather than dropped: every segment stays visible, at the cost of overlapping the next
 * cue by at most 1 ms, which WebVTT allows.
 *
 * @param segments in start order (as the segmenter produces them)
 * @param [options.classes=all] labels to emit cues for
 * @throws VIGIL_ERR_INVALID_ARGUMENT for negative, non-finite, reversed or out-of-order times
 * @example
 * toWebVtt([{ label: 'fight', startMs: 1500, endMs: 4250, confidence: 0.8712, peak: 0.97 }]);
 * // 'WEBVTT\n\nseg-1\n00:00:01.500 --> 00:00:04.250\nfight (0.87)\n'
 */
export function toWebVtt(segments: readonly Segment[], options: WebVttOptions = {}): string {
  const only = options.classes;
  if (only !== undefined && !(Array.isArray(only) && only.every((c) => typeof c === 'string'))) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `classes must be an array of class names, got ${describe(only)}`);
  }
  const lines = ['WEBVTT'];
  let previousStart = 0;
  segments.forEach((s, i) => {
    checkSegment(s, i, previousStart);
    previousStart = s.startMs;
    if (only !== undefined && !only.includes(s.label)) return;
    const start = Math.round(s.startMs);
    const end = Math.max(Math.round(s.endMs), start + 1);
    lines.push('', `seg-${i + 1}`, `${vttTime(start)} --> ${vttTime(end)}`, `${escapeVtt(s.label)} (${s.confidence.toFixed(2)})`);
  });
  return lines.join('\n') + '\n';
}

function checkSegment(s: Segment, i: number, previousStart: number): void {
  const ok =
    s !== null &&
    typeof s === 'object' &&
    typeof s.label === 'string' &&
    Number.isFinite(s.startMs) &&
    Number.isFinite(s.endMs) &&
    Number.isFinite(s.confidence) &&
    s.startMs >= previousStart &&
    s.endMs >= s.startMs;
  if (!ok) {
    throw vigilError(
      'VIGIL_ERR_INVALID_ARGUMENT',
      `segments[${i}] must have a label, finite confidence and 0 <= startMs <= endMs, starting no earlier than the previous segment`,
    );
  }
}

/** `HH:MM:SS.mmm` from whole ms; hours grow past two digits as WebVTT allows. */
function vttTime(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  const pad = (n: number, w: number): string => String(n).padStart(w, '0');
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}.${pad(ms % 1000, 3)}`;
}

// Escaping `>` also rules out `-->` in the text; a blank line would end the cue.
function escapeVtt(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r\n|\r|\n/g, ' ');
}

/**
 * Renders segments as an aligned text table for people: start, end, duration, label,
 * confidence, peak. Times are `m:ss.s`; the duration is the difference of the rounded
 * start and end shown, so the columns add up. Lines have no trailing spaces and the result
 * no trailing newline.
 * @example
 * toTable([{ label: 'fight', startMs: 1500, endMs: 64250, confidence: 0.8712, peak: 0.97 }]);
 * // start   end     duration  label  confidence  peak
 * // 0:01.5  1:04.3  1:02.8    fight  0.87        0.97
 */
export function toTable(segments: readonly Segment[]): string {
  const rows = [['start', 'end', 'duration', 'label', 'confidence', 'peak']];
  for (const s of segments) {
    const start = Math.round(s.startMs / 100);
    const end = Math.round(s.endMs / 100);
    rows.push([
      tableTime(start),
      tableTime(end),
      tableTime(end - start),
      s.label.replace(/\s/g, ' '),
      s.confidence.toFixed(2),
      s.peak.toFixed(2),
    ]);
  }
  return textTable(rows).join('\n');
}

/** `m:ss.s` from tenths of a second. */
function tableTime(tenths: number): string {
  const sign = tenths < 0 ? '-' : '';
  const t = Math.abs(tenths);
  const m = Math.floor(t / 600);
  const s = Math.floor((t % 600) / 10);
  return `${sign}${m}:${String(s).padStart(2, '0')}.${t % 10}`;
}
