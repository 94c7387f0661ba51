import type { Readable } from 'node:stream';
import { asVigilError, vigilError, type ErrorCode, type VigilError } from '../errors.js';
import { log } from '../log.js';
import type { ModelManifest } from '../model/folder/manifest.js';
import { framesFor, openModelFrames } from '../model/frames.js';
import type { StreamLabeler } from '../model/live/stream-batcher.js';
import type { EventTracker } from '../events/tracker.js';
import { round } from '../numbers.js';
import { createSegmenter, type SegmentEvent } from '../timeline/segments.js';
import { createSmoother, type SmoothedFrame } from '../timeline/smoother.js';
import { openFrames } from '../video/decode.js';
import { classifySource, displaySource } from '../video/probe.js';
import type { Frame, SourceInput } from '../video/types.js';
import { createPreview, type Preview } from './preview.js';
import type { CameraState, CameraStatus, ModelStatus, ServerMessage, WireError } from './protocol.js';

/** What a camera is, as the runner needs it (the store's record has more). */
export interface CameraSpec {
  id: string;
  /** A file path, an rtsp/http(s) URL, or `webcam` (bytes arrive through `ingest`). */
  source: string;
  fps: number | null;
  loop: boolean;
}

/** Hooks for a recorder that rides on the camera's ffmpeg (see recorder.ts). */
export interface RunnerRecorder {
  /**
   * ffmpeg output arguments added to each decoding session (a second output); none while the
   * disk is full, and then `resume` is called once space returns.
   */
  outputArgs(resume: () => void): string[];
  /** Why nothing is recorded (VIGIL_ERR_STORE: disk full), shown in the status while live. */
  paused(): VigilError | undefined;
  /** A decoding session ended (reconnect, end of file, stop): flush what it wrote. */
  sessionEnded(): Promise<void>;
  /**
   * A labelled frame of model `model` (its index in the camera's order), in stream time of the
   * current session, when the source showed it (epoch ms, the events' wall clock), and the
   * version of that model that labelled it (it changes when the camera swaps versions).
   */
  frame(f: SmoothedFrame, sessionTMs: number, model: number, sourceMs: number, version: string): void;
  segment(e: SegmentEvent, model: number): void;
}

export interface CameraRunner {
  readonly id: string;
  /** JPEGs of what the camera sees, for the web UI. */
  readonly preview: Preview;
  status(): CameraStatus;
  /** A webcam publisher's byte stream (webm); replaces the previous one. */
  ingest(stream: Readable): void;
  /**
   * Replaces one model's labeler (an adapted version of it, or the shipped one back) while
   * the camera runs: ffmpeg, the smoother, the segments and so the open event go on; the new
   * head starts from a fresh state on the next frame. The old labeler is closed once its
   * frame in flight is labelled. `manifest` must be of the same model (name and classes).
   * @throws VIGIL_ERR_NOT_FOUND for a model the camera does not run; VIGIL_ERR_INVALID_ARGUMENT
   */
  swap(model: string, next: { labeler: StreamLabeler; manifest: ModelManifest }): Promise<void>;
  /** Stops decoding and waits for ffmpeg to exit; the open segment ends. */
  stop(): Promise<void>;
}

/** One of a camera's models, with its own labeler state, smoother, segments and events. */
export interface RunnerModel {
  labeler: StreamLabeler;
  manifest: ModelManifest;
  /** Gets this model's segments with the time of the frame that reported them (see src/events). */
  events?: EventTracker;
}

export interface RunnerOptions {
  /** At least one; one ffmpeg decodes for all. */
  models: readonly RunnerModel[];
  /** Called unbound, as a plain function. */
  publish: (msg: ServerMessage) => void;
  maxBackoffMs: number;
  /** Rides on every model's labels (the clips' timelines, their `events` labels). */
  recorder?: RunnerRecorder;
  /** Lag past which a live camera is `behind` [behindMs=2000]; it is `live` again under half of it. */
  behindMs?: number;
}

