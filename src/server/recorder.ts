import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { vigilError, type VigilError } from '../errors.js';
import type { RecordedFor } from '../events/types.js';
import { log } from '../log.js';
import type { ModelManifest } from '../model/folder/manifest.js';
import { buildTimeline, type SegmentEvent } from '../timeline/segments.js';
import { combineTimelines, toTimelineJson } from '../timeline/format.js';
import type { SmoothedFrame } from '../timeline/smoother.js';
import { resolveFfmpeg } from '../video/ffmpeg.js';
import type { CameraRecord, Store } from '../store/index.js';
import type { RunnerRecorder } from './camera-runner.js';
import type { ServerMessage } from './protocol.js';

export interface RecorderOptions {
  camera: CameraRecord;
  store: Store;
  /** The camera's models in its order; a clip's timeline has each one's labels. */
  manifests: readonly ModelManifest[];
  publish(msg: ServerMessage): void;
  /**
   * A recording is stored (after its `clip` message): the events it covers link to it. In
   * `events` mode `recordedFor` names the segments it was kept for, so only their events take
   * it; undefined in `continuous` mode, where any event it covers does. Awaited, so the links
   * of one clip are made before the next clip is stored; it should not reject.
   */
  clipReady?(clipId: string, recordedFor: RecordedFor[] | undefined): Promise<void> | void;
  /** How often ffmpeg's segment list is read [pollMs=500]. */
  pollMs?: number;
  /** How often free space is checked while the disk is full [spaceCheckMs=3000]. */
  spaceCheckMs?: number;
}

/** Segment length when only events are kept: the granularity of pre- and post-roll. */
const EVENT_SEGMENT_S = 2;
/** The longest events clip: an event that never ends is cut into clips of this length. */
const EVENT_CLIP_MAX_MS = 30_000;
/** Below this much free space in staging a session records nothing (the disk is full)... */
const MIN_FREE_BYTES = 1024 * 1024;
/** ...and once it was full, recording resumes with this much free, so it does not flap. */
const RESUME_FREE_BYTES = 16 * 1024 * 1024;

/** A labelled frame of one model, in camera stream time (clip time once taken). */
interface Labelled {
  tMs: number;
  probs: number[];
  /** The version of the model that labelled it. */
  version: string;
}

/**
 * Which version labelled a clip's frames of one model: the last frame's, and each version in
 * turn from its first frame when a switch falls inside the clip. No frame: the version now.
 */
function labelledBy(own: readonly Labelled[], now: string): { version: string; versions?: Array<{ version: string; fromMs: number }> } {
  const versions: Array<{ version: string; fromMs: number }> = [];
  for (const f of own) if (versions.at(-1)?.version !== f.version) versions.push({ version: f.version, fromMs: f.tMs });
  const version = versions.at(-1)?.version ?? now;
  return versions.length > 1 ? { version, versions } : { version };
}

/** A segment of a wanted label: `endMs` null while it goes on. */
interface Interval {
  /** Index of the model in the camera's order. */
  model: number;
  label: string;
  startMs: number;
  endMs: number | null;
}

interface Piece {
  path: string;
  /** Camera stream time. */
  startMs: number;
  endMs: number;
}

/**
 * Records a camera as a second output of its decoding ffmpeg (the source is read once):
 * H.264 in short mp4 segments written to the store's staging folder. ffmpeg lists a segment
 * only after closing it, so only complete files are ever adopted as clips; the segment
 * being written when ffmpeg dies is discarded (the store wipes staging on start, too).
 *
 * Each of the camera's models labels the clip: its timeline is the first model's with every
 * model's in `models` (see TimelineJson), and `events` labels may be classes of any of them.
 * Each model's `model.version` is the version that labelled its last frame in the clip (the
 * camera may swap versions while it records); a clip spanning a swap lists them in `versions`.
 * `continuous` keeps every segment as a clip. `events` writes 2 s segments and keeps those
 * within pre-/post-roll of a segment of one of the policy's labels, joining consecutive kept
 * pieces into one clip (cut every 30 s while an event goes on); a piece is decided once the
 * stream is `preRoll` past its end. With less than 1 MiB free in staging a session records
 * nothing and {@link RunnerRecorder.paused} says so, until 16 MiB are free again.
 * Re-encoding (ultrafast) costs CPU but makes every source, MJPEG or webcam VP8 included,
 * a browser-playable mp4 that cuts exactly at segment boundaries.
 */
