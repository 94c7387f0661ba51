/**
 * An adaptation in a worker thread: tfjs trains on the thread that calls it, for seconds at
 * a time, and the server's main thread must keep serving live cameras meanwhile. Started by
 * adapt-thread.ts with the options in `workerData`; posts progress, then one outcome, then exits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { asVigilError } from '../errors.js';
import { adaptModel, type AdaptModelOptions } from './adapt-model.js';
import type { FromAdaptWorker } from './adapt-thread.js';

if (!parentPort) throw new Error('train/adapt-worker.ts runs inside a worker thread (see adapt-thread.ts)');
const port = parentPort;
const send = (msg: FromAdaptWorker) => port.postMessage(msg);
const options = workerData as Omit<AdaptModelOptions, 'log' | 'onProgress'>;

try {
  const { manifest, dir, record } = await adaptModel({
    ...options,
    log: (line) => send({ type: 'log', line }),
    onProgress: (p) => send({ type: 'progress', ...p }),
  });
  send({ type: 'done', manifest, dir, record });
} catch (e) {
  const err = asVigilError(e);
  send({ type: 'failed', error: { code: err.code, message: err.message } });
}