/**
 * Where a session's frames stand on the wall clock. The anchor is the smallest
 * `arrival - tMs` seen: for a realtime file, its start on the wall clock (plus ffmpeg's
 * start-up); for a URL or a webcam, the moment it delivered closest to real time. A source
 * we read slower than it plays (ffmpeg held back, a backlog in a socket) delivers its
 * frames later and later against their own timestamps, and the lag grows with it.
 * @internal exported for tests
 */
export function createLagClock(): { arrived(tMs: number, wallMs: number): number } {
  let anchor = Infinity;
  return {
    /** @returns when the source showed this frame (epoch ms) */
    arrived(tMs, wallMs) {
      anchor = Math.min(anchor, wallMs - tMs);
      return anchor + tMs;
    },
  };
}

/** Errors of a local file that no retry can fix. */
const PERMANENT = new Set<ErrorCode>([
  'VIGIL_ERR_SOURCE_NOT_FOUND',
  'VIGIL_ERR_SOURCE_NOT_FILE',
  'VIGIL_ERR_SOURCE_EMPTY',
  'VIGIL_ERR_SOURCE_INVALID',
  'VIGIL_ERR_SOURCE_NO_VIDEO',
  'VIGIL_ERR_SOURCE_SCHEME',
]);

/**
 * Runs one camera: ffmpeg → CNN → recurrent step → smoother → segments, published as they
 * happen. Labelling never queues: while a frame is in the model, only the newest decoded
 * frame waits, and each one it replaces counts as dropped, so latency stays one frame deep
 * however slow the machine. A source that fails or ends (other than a file without loop)
 * reconnects with exponential backoff; stream time keeps increasing across reconnects.
 *
 * Several models share one ffmpeg: the first model's frames come on stdout, each further
 * model's at its own size and rate on a pipe of its own (`outputs` of openFrames). Each model
 * labels, drops, smooths and segments on its own; a slow model drops its frames, not the
 * others'. The camera's counts are the models' sums, its lag the slowest model's.
 */
