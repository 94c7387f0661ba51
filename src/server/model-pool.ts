import { labelClip } from '../label-clip.js';
import type { ModelManifest } from '../model/folder/manifest.js';
import { isShippedModel, readManifest, resolveModelDir } from '../model/folder/model-folder.js';
import { loadModel, type VigilModel } from '../model/model.js';
import { createStreamBatcher, type StreamBatcher, type StreamLabeler, type StreamOptions } from '../model/live/stream-batcher.js';
import { createInferencePool, type PoolClipOptions, type WorkerFigures } from '../model/workers/pool.js';
import type { TimelineJson } from '../timeline/format.js';
import { createUseCounts } from '../model/use-counts.js';

/** A model as live cameras use it: its manifest here, its streams labelled where the pool says. */
export interface LiveModel {
  readonly manifest: ModelManifest;
  /** A labeler for one camera; resolves once the model is loaded where it runs. */
  open(options?: StreamOptions): Promise<StreamLabeler>;
}

/**
 * Loads each model once for the whole server; cameras and clip jobs share it. A model that no
 * stream or clip job uses any more is unloaded (a camera's adapted version it swapped away
 * from), unless it is a shipped one: those stay cached.
 */
export interface ModelPool {
  /** @throws VIGIL_ERR_MODEL_NOT_FOUND, VIGIL_ERR_MODEL_INVALID */
  live(name: string): Promise<LiveModel>;
  /**
   * Labels a recorded clip where live cameras are labelled (an inference worker, or this
   * thread with no workers), so a clip job never blocks the I/O thread. @throws as `live`,
   * and labelClip's errors
   */
  labelClip(name: string, source: string, options?: PoolClipOptions): Promise<TimelineJson>;
  /** What is loaded, with its batching figures (for /api/status). */
  loaded(): Array<{ name: string; engine: string; streams: number; frames: number; runs: number }>;
  /** The inference workers' figures (none when live labelling runs on this thread). */
  workers(): WorkerFigures[];
  close(): Promise<void>;
}

/**
 * @param [options.workers] inference worker threads for live cameras [default: the cores];
 *   0 labels them on this thread, sharing engine calls through one batcher per model.
 */
export function createModelPool(options: { workers?: number } = {}): ModelPool {
  const pool = new Map<string, Promise<VigilModel>>();
  const ready = new Map<string, VigilModel>();
  const batchers = new Map<string, StreamBatcher>();
  /** Streams (opening or open) and clip jobs per model, on this thread. */
  const users = createUseCounts();
  const unloading = new Set<Promise<void>>();
  const inference = options.workers === 0 ? undefined : createInferencePool({ workers: options.workers });

  function get(name: string): Promise<VigilModel> {
    let p = pool.get(name);
    if (!p) {
      const loading = loadModel(name).then((model) => {
        // Unloaded while it loaded (its users gave up): that unload frees it.
        if (pool.get(name) === loading) ready.set(name, model);
        return model;
      });
      p = loading;
      // A failed load is not cached: the folder may be fixed and the camera retried.
      loading.catch(() => pool.get(name) === loading && pool.delete(name));
      pool.set(name, p);
    }
    return p;
  }

  const use = (name: string) => users.use(name);

  /**
   * One user fewer; the last one of a model that is not shipped frees it. Out of the maps at
   * once, so a stream opened meanwhile loads it afresh instead of getting one being freed; the
   * session is freed only once its batcher is idle (freeing it mid-call would abort).
   */
  function release(name: string): void {
    if (!users.release(name)) return;
    if (inference || isShippedModel(name)) return;
    const p = pool.get(name);
    if (!p) return;
    const batcher = batchers.get(name);
    pool.delete(name);
    ready.delete(name);
    batchers.delete(name);
    const done: Promise<void> = p
      .then(async (model) => {
        await batcher?.idle();
        model.dispose();
      })
      .catch(() => {}) // failed to load: nothing to free
      .finally(() => unloading.delete(done));
    unloading.add(done);
  }

  /** A stream of `name` here, counted from before the load so that no unload frees it meanwhile. */
  async function openHere(name: string, o: StreamOptions | undefined): Promise<StreamLabeler> {
    use(name);
    let labeler: StreamLabeler;
    try {
      const model = await get(name);
      let batcher = batchers.get(name);
      if (!batcher) batchers.set(name, (batcher = createStreamBatcher(model)));
      labeler = batcher.open(o);
    } catch (e) {
      release(name);
      throw e;
    }
    let closed = false;
    return {
      label: (frame) => labeler.label(frame),
      reset: () => labeler.reset(),
      close() {
        if (closed) return;
        closed = true;
        labeler.close();
        release(name);
      },
    };
  }

  return {
    async labelClip(name, source, options = {}) {
      if (inference) return inference.labelClip(name, source, options);
      use(name);
      try {
        return await labelClip(source, await get(name), options);
      } finally {
        release(name);
      }
    },
    async live(name) {
      if (inference) {
        // Read and checked here (cheap: no weights), so a bad folder fails before a worker loads it.
        const manifest = readManifest(resolveModelDir(name));
        return { manifest, open: (o) => inference.open(name, o) };
      }
      const model = await get(name);
      // Each open looks the model up again: it may have been unloaded since this call.
      return { manifest: model.manifest, open: (o) => openHere(name, o) };
    },
    loaded() {
      const rows = new Map<string, { name: string; engine: string; streams: number; frames: number; runs: number }>();
      for (const [name, model] of ready) {
        const b = batchers.get(name);
        rows.set(name, {
          name,
          engine: model.engine.name,
          streams: b?.streams ?? 0,
          frames: b?.stats.frames ?? 0,
          runs: b?.stats.runs ?? 0,
        });
      }
      for (const [name, m] of inference?.models() ?? []) {
        const row = rows.get(name) ?? { name, engine: m.engine, streams: 0, frames: 0, runs: 0 };
        row.streams += m.streams;
        row.frames += m.frames;
        row.runs += m.runs;
        rows.set(name, row);
      }
      return [...rows.values()];
    },
    workers: () => inference?.figures() ?? [],
    async close() {
      await inference?.close();
      await Promise.all([...unloading]);
      for (const model of ready.values()) model.dispose();
      ready.clear();
      pool.clear();
      batchers.clear();
    },
  };
}
