/**
 * An inference worker: loads the models its streams use (one onnxruntime session of one
 * thread each) and labels their frames, batching frames of one model that arrive together.
 * Pixel encoding (frame differences, the motion crop) happens here too, so the main thread
 * only moves bytes. Recorded clips are labelled here end to end as well (their ffmpeg is this
 * thread's child). Started by pool.ts; never terminated mid-call (see `shutdown`).
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { asVigilError } from '../../errors.js';
import { labelClip } from '../../label-clip.js';
import { log } from '../../log.js';
import { loadModel, type VigilModel } from '../model.js';
import { createStreamBatcher, type StreamBatcher, type StreamLabeler, type StreamOptions } from '../live/stream-batcher.js';
import type { FromWorker, ToWorker } from './messages.js';
import { createUseCounts } from '../use-counts.js';

if (!parentPort) throw new Error('workers/worker.ts runs inside a worker thread (see pool.ts)');
const port: MessagePort = parentPort;

interface Loaded {
  model: VigilModel;
  batcher: StreamBatcher;
}

const models = new Map<string, Promise<Loaded>>();
/** The loads that finished and are not unloaded yet, as the pool hears of them. */
const ready = new Map<string, Loaded>();
/** Streams and clips of each model open here: an unload waits for none. */
const users = createUseCounts();
const streams = new Map<number, { labeler: StreamLabeler; loaded: Loaded; model: string }>();
const inFlight = new Set<Promise<unknown>>();
const jobs = new Map<number, AbortController>();
let shuttingDown = false;

const send = (msg: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);
const report = () => send({ op: 'models', loaded: [...ready.keys()].sort() });
const use = (name: string) => users.use(name);
const release = (name: string) => void users.release(name);

function model(name: string): Promise<Loaded> {
  let p = models.get(name);
  if (!p) {
    const loading = loadModel(name).then((m) => ({ model: m, batcher: createStreamBatcher(m) }));
    p = loading;
    loading.then(
      (l) => {
        // Unloaded while it loaded: that unload frees it; this load is not the current one.
        if (models.get(name) !== loading) return;
        ready.set(name, l);
        report();
      },
      () => {
        if (models.get(name) === loading) models.delete(name);
      },
    );
    models.set(name, p);
  }
  return p;
}

/**
 * Frees a model no stream or clip here uses. Out of `models` at once, so an `open` that
 * follows loads it afresh instead of getting one being freed; disposed once its batcher is idle.
 */
async function unload(name: string): Promise<void> {
  const p = models.get(name);
  if (!p || users.has(name)) return;
  models.delete(name);
  let loaded: Loaded;
  try {
    loaded = await p;
  } catch {
    return; // failed to load: nothing to free
  }
  await loaded.batcher.idle();
  loaded.model.dispose();
  if (ready.get(name) === loaded) ready.delete(name);
  report();
}

function track<T>(p: Promise<T>): Promise<T> {
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p)).catch(() => {});
  return p;
}

async function open(stream: number, name: string, options: StreamOptions): Promise<void> {
  // Counted before the load: an unload arriving meanwhile leaves this model alone.
  use(name);
  try {
    const loaded = await track(model(name));
    streams.set(stream, { labeler: loaded.batcher.open(options), loaded, model: name });
    send({ op: 'opened', stream, engine: loaded.model.engine.name });
  } catch (e) {
    release(name);
    const err = asVigilError(e);
    send({ op: 'failed', stream, code: err.code, message: err.message });
  }
}

function frame(msg: Extract<ToWorker, { op: 'frame' }>): void {
  const s = streams.get(msg.stream);
  if (!s) {
    send({
      op: 'failed',
      stream: msg.stream,
      seq: msg.seq,
      code: 'VIGIL_ERR_INVALID_ARGUMENT',
      message: `stream ${msg.stream} is not open in this worker`,
    });
    return;
  }
  const { stats } = s.loaded.batcher;
  const f = { index: msg.seq, tMs: msg.tMs, width: msg.width, height: msg.height, data: msg.data };
  void track(s.labeler.label(f)).then(
    (p) => {
      const probs = Float32Array.from(p.probs);
      const out: FromWorker = { op: 'label', stream: msg.stream, seq: msg.seq, tMs: p.tMs, probs, frames: stats.frames, runs: stats.runs };
      if (p.focus) out.focus = p.focus;
      if (p.gated) out.gated = true;
      send(out, [probs.buffer]);
    },
    (e) => {
      const err = asVigilError(e);
      send({ op: 'failed', stream: msg.stream, seq: msg.seq, code: err.code, message: err.message });
    },
  );
}

async function clip(msg: Extract<ToWorker, { op: 'clip' }>): Promise<void> {
  const ctl = new AbortController();
  jobs.set(msg.job, ctl);
  use(msg.model);
  try {
    const loaded = await track(model(msg.model));
    const onProgress = (tMs: number, durationMs: number | null) => send({ op: 'progress', job: msg.job, tMs, durationMs });
    const timeline = await track(labelClip(msg.source, loaded.model, { ...msg.options, signal: ctl.signal, onProgress }));
    send({ op: 'clip-done', job: msg.job, timeline, engine: loaded.model.engine.name });
  } catch (e) {
    const err = asVigilError(e);
    send({ op: 'clip-failed', job: msg.job, code: err.code, message: err.message });
  } finally {
    jobs.delete(msg.job);
    release(msg.model);
  }
}

async function shutdown(): Promise<void> {
  shuttingDown = true;
  // A clip under way stops at its next batch; its engine call finishes first like any other.
  for (const ctl of jobs.values()) ctl.abort();
  // Every engine call under way finishes first: freeing a session mid-run would abort.
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  for (const p of models.values()) {
    try {
      (await p).model.dispose();
    } catch {
      // failed to load: nothing to free
    }
  }
  models.clear();
  send({ op: 'down' });
  port.close();
}

port.on('message', (msg: ToWorker) => {
  if (shuttingDown) return;
  switch (msg.op) {
    case 'open':
      void open(msg.stream, msg.model, msg.options);
      break;
    case 'frame':
      frame(msg);
      break;
    case 'reset':
      streams.get(msg.stream)?.labeler.reset();
      break;
    case 'close': {
      const s = streams.get(msg.stream);
      if (!s) break;
      s.labeler.close();
      streams.delete(msg.stream);
      release(s.model);
      break;
    }
    case 'clip':
      void clip(msg);
      break;
    case 'cancel':
      jobs.get(msg.job)?.abort();
      break;
    case 'unload':
      void track(unload(msg.model));
      break;
    case 'shutdown':
      void shutdown();
      break;
    default:
      log.warn(`inference worker: unknown message ${JSON.stringify(msg).slice(0, 80)}`);
  }
});