export function startCameraRunner(camera: CameraSpec, options: RunnerOptions): CameraRunner {
  const { publish, recorder } = options;
  if (options.models.length === 0) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `camera ${camera.id}: no model to run`);
  const lanes = options.models.map((m) => ({
    ...m,
    name: m.manifest.name,
    fps: camera.fps ?? m.manifest.fps,
    spec: framesFor(m.manifest),
    counts: { model: m.manifest.name, version: m.manifest.version, frames: 0, dropped: 0, gated: 0 } satisfies ModelStatus,
    // The label call in flight, so a swapped-out labeler is closed only after it answers.
    labelling: undefined as Promise<unknown> | undefined,
    // When the source showed this model's newest labelled frame (epoch ms); 0 before the first.
    labelledSourceMs: 0,
  }));
  const fps = Math.max(...lanes.map((l) => l.fps));
  const behindMs = options.behindMs ?? 2000;
  const state: CameraStatus = { cameraId: camera.id, state: 'starting', frames: 0, dropped: 0, gated: 0, lagMs: 0 };
  // The slowest model's newest labelled frame: the camera is as far behind as its slowest model.
  const labelledSourceMs = () => Math.min(...lanes.map((l) => l.labelledSourceMs));
  const stopCtl = new AbortController();
  const preview = createPreview({ fps: Math.min(fps, 10) });
  let source: ReturnType<typeof openFrames> | undefined;
  let publisher: Readable | undefined;
  let wakePublisher = () => {};
  // Stream time of this camera = session time + offset, so it never goes back on reconnect.
  let offsetMs = 0;
  let lastMs = -1;
  // The recording stopped or can resume: the next session starts at once, staying live.
  let restart = false;

  const labelling = () => state.state === 'live' || state.state === 'behind';

  function setState(next: CameraState, extra: { error?: WireError; retryAtMs?: number } = {}): void {
    state.state = next;
    state.error = extra.error;
    state.retryAtMs = extra.retryAtMs;
    if (!labelling()) for (const l of lanes) l.labelledSourceMs = 0;
    publish({ type: 'status', ...status() });
  }

  function status(): CameraStatus {
    const seen = labelledSourceMs();
    state.lagMs = labelling() && seen > 0 ? Math.max(0, Date.now() - seen) : 0;
    for (const k of ['frames', 'dropped', 'gated'] as const) state[k] = lanes.reduce((n, l) => n + l.counts[k], 0);
    return { ...state, models: lanes.map((l) => ({ ...l.counts })) };
  }

  /** live ⇄ behind, with hysteresis so a lag near the bound does not flap. */
  function checkLag(): void {
    const seen = labelledSourceMs();
    if (!labelling() || seen === 0) return;
    const lag = Date.now() - seen;
    if (state.state === 'live' && lag > behindMs) setState('behind', { error: state.error });
    else if (state.state === 'behind' && lag < behindMs / 2) setState('live', { error: state.error });
  }

  // The events of ended sessions still being stored (the trackers never reject).
  let storing: Promise<unknown> = Promise.resolve();

  async function session(input: SourceInput, kind: 'file' | 'url' | 'stream'): Promise<void> {
    const base = offsetMs;
    const clock = createLagClock();
    let failure: unknown;
    const tracks = lanes.map((lane, k) => {
      const { manifest } = lane;
      lane.labeler.reset();
      const smoother = createSmoother(manifest.classes, manifest.smoothing);
      const segmenter = createSegmenter(manifest.classes, { reachMs: smoother.reachMs });
      // The latest labelled frame's stream time and source wall clock: the events' clock.
      let at = { tMs: 0, wallMs: Date.now() };
      // The tracker's promise: it keeps its own order and never rejects, so a frame does not
      // wait for it; a stop does (`storing`, below), so its events are stored before it ends.
      const emit = (events: SegmentEvent[]): Promise<void> | undefined => {
        const stored = lane.events?.push(events, at);
        for (const e of events) {
          recorder?.segment(e, k);
          const { confidence, peak } = e.segment;
          publish({
            type: 'segment',
            cameraId: camera.id,
            model: lane.name,
            event: e.type,
            segment: { ...e.segment, confidence: round(confidence, 4), peak: round(peak, 4) },
          });
        }
        return stored;
      };
      const labelOne = async (frame: Frame, wallMs: number, sourceMs: number): Promise<void> => {
        const frameTMs = frame.tMs; // the pixels may move to a worker; the numbers stay
        // Read per frame: swap() may have replaced it since the last one. The version with it,
        // so a frame in flight across a swap says the version that labelled it.
        const { version } = lane.counts;
        const call = lane.labeler.label(frame);
        lane.labelling = call;
        const p = await call;
        const { focus } = p;
        const tMs = base + frameTMs;
        const s = smoother.push({ tMs, probs: p.probs });
        lane.counts.frames += 1;
        if (p.gated) lane.counts.gated += 1;
        lastMs = Math.max(lastMs, tMs);
        lane.labelledSourceMs = sourceMs;
        const li = manifest.classes.indexOf(s.label);
        publish({
          type: 'label',
          cameraId: camera.id,
          model: lane.name,
          version,
          tMs,
          wallMs,
          sourceMs,
          probs: Object.fromEntries(manifest.classes.map((c, i) => [c, round(p.probs[i], 4)])),
          label: s.label,
          confidence: round(s.smoothed[li], 4),
          ...(s.provisional ? { provisional: true } : {}),
          ...(focus ? { focus: { x: round(focus.x, 4), y: round(focus.y, 4), side: round(focus.side, 4) } } : {}),
        });
        recorder?.frame(s, frameTMs, k, sourceMs, version);
        at = { tMs, wallMs: sourceMs };
        void emit(segmenter.push(s));
        checkLag();
      };
      type Arrived = { frame: Frame; wallMs: number; sourceMs: number };
      let waiting: Arrived | undefined;
      let busy: Promise<void> | undefined;
      const pump = async (first: Arrived): Promise<void> => {
        let next: Arrived | undefined = first;
        while (next) {
          await labelOne(next.frame, next.wallMs, next.sourceMs);
          next = waiting;
          waiting = undefined;
        }
      };
      return {
        /** ffmpeg is read as fast as it writes, whatever the model's pace: a frame that
         *  arrives while one is in the model replaces the one waiting (newest wins). */
        offer(arrived: Arrived): void {
          if (busy) {
            if (waiting) lane.counts.dropped += 1;
            waiting = arrived;
            return;
          }
          busy = pump(arrived)
            .catch((e) => {
              failure ??= e;
              void source?.close();
            })
            .finally(() => (busy = undefined));
        },
        idle: async () => {
          while (busy) await busy;
        },
        finish: () => emit(segmenter.finish()) ?? Promise.resolve(),
      };
    });
    const [first, ...rest] = lanes;
    source = openModelFrames(first.manifest, input, {
      fps: first.fps,
      outputs: rest.map((l) => ({ width: l.spec.width, height: l.spec.height, fps: l.fps })),
      realtime: kind === 'file',
      loop: kind === 'file' && camera.loop,
      threads: 1,
      signal: stopCtl.signal,
      extraOutputArgs: [
        ...preview.outputArgs(3),
        ...(recorder?.outputArgs(() => {
          // A webcam's stream cannot be reopened mid-way: its next publisher records.
          if (kind === 'stream') return;
          restart = true;
          void source?.close();
        }) ?? []),
      ],
      extraPipes: 1,
      onExtraPipes: ([jpegs]) => preview.attach(jpegs),
    });
    // A publisher destroyed instead of ended never ends the pipe into ffmpeg's stdin, and
    // ffmpeg would wait on it forever: end the session; the camera waits for the next one.
    const own = source;
    const fed = kind === 'stream' ? (input as Readable) : undefined;
    const cut = () => void (fed?.readableEnded || own.close());
    if (fed?.destroyed) cut();
    else fed?.once('close', cut);
    // A stalled model shows as growing lag even when no label arrives to check it.
    const lagTimer = setInterval(checkLag, 500);
    const idle = () => Promise.all(tracks.map((t) => t.idle()));

    try {
      let started = false;
      for await (const frame of source) {
        if (!started) {
          started = true;
          const paused = recorder?.paused();
          setState('live', paused ? { error: { code: paused.code, message: paused.message } } : {});
        }
        const wallMs = Date.now();
        tracks[frame.output ?? 0].offer({ frame, wallMs, sourceMs: clock.arrived(frame.tMs, wallMs) });
      }
      await idle();
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the label pump's rejection reason unchanged
      if (failure) throw failure;
    } finally {
      clearInterval(lagTimer);
      fed?.off('close', cut);
      await idle();
      // The session's last events are stored before a stop ends (stop awaits them), but the
      // next session does not wait for them: a store retrying through an outage (see the
      // tracker) must not hold a reconnect or a restart after a full disk. The trackers live as
      // long as the runner, so the next session's events still queue behind these.
      storing = Promise.all([storing, ...tracks.map((t) => t.finish())]);
      // The next session starts a frame interval after the last labelled frame.
      if (lastMs >= 0) offsetMs = lastMs + 1000 / fps;
      await recorder?.sessionEnded();
    }
  }

  async function run(): Promise<void> {
    let attempt = 0;
    while (!stopCtl.signal.aborted) {
      let kind: 'file' | 'url' | 'stream';
      let input: SourceInput;
      if (camera.source === 'webcam') {
        if (!publisher) {
          setState('waiting');
          await new Promise<void>((done) => (wakePublisher = done));
          if (stopCtl.signal.aborted) break;
        }
        input = publisher as Readable;
        publisher = undefined;
        kind = 'stream';
      } else {
        input = camera.source;
        kind = 'url';
      }
      if (state.state !== 'reconnecting' && !restart) setState('starting');
      restart = false;
      const pausedBefore = recorder?.paused();
      try {
        if (kind !== 'stream') kind = classifySource(camera.source);
        const framesBefore = state.frames;
        await session(input, kind);
        if (state.frames > framesBefore) attempt = 0;
        if (stopCtl.signal.aborted) break;
        // The disk filled (ffmpeg ended with the recording) or has room again: go on labelling.
        if (restart || (!pausedBefore && recorder?.paused())) {
          restart = true;
          continue;
        }
        if (kind === 'file' && !camera.loop) {
          setState('ended');
          return;
        }
        if (kind === 'stream') continue; // back to waiting for the next publisher
        throw vigilError('VIGIL_ERR_SOURCE_UNREACHABLE', `${displaySource(camera.source)} ended`);
      } catch (e) {
        if (stopCtl.signal.aborted) break;
        const err = asVigilError(e);
        const wire = { code: err.code, message: err.message };
        if (kind === 'file' && PERMANENT.has(err.code)) {
          log.warn(`camera ${camera.id}: ${err.code}: ${err.message}`);
          setState('error', { error: wire });
          return;
        }
        if (kind === 'stream') {
          log.warn(`camera ${camera.id}: webcam stream failed: ${err.message}`);
          continue;
        }
        // Exponential backoff with jitter, so many cameras behind one dead switch do not
        // all knock at once.
        const delay = Math.min(options.maxBackoffMs, 1000 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
        attempt += 1;
        log.info(`camera ${camera.id}: ${err.code}; retry ${attempt} in ${Math.round(delay)} ms`);
        setState('reconnecting', { error: wire, retryAtMs: Date.now() + Math.round(delay) });
        await sleep(delay, stopCtl.signal);
      }
    }
  }

  const done = run().catch((e) => {
    log.error(`camera ${camera.id} stopped: ${(e as Error).stack}`);
    setState('error', { error: { code: 'VIGIL_ERR_INTERNAL', message: (e as Error).message } });
  });

  return {
    id: camera.id,
    preview,
    status,
    ingest(stream) {
      if (camera.source !== 'webcam')
        throw vigilError('VIGIL_ERR_CONFLICT', `camera ${camera.id} reads ${displaySource(camera.source)}, not a webcam`);
      // Stopping: nobody would read it; its close ends the publisher's socket.
      if (stopCtl.signal.aborted) return void stream.destroy();
      publisher?.destroy();
      publisher = stream;
      // A publisher replacing a live one: end the running session; the loop picks this one up.
      void source?.close();
      wakePublisher();
    },
    async swap(model, next) {
      const lane = lanes.find((l) => l.name === model);
      if (!lane) throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${camera.id} does not run ${model}`);
      const { manifest } = next;
      if (manifest.name !== model || manifest.classes.join() !== lane.manifest.classes.join()) {
        next.labeler.close();
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${manifest.name}@${manifest.version} cannot replace ${model}: not the same model`);
      }
      // Stopping: stop() closes the lanes' labelers; this one would never be used.
      if (stopCtl.signal.aborted) return void next.labeler.close();
      const old = lane.labeler;
      const inFlight = lane.labelling;
      lane.labeler = next.labeler;
      lane.manifest = manifest;
      lane.counts.version = manifest.version;
      publish({ type: 'status', ...status() });
      await inFlight?.catch(() => {});
      old.close();
    },
    async stop() {
      stopCtl.abort();
      wakePublisher();
      publisher?.destroy();
      await source?.close();
      await done;
      await storing;
      preview.close();
      for (const l of lanes) l.labeler.close();
      setState('stopped');
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const t = setTimeout(finish, ms);
    function finish() {
      clearTimeout(t);
      signal.removeEventListener('abort', finish);
      done();
    }
    signal.addEventListener('abort', finish, { once: true });
  });
}
