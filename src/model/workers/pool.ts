import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { vigilError, type ErrorCode } from '../../errors.js';
import { currentLogLevel, log } from '../../log.js';
import { isShippedModel } from '../folder/model-folder.js';
import type { TimelineJson } from '../../timeline/format.js';
import type { Frame } from '../../video/types.js';
import type { LiveLabel, StreamLabeler, StreamOptions } from '../live/stream-batcher.js';
import type { ClipJobOptions, FromWorker, ToWorker } from './messages.js';

/** A recorded clip's labelling in a worker: `labelClip`'s options that cross threads, plus these. */
export interface PoolClipOptions extends ClipJobOptions {
  /** Cancels: the worker stops at its next batch and the promise rejects with VIGIL_ERR_ABORTED. */
  signal?: AbortSignal;
  onProgress?: (tMs: number, durationMs: number | null) => void;
}
import { spawnWorker } from './spawn.js';
import { createUseCounts } from '../use-counts.js';

/** Figures of one worker, for /api/status and benches. */
export interface WorkerFigures {
  readonly index: number;
  readonly streams: number;
  /** Frames labelled and engine calls made since the worker started. */
  readonly frames: number;
  readonly runs: number;
  /** Share of wall time its thread was busy (0-1), since the previous `figures()` call. */
  readonly busy: number;
  /** The models loaded in it (names or folders as opened), as it last said. */
  readonly models: readonly string[];
}

/** Labels live streams in worker threads: the main thread only moves bytes. */
export interface InferencePool {
  /**
   * A stream on the least-loaded worker; resolves once that worker has loaded the model.
   * @throws the model's load errors (VIGIL_ERR_MODEL_NOT_FOUND, VIGIL_ERR_ENGINE, ...)
   */
  open(model: string, options?: StreamOptions): Promise<StreamLabeler>;
  /**
   * Labels a recorded clip (file or URL) on the least-loaded worker, as `labelClip` does on
   * this thread: same timeline, with ffmpeg decoding while that worker's CNN runs.
   * @throws labelClip's errors; VIGIL_ERR_ENGINE if the worker dies meanwhile
   */
  labelClip(model: string, source: string, options?: PoolClipOptions): Promise<TimelineJson>;
  readonly size: number;
  /**
   * Per model loaded: open streams, frames labelled, engine calls. A model no stream or clip
   * uses any more is unloaded from every worker, unless it is a shipped one (those stay
   * cached: cameras come back to them).
   */
  models(): Map<string, { streams: number; frames: number; runs: number; engine: string }>;
  figures(): WorkerFigures[];
  /** Lets each worker finish its engine call, frees its sessions, waits for it to exit. */
  close(): Promise<void>;
}

interface Pending {
  resolve(l: LiveLabel): void;
  reject(e: unknown): void;
}

interface Slot {
  readonly index: number;
  worker: Worker;
  alive: boolean;
  streams: number;
  /** Cumulative counters per model, as the worker last reported them. */
  counters: Map<string, { frames: number; runs: number }>;
  /** Counters of models unloaded since, so the worker's totals stay cumulative. */
  retired: { frames: number; runs: number };
  /** What the worker said it has loaded. */
  loaded: string[];
  opening: Map<number, { resolve(engine: string): void; reject(e: unknown): void }>;
  /** Clip jobs under way on it. */
  clips: Map<
    number,
    { model: string; resolve(t: TimelineJson): void; reject(e: unknown): void; onProgress?: PoolClipOptions['onProgress'] }
  >;
  pending: Map<number, Map<number, Pending>>;
  /** The model of each stream on it. */
  models: Map<number, string>;
  /** Resolves when the worker said it is done (`down`) or exited. */
  down: Promise<void>;
  exited: Promise<void>;
  lastElu: ReturnType<Worker['performance']['eventLoopUtilization']> | undefined;
}

/** [default: the machine's cores] */
export const DEFAULT_WORKERS = availableParallelism();

/**
 * @param [options.workers=DEFAULT_WORKERS] threads; each runs onnxruntime on one intra-op
 *   thread (`VIGIL_ORT_THREADS` is set to 1 in them unless the operator set it), so N
 *   workers use N cores. Measured: two 1-thread sessions in two workers label 144 frames/s
 *   where one 2-thread session in the main thread labels 92 (issue 14).
 */