export function createRecorder(o: RecorderOptions): RunnerRecorder {
  const { camera, store, manifests } = o;
  if (manifests.length === 0) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `camera ${camera.id}: a recording needs a model`);
  const policy = camera.record;
  const events = policy.mode === 'events';
  const segmentS = policy.mode === 'continuous' ? policy.segmentS : EVENT_SEGMENT_S;
  const preMs = policy.mode === 'events' ? policy.preRollS * 1000 : 0;
  const postMs = policy.mode === 'events' ? policy.postRollS * 1000 : 0;
  const wanted = new Set(policy.mode === 'events' && policy.labels.length > 0 ? policy.labels : manifests.map((m) => m.classes[0]));

  let prefix = '';
  let listPath = '';
  let listRead = 0;
  let poll: NodeJS.Timeout | undefined;
  // Camera time = session time + offset (learned from the first frame of a session).
  let offsetMs = 0;
  let wall0 = 0;
  // Per model, in the camera's order.
  let frames: Labelled[][] = manifests.map(() => []);
  const lastMs: number[] = manifests.map(() => -Infinity);
  // The version of each model that labelled its latest frame: what a clip without frames says.
  const versionNow: string[] = manifests.map((m) => m.version);
  // Where every model that labels in this session has labelled to: pieces before it are decided.
  const labelledTo = () => Math.min(...lastMs.filter((t) => t > -Infinity));
  let sessionStarted = false;
  let listedToMs = -Infinity;
  // Segments of the wanted labels, every model's, in the order they started.
  let intervals: Interval[] = [];
  const undecided: Piece[] = [];
  let group: Piece[] = [];
  let chain: Promise<void> = Promise.resolve();
  // This session writes segments; `full` says why not while the disk is full.
  let recording = false;
  let full: VigilError | undefined;

  /** Free bytes in staging; Infinity when the filesystem cannot say. */
  function freeBytes(): number {
    try {
      const fs = statfsSync(dirname(store.stagingPath('')));
      return fs.bavail * fs.bsize;
    } catch {
      return Infinity;
    }
  }

  function diskFull(free: number): VigilError {
    const mib = (n: number) => `${Math.max(0, n / 1024 / 1024).toFixed(1)} MiB`;
    return vigilError('VIGIL_ERR_STORE', `disk full (${mib(free)} free): not recording until ${mib(RESUME_FREE_BYTES)} are free`);
  }

  function later(task: () => Promise<void> | void): Promise<void> {
    chain = chain.then(task).catch((e) => log.warn(`camera ${camera.id}: recording: ${(e as Error).message}`));
    return chain;
  }

  function readList(): void {
    let text: string;
    try {
      text = readFileSync(listPath, 'utf8');
    } catch {
      return;
    }
    const lines = text.split('\n');
    // The last line may be half-written; it is read again next time.
    for (; listRead < lines.length - 1; listRead++) {
      const [name, start, end] = lines[listRead].split(',');
      const piece = { path: `${prefix}-dir/${name}`, startMs: Number(start) * 1000 + offsetMs, endMs: Number(end) * 1000 + offsetMs };
      if (!name || !Number.isFinite(piece.startMs)) continue;
      listedToMs = piece.endMs;
      if (events) undecided.push(piece);
      else {
        const inside = framesOf([piece]);
        const now = [...versionNow];
        frames = frames.map((fs) => fs.filter((f) => f.tMs >= piece.endMs));
        void later(() => keep([piece], inside, now, undefined)); // queued; later() logs a failure
      }
    }
    if (events) decide(false);
  }

  function overlapsEvent(p: Piece): boolean {
    return intervals.some((iv) => iv.startMs - preMs < p.endMs && (iv.endMs ?? Infinity) + postMs > p.startMs);
  }

  function decide(final: boolean): void {
    const to = labelledTo();
    while (undecided.length > 0 && (final || to >= undecided[0].endMs + preMs)) {
      const p = undecided.shift() as Piece;
      if (overlapsEvent(p)) {
        group.push(p);
        // An event that never ends (or keeps recurring) would hold staging forever.
        if (p.endMs - group[0].startMs >= EVENT_CLIP_MAX_MS) flushGroup();
      } else {
        store.discard(p.path);
        flushGroup();
      }
    }
    if (final) flushGroup();
    // Frames and events older than anything still undecided are not needed any more (a
    // flushed group took its frames with it).
    // `listedTo` is where the piece ffmpeg is writing now begins.
    const horizon = Math.min(undecided[0]?.startMs ?? Infinity, group[0]?.startMs ?? Infinity, listedToMs) - preMs - postMs;
    frames = frames.map((fs) => (fs.length > 0 && fs[0].tMs < horizon ? fs.filter((f) => f.tMs >= horizon) : fs));
    if (intervals.some((iv) => iv.endMs !== null && iv.endMs + postMs < horizon))
      intervals = intervals.filter((iv) => iv.endMs === null || iv.endMs + postMs >= horizon);
  }

  /** Each model's labelled frames inside the pieces, in clip time. */
  function framesOf(pieces: Piece[]): Labelled[][] {
    const startMs = pieces[0].startMs;
    const endMs = pieces[pieces.length - 1].endMs;
    return frames.map((fs) =>
      fs.filter((f) => f.tMs >= startMs && f.tMs < endMs).map((f) => ({ tMs: f.tMs - startMs, probs: f.probs, version: f.version })),
    );
  }

  function flushGroup(): void {
    if (group.length === 0) return;
    const pieces = group;
    group = [];
    const inside = framesOf(pieces);
    // Decided now: the intervals are pruned as the stream goes on.
    const startMs = pieces[0].startMs;
    const endMs = pieces[pieces.length - 1].endMs;
    const recordedFor = intervals
      .filter((iv) => iv.startMs - preMs < endMs && (iv.endMs ?? Infinity) + postMs > startMs)
      .map((iv) => ({ model: manifests[iv.model].name, label: iv.label, startMs: iv.startMs }));
    const now = [...versionNow];
    void later(() => keep(pieces, inside, now, recordedFor)); // queued; later() logs a failure
  }

  async function keep(pieces: Piece[], inside: Labelled[][], now: string[], recordedFor: RecordedFor[] | undefined): Promise<void> {
    const path = pieces.length === 1 ? pieces[0].path : await concat(pieces);
    const startMs = pieces[0].startMs;
    const endMs = pieces[pieces.length - 1].endMs;
    const durationMs = Math.round(endMs - startMs);
    const json = combineTimelines(
      manifests.map((manifest, k) => {
        const own = inside[k];
        const timeline = buildTimeline(manifest.classes, own, { ...manifest.smoothing, endMs: own.length > 0 ? durationMs : undefined });
        return toTimelineJson({
          source: `camera:${camera.id}`,
          model: { name: manifest.name, ...labelledBy(own, now[k]) },
          classes: manifest.classes,
          fps: camera.fps ?? manifest.fps,
          durationMs,
          frames: timeline.frames,
          segments: timeline.segments,
          options: manifest.smoothing,
        });
      }),
    );
    const startedAtMs = Math.round(wall0 + startMs - offsetMs);
    let clip;
    try {
      clip = await store.clips.adopt(path, {
        kind: 'recording',
        cameraId: camera.id,
        name: `${camera.name} ${new Date(startedAtMs).toISOString()}`,
        mime: 'video/mp4',
        startedAtMs,
        durationMs,
        status: 'ready',
        timeline: json,
      });
    } catch (e) {
      store.discard(path);
      throw e;
    }
    if (pieces.length > 1) for (const p of pieces) store.discard(p.path);
    o.publish({ type: 'clip', clipId: clip.id, status: 'ready' });
    await o.clipReady?.(clip.id, recordedFor);
  }

  async function concat(pieces: Piece[]): Promise<string> {
    const list = store.stagingPath('.txt');
    const out = store.stagingPath('.mp4');
    writeFileSync(list, pieces.map((p) => `file '${p.path.replace(/'/g, "'\\''")}'\n`).join(''));
    const { ffmpeg } = await resolveFfmpeg();
    await new Promise<void>((done, fail) => {
      const proc = spawn(
        ffmpeg.path,
        [
          '-hide_banner',
          '-loglevel',
          'error',
          '-nostdin',
          '-f',
          'concat',
          '-safe',
          '0',
          '-i',
          list,
          '-c',
          'copy',
          '-movflags',
          '+faststart',
          '-y',
          out,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let err = '';
      proc.stderr.on('data', (d) => (err += d));
      proc.on('error', fail);
      proc.on('exit', (code) => (code === 0 ? done() : fail(new Error(`ffmpeg concat exited ${code}: ${err.trim()}`))));
    });
    store.discard(list);
    return out;
  }

  return {
    outputArgs(resume) {
      const free = freeBytes();
      if (free < (full ? RESUME_FREE_BYTES : MIN_FREE_BYTES)) {
        if (!full) log.warn(`camera ${camera.id}: ${(full = diskFull(free)).message}`);
        poll = setInterval(() => {
          if (freeBytes() < RESUME_FREE_BYTES) return;
          clearInterval(poll);
          log.info(`camera ${camera.id}: disk space is back; recording resumes`);
          full = undefined;
          resume();
        }, o.spaceCheckMs ?? 3000);
        poll.unref();
        return [];
      }
      full = undefined;
      recording = true;
      prefix = store.stagingPath('');
      listPath = `${prefix}-dir/list.csv`;
      listRead = 0;
      // ffmpeg's segment muxer does not create folders.
      mkdirSync(`${prefix}-dir`, { recursive: true });
      poll = setInterval(readList, o.pollMs ?? 500);
      poll.unref();
      return [
        '-map',
        '0:v:0',
        '-an',
        '-vf',
        "scale='min(640,iw)':-2",
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-pix_fmt',
        'yuv420p',
        // A keyframe on every boundary, so each segment starts cleanly and lasts segmentS.
        '-force_key_frames',
        `expr:gte(t,n_forced*${segmentS})`,
        '-f',
        'segment',
        '-segment_time',
        String(segmentS),
        '-segment_format',
        'mp4',
        '-segment_format_options',
        'movflags=+faststart',
        '-reset_timestamps',
        '1',
        '-segment_list',
        listPath,
        '-segment_list_type',
        'csv',
        `${prefix}-dir/seg-%06d.mp4`,
      ];
    },
    paused: () => full,
    frame(f: SmoothedFrame, sessionTMs: number, model: number, sourceMs: number, version: string) {
      versionNow[model] = version;
      if (!recording) return;
      // Every model's frames carry the same session offset: the first of any model sets it.
      // The wall clock is the source's, as the events': a clip and its events agree on when
      // things happened however late the first frame was labelled.
      if (!sessionStarted) {
        sessionStarted = true;
        offsetMs = f.tMs - sessionTMs;
        wall0 = sourceMs - sessionTMs;
      }
      lastMs[model] = f.tMs;
      frames[model].push({ tMs: f.tMs, probs: [...f.probs], version });
      if (events) decide(false);
    },
    segment(e: SegmentEvent, model: number) {
      if (!recording || !wanted.has(e.segment.label)) return;
      const { label, startMs } = e.segment;
      if (e.type === 'start') intervals.push({ model, label, startMs, endMs: null });
      else if (e.type === 'end') {
        // Models' segments interleave: this model's open one ends.
        const open = intervals.find((iv) => iv.model === model && iv.endMs === null && iv.startMs === startMs);
        if (open) open.endMs = e.segment.endMs;
      }
    },
    async sessionEnded() {
      clearInterval(poll);
      if (!recording) return;
      recording = false;
      // ffmpeg ends every output when one fails: a segment that hit ENOSPC ends the session.
      const free = freeBytes();
      if (free < MIN_FREE_BYTES) log.warn(`camera ${camera.id}: ${(full = diskFull(free)).message}`);
      readList();
      if (events) decide(true);
      await later(() => {
        store.discard(`${prefix}-dir`);
      });
      sessionStarted = false;
      lastMs.fill(-Infinity);
      listedToMs = -Infinity;
      intervals = [];
      frames = manifests.map(() => []);
    },
  };
}
