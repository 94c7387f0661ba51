import { ERRORS, vigilError, type ErrorCode, type VigilError } from '../errors.js';
import { currentLogLevel } from '../log.js';
import { spawnWorker } from '../model/workers/spawn.js';
import type { AdaptModelOptions, AdaptOutcome, AdaptStage } from './adapt-model.js';

/** What the adaptation worker posts: progress as it goes, then `done` or `failed`. */
export type FromAdaptWorker =
  | { type: 'progress'; stage: AdaptStage; fold?: number; folds?: number }
  | { type: 'log'; line: string }
  | ({ type: 'done' } & AdaptOutcome)
  | { type: 'failed'; error: { code: ErrorCode; message: string } };

/** A running adaptation off the main thread. */
export interface AdaptThread {
  /** The outcome, or the adaptation's coded error (VIGIL_ERR_ABORTED after `cancel`). */
  readonly result: Promise<AdaptOutcome>;
  /** Stops the worker where it is; `result` rejects. What it wrote in `out` is the caller's to remove. */
  cancel(): Promise<void>;
}

/**
 * Runs {@link adaptModel} in a worker thread: the same options and outcome, with `log` and
 * `onProgress` called here as the worker posts them.
 */
export function adaptInThread(options: AdaptModelOptions): AdaptThread {
  const { log, onProgress, ...data } = options;
  const worker = spawnWorker(
    'adapt-worker',
    { name: 'vigil-adapt', workerData: data, env: { ...process.env, VIGIL_LOG_LEVEL: currentLogLevel() } },
    import.meta.url,
  );
  let cancelled = false;
  const result = new Promise<AdaptOutcome>((resolve, reject) => {
    let settled = false;
    worker.on('message', (msg: FromAdaptWorker) => {
      if (msg.type === 'progress') onProgress?.({ stage: msg.stage, fold: msg.fold, folds: msg.folds });
      else if (msg.type === 'log') log?.(msg.line);
      else if (msg.type === 'done') {
        settled = true;
        resolve({ manifest: msg.manifest, dir: msg.dir, record: msg.record });
      } else {
        settled = true;
        reject(rebuilt(msg.error.code, msg.error.message));
      }
    });
    worker.on('error', (e) => {
      settled = true;
      reject(vigilError('VIGIL_ERR_INTERNAL', `adaptation worker: ${e.message}`, e));
    });
    worker.on('exit', (code) => {
      if (settled) return;
      reject(
        cancelled
          ? vigilError('VIGIL_ERR_ABORTED', 'adaptation cancelled')
          : vigilError('VIGIL_ERR_INTERNAL', `adaptation worker exited with ${code}`),
      );
    });
  });
  return {
    result,
    async cancel() {
      cancelled = true;
      await worker.terminate();
    },
  };
}

/** The worker's error as the same coded error here: its detail is its message less the code's template around it. */
function rebuilt(code: ErrorCode, message: string): VigilError {
  const [before, after] = ERRORS[code].message.split('%s');
  const detail =
    message.startsWith(before) && message.endsWith(after) ? message.slice(before.length, message.length - after.length) : message;
  return vigilError(code, detail);
}
