import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';
import { vigilError } from '../../../errors.js';

/**
 * onnxruntime-node's native session, as its own `dist/binding.js` exposes it. The package's
 * public `InferenceSession.run()` calls exactly this `run()`, synchronously, one
 * `setImmediate` later: it blocks the thread either way. Calling it directly lets the
 * recurrent head keep its synchronous `step()` contract and saves a loop turn per frame.
 * If a future onnxruntime-node moves it, {@link loadOrt} fails and the engine falls back
 * to tfjs, saying why.
 */
interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  readonly inputMetadata: { name: string }[];
  readonly outputMetadata: { name: string }[];
  run(feeds: Record<string, Ort.Tensor>, fetches: Record<string, Ort.Tensor | null>, options: object): Record<string, Ort.Tensor>;
  dispose(): void;
}

interface Runtime {
  readonly ort: typeof Ort;
  readonly version: string;
  readonly Session: new () => NativeSession;
  readonly init: () => void;
}

const require = createRequire(import.meta.url);
let runtime: Runtime | undefined;

/**
 * Loads onnxruntime-node once per process.
 * @throws VIGIL_ERR_ENGINE when the package or its native binary cannot load here.
 */
export function loadOrt(): Runtime {
  if (runtime) return runtime;
  try {
    const ort = require('onnxruntime-node') as typeof Ort;
    const { binding, initOrt } = require('onnxruntime-node/dist/binding.js') as {
      binding: { InferenceSession: new () => NativeSession };
      initOrt: () => void;
    };
    if (typeof binding?.InferenceSession !== 'function' || typeof initOrt !== 'function') {
      throw new Error('onnxruntime-node/dist/binding.js has no InferenceSession (an incompatible version?)');
    }
    runtime = { ort, version: ort.env.versions.node ?? 'unknown', Session: binding.InferenceSession, init: initOrt };
    return runtime;
  } catch (e) {
    throw vigilError('VIGIL_ERR_ENGINE', `onnxruntime-node: ${(e as Error).message.split('\n')[0]}`, e);
  }
}

export interface SessionOptions {
  /**
   * Threads one run may use; the calling thread is one of them [threads=1]. See
   * `DEFAULT_THREADS` in ../engine.ts for the measured default.
   */
  threads?: number;
  /** Let idle pool threads spin for the next run (lower latency, burns a core) [spin=false]. */
  spin?: boolean;
}

/** A float32 tensor to feed: `data` is row-major with `dims`, and may be a subarray. */
export interface Feed {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** One loaded ONNX graph on onnxruntime's CPU provider. */
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /**
   * Runs the graph synchronously on the calling thread (plus `threads - 1` pool threads).
   * @param fetch outputs to return [default: all]
   * @returns fresh arrays, owned by the caller.
   */
  run(feeds: Record<string, Feed>, fetch?: readonly string[]): Record<string, Float32Array>;
  /** Frees the native session; later runs throw. Safe to call twice. */
  dispose(): void;
}

/**
 * @param model a serialised ONNX ModelProto.
 * @throws VIGIL_ERR_ENGINE when onnxruntime rejects the model.
 */
export function createSession(model: Uint8Array, options: SessionOptions = {}): OrtSession {
  const rt = loadOrt();
  rt.init();
  const threads = options.threads ?? 1;
  const native = new rt.Session();
  try {
    native.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      // Errors come back as exceptions with the same text; warnings are not ours to act on.
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: options.spin ? '1' : '0' } } },
    });
  } catch (e) {
    throw vigilError('VIGIL_ERR_ENGINE', `onnxruntime could not load the model: ${(e as Error).message}`, e);
  }
  const inputNames = native.inputMetadata.map((m) => m.name);
  const outputNames = native.outputMetadata.map((m) => m.name);
  let disposed = false;
  return {
    inputNames,
    outputNames,
    run(feeds, fetch = outputNames) {
      if (disposed) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'run() on a disposed onnxruntime session');
      // The native run does not check names: a missing feed would fail deep in a kernel.
      for (const name of inputNames) {
        if (!(name in feeds))
          throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `no input "${name}"; the graph takes ${inputNames.join(', ')}`);
      }
      const tensors: Record<string, Ort.Tensor> = {};
      for (const [name, f] of Object.entries(feeds)) tensors[name] = new rt.ort.Tensor('float32', f.data, f.dims);
      const fetches: Record<string, null> = {};
      for (const name of fetch) fetches[name] = null;
      const out = native.run(tensors, fetches, {});
      const result: Record<string, Float32Array> = {};
      for (const name of fetch) result[name] = out[name].data as Float32Array;
      return result;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      native.dispose();
    },
  };
}