export function createInferencePool(options: { workers?: number } = {}): InferencePool {
  const size = options.workers ?? DEFAULT_WORKERS;
  if (!Number.isInteger(size) || size < 1)
    throw vigilError('VIGIL_ERR_CONFIG', `inference workers must be a whole number >= 1 (got ${size})`);
  const slots: Slot[] = [];
  const engines = new Map<string, string>();
  const openStreams = new Map<string, number>();
  /** Streams (opening or open) and clip jobs per model; at 0 a model not shipped is unloaded. */
  const users = createUseCounts();
  let nextStream = 1;
  let closing: Promise<void> | undefined;

  function fail(code: string, message: string) {
    return vigilError((code.startsWith('VIGIL_ERR_') ? code : 'VIGIL_ERR_INTERNAL') as ErrorCode, message);
  }

  function start(index: number): Slot {
    const env = { ...process.env, VIGIL_ORT_THREADS: process.env.VIGIL_ORT_THREADS || '1', VIGIL_LOG_LEVEL: currentLogLevel() };
    const worker = spawnWorker('worker', { env, name: `vigil-inference-${index}` });
    let exited!: () => void;
    let down!: () => void;
    const slot: Slot = {
      index,
      worker,
      alive: true,
      streams: 0,
      counters: new Map(),
      retired: { frames: 0, runs: 0 },
      loaded: [],
      opening: new Map(),
      clips: new Map(),
      pending: new Map(),
      models: new Map(),
      down: new Promise<void>((r) => (down = r)),
      exited: new Promise<void>((r) => (exited = r)),
      lastElu: undefined,
    };
    const { models } = slot;
    worker.on('message', (msg: FromWorker) => {
      switch (msg.op) {
        case 'opened':
          slot.opening.get(msg.stream)?.resolve(msg.engine);
          slot.opening.delete(msg.stream);
          break;
        case 'label': {
          const p = slot.pending.get(msg.stream)?.get(msg.seq);
          slot.pending.get(msg.stream)?.delete(msg.seq);
          const name = models.get(msg.stream);
          // A label answered after its model's unload: counted in `retired` already.
          if (name && users.has(name)) slot.counters.set(name, { frames: msg.frames, runs: msg.runs });
          const label: { tMs: number; probs: Float32Array; focus?: typeof msg.focus; gated?: true } = { tMs: msg.tMs, probs: msg.probs };
          if (msg.focus) label.focus = msg.focus;
          if (msg.gated) label.gated = true;
          p?.resolve(label);
          break;
        }
        case 'failed': {
          const err = fail(msg.code, msg.message);
          if (msg.seq === undefined) {
            slot.opening.get(msg.stream)?.reject(err);
            slot.opening.delete(msg.stream);
          } else {
            slot.pending.get(msg.stream)?.get(msg.seq)?.reject(err);
            slot.pending.get(msg.stream)?.delete(msg.seq);
          }
          break;
        }
        case 'progress':
          slot.clips.get(msg.job)?.onProgress?.(msg.tMs, msg.durationMs);
          break;
        case 'clip-done': {
          const c = slot.clips.get(msg.job);
          slot.clips.delete(msg.job);
          // Under the name it was asked for (a folder path, say), as streams are.
          if (c) engines.set(c.model, msg.engine);
          c?.resolve(msg.timeline);
          break;
        }
        case 'clip-failed':
          slot.clips.get(msg.job)?.reject(fail(msg.code, msg.message));
          slot.clips.delete(msg.job);
          break;
        case 'models':
          slot.loaded = msg.loaded;
          break;
        case 'down':
          down();
          break;
      }
    });
    // An exception inside the worker ends it; its streams fail over to a fresh one.
    worker.on('error', (e) => log.error(`inference worker ${index}: ${e.stack ?? e.message}`));
    worker.once('exit', (code) => {
      slot.alive = false;
      const err = vigilError('VIGIL_ERR_ENGINE', `inference worker ${index} exited (code ${code})`);
      for (const o of slot.opening.values()) o.reject(err);
      for (const c of slot.clips.values()) c.reject(err);
      slot.clips.clear();
      for (const byStream of slot.pending.values()) for (const p of byStream.values()) p.reject(err);
      slot.opening.clear();
      slot.pending.clear();
      if (!closing) log.warn(`inference worker ${index} exited (code ${code}); its streams move to a new one`);
      down();
      exited();
    });
    return slot;
  }

  function slotFor(): Slot {
    for (let i = 0; i < size; i++) {
      if (!slots[i] || !slots[i].alive) slots[i] = start(i);
    }
    // Fewest streams first; ties to the lower index.
    return slots.reduce((best, s) => (s.streams < best.streams ? s : best));
  }

  const post = (slot: Slot, msg: ToWorker, transfer: ArrayBuffer[] = []) => slot.worker.postMessage(msg, transfer);

  const use = (name: string) => users.use(name);

  /**
   * One user fewer; the last one of a model that is not shipped unloads it everywhere (an
   * adapted version a camera left leaks its session in every worker otherwise). A stream
   * opened after this posts its `open` after the `unload`, and a worker loads it afresh.
   */
  function release(name: string): void {
    if (!users.release(name)) return;
    if (closing || isShippedModel(name)) return;
    engines.delete(name);
    openStreams.delete(name);
    for (const slot of slots) {
      const c = slot.counters.get(name);
      if (c) {
        slot.retired.frames += c.frames;
        slot.retired.runs += c.runs;
        slot.counters.delete(name);
      }
      if (slot.alive) post(slot, { op: 'unload', model: name });
    }
  }

  async function place(name: string, options: StreamOptions): Promise<{ slot: Slot; id: number }> {
    if (closing) throw vigilError('VIGIL_ERR_CONFLICT', 'inference pool is closing');
    const slot = slotFor();
    const id = nextStream++;
    slot.streams += 1;
    slot.models.set(id, name);
    slot.pending.set(id, new Map());
    try {
      const engine = await new Promise<string>((resolve, reject) => {
        slot.opening.set(id, { resolve, reject });
        post(slot, { op: 'open', stream: id, model: name, options });
      });
      engines.set(name, engine);
      return { slot, id };
    } catch (e) {
      slot.streams -= 1;
      slot.pending.delete(id);
      throw e;
    }
  }

  return {
    size,
    async open(name, options = {}) {
      // Counted from the start: a stream of it closing meanwhile must not unload it.
      use(name);
      let at: { slot: Slot; id: number };
      try {
        at = await place(name, options);
      } catch (e) {
        release(name);
        throw e;
      }
      openStreams.set(name, (openStreams.get(name) ?? 0) + 1);
      let seq = 0;
      let closed = false;
      let moving: Promise<void> | undefined;
      return {
        async label(frame: Frame) {
          if (closed) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'label() on a closed stream');
          if (!at.slot.alive) {
            // Its worker died: start over on another (state is lost, as on a reconnect).
            moving ??= place(name, options)
              .then((next) => void (at = next))
              .finally(() => (moving = undefined));
            await moving;
          }
          const { slot, id } = at;
          const n = seq++;
          // Moved, not copied: a frame assembled across pipe chunks owns its buffer;
          // one cut from inside a larger chunk is copied first (it shares that chunk).
          const d = frame.data;
          const data = d.byteOffset === 0 && d.byteLength === d.buffer.byteLength ? d : new Uint8Array(d);
          return new Promise<LiveLabel>((resolve, reject) => {
            slot.pending.get(id)?.set(n, { resolve, reject });
            post(slot, { op: 'frame', stream: id, seq: n, tMs: frame.tMs, width: frame.width, height: frame.height, data }, [
              data.buffer as ArrayBuffer,
            ]);
          });
        },
        reset() {
          if (at.slot.alive) post(at.slot, { op: 'reset', stream: at.id });
        },
        close() {
          if (closed) return;
          closed = true;
          openStreams.set(name, (openStreams.get(name) ?? 1) - 1);
          at.slot.streams -= 1;
          if (at.slot.alive) post(at.slot, { op: 'close', stream: at.id });
          at.slot.models.delete(at.id);
          release(name);
        },
      };
    },
    async labelClip(name, source, o = {}) {
      if (closing) throw vigilError('VIGIL_ERR_CONFLICT', 'inference pool is closing');
      if (o.signal?.aborted) throw vigilError('VIGIL_ERR_ABORTED', `labelling ${source}`);
      const slot = slotFor();
      const job = nextStream++;
      const { signal, onProgress, ...options } = o;
      const cancel = () => slot.alive && post(slot, { op: 'cancel', job });
      // A clip keeps its worker busy like a stream does: placement counts it as one.
      slot.streams += 1;
      use(name);
      signal?.addEventListener('abort', cancel, { once: true });
      try {
        return await new Promise<TimelineJson>((resolve, reject) => {
          slot.clips.set(job, { model: name, resolve, reject, onProgress });
          post(slot, { op: 'clip', job, model: name, source, options });
        });
      } finally {
        signal?.removeEventListener('abort', cancel);
        slot.streams -= 1;
        release(name);
      }
    },
    models() {
      const out = new Map<string, { streams: number; frames: number; runs: number; engine: string }>();
      for (const [name, engine] of engines) out.set(name, { streams: openStreams.get(name) ?? 0, frames: 0, runs: 0, engine });
      for (const slot of slots) {
        for (const [name, c] of slot.counters) {
          const m = out.get(name);
          if (m) {
            m.frames += c.frames;
            m.runs += c.runs;
          }
        }
      }
      return out;
    },
    figures() {
      return slots.map((s) => {
        const now = s.alive ? s.worker.performance.eventLoopUtilization() : undefined;
        // Node counts a worker's idle time only when its poll returns, and reads it from this
        // thread: a sample taken while the worker waits counts that wait as active, the next one
        // as idle, so the share between them can come out below 0 (or past 1). It is a share.
        const busy = now ? Math.min(1, Math.max(0, s.worker.performance.eventLoopUtilization(now, s.lastElu).utilization)) : 0;
        s.lastElu = now;
        let { frames, runs } = s.retired;
        for (const c of s.counters.values()) {
          frames += c.frames;
          runs += c.runs;
        }
        return { index: s.index, streams: s.streams, frames, runs, busy, models: s.loaded };
      });
    },
    close() {
      closing ??= Promise.all(
        slots.map(async (s) => {
          if (!s.alive) return;
          post(s, { op: 'shutdown' });
          // `down` comes once its engine calls are done and its sessions freed. Terminating
          // a thread inside an onnxruntime call can abort the process, so only then may a
          // thread that a library's handle keeps open be ended.
          await s.down;
          const gone = await Promise.race([s.exited.then(() => true), new Promise<boolean>((r) => setTimeout(r, 2000, false).unref())]);
          if (!gone) await s.worker.terminate();
        }),
      ).then(() => {});
      return closing;
    },
  };
}
