import { loadModel, type VigilModel } from '../model/model.js';
import { createStreamBatcher, type StreamBatcher } from '../model/stream-batcher.js';

export interface PooledModel {
  readonly model: VigilModel;
  /** Live cameras on this model share its engine calls. */
  readonly batcher: StreamBatcher;
}

/** Loads each model once for the whole server; cameras and clip jobs share it. */
export interface ModelPool {
  /** @throws VIGIL_ERR_MODEL_NOT_FOUND, VIGIL_ERR_MODEL_INVALID */
  get(name: string): Promise<PooledModel>;
  /** What is loaded, with its batching figures (for /api/status). */
  loaded(): Array<{ name: string; engine: string; streams: number; frames: number; runs: number }>;
  dispose(): void;
}

export function createModelPool(): ModelPool {
  const pool = new Map<string, Promise<PooledModel>>();
  const ready = new Map<string, PooledModel>();
  return {
    get(name) {
      let p = pool.get(name);
      if (!p) {
        p = loadModel(name).then((model) => {
          const pooled = { model, batcher: createStreamBatcher(model) };
          ready.set(name, pooled);
          return pooled;
        });
        // A failed load is not cached: the folder may be fixed and the camera retried.
        p.catch(() => pool.delete(name));
        pool.set(name, p);
      }
      return p;
    },
    loaded() {
      return [...ready].map(([name, { model, batcher }]) => ({
        name,
        engine: model.engine.name,
        streams: batcher.streams,
        frames: batcher.stats.frames,
        runs: batcher.stats.runs,
      }));
    },
    dispose() {
      for (const { model } of ready.values()) model.dispose();
      ready.clear();
      pool.clear();
    },
  };
}
