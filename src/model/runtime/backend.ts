import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { vigilError } from '../../errors.js';
import { log } from '../../log.js';

/** tfjs backends in order of preference; `tensorflow` is the name tfjs-node registers. */
export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendChoice {
  readonly name: BackendName;
  /** Why this one: forced by env, or which better ones failed and how. */
  readonly reason: string;
  /** wasm only: whether the SIMD build is running (it is ~2-3x faster than the plain one). */
  readonly simd?: boolean;
}

const require = createRequire(import.meta.url);
let chosen: Promise<BackendChoice> | undefined;

/**
 * Runs `fn` and takes back the process-wide `uncaughtException` / `unhandledRejection`
 * listeners it added. tfjs-backend-wasm's Emscripten glue installs ones that rethrow, and a
 * listener that rethrows ends the process whatever the application's own handlers decide
 * (the server logs a stray rejection and keeps serving; see docs/service.md, "Security").
 */
async function withoutProcessHooks<T>(fn: () => Promise<T>): Promise<T> {
  const events = ['uncaughtException', 'unhandledRejection'];
  const before = events.map((e) => new Set(process.listeners(e as 'uncaughtException')));
  try {
    return await fn();
  } finally {
    events.forEach((e, i) => {
      for (const l of process.listeners(e as 'uncaughtException')) if (!before[i].has(l)) process.off(e, l);
    });
  }
}

async function tryBackend(name: BackendName): Promise<string | undefined> {
  return withoutProcessHooks(() => initBackend(name));
}

async function initBackend(name: BackendName): Promise<string | undefined> {
  try {
    if (name === 'tensorflow') {
      // Optional dependency: its install script downloads libtensorflow, so it is often
      // absent or half-installed; requiring it throws in both cases.
      require('@tensorflow/tfjs-node');
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
    }
    if (!(await tf.setBackend(name))) return 'failed to initialise';
    await tf.ready();
    return undefined;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

async function choose(): Promise<BackendChoice> {
  const forced = process.env.VIGIL_BACKEND;
  if (forced !== undefined && forced !== '') {
    if (!(BACKENDS as readonly string[]).includes(forced)) {
      throw vigilError('VIGIL_ERR_BACKEND', `VIGIL_BACKEND=${forced}; allowed: ${BACKENDS.join(', ')}`);
    }
    const failure = await tryBackend(forced as BackendName);
    if (failure !== undefined) throw vigilError('VIGIL_ERR_BACKEND', `${forced} (forced by VIGIL_BACKEND): ${failure}`);
    return describe(forced as BackendName, 'forced by VIGIL_BACKEND');
  }
  const skipped: string[] = [];
  for (const name of BACKENDS) {
    const failure = await tryBackend(name);
    if (failure === undefined) {
      return describe(name, skipped.length === 0 ? 'first choice' : `fallback (${skipped.join('; ')})`);
    }
    skipped.push(`${name}: ${failure}`);
  }
  throw vigilError('VIGIL_ERR_BACKEND', skipped.join('; '));
}

function describe(name: BackendName, reason: string): BackendChoice {
  const choice: BackendChoice = name === 'wasm' ? { name, reason, simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') } : { name, reason };
  log.info(`tensor backend: ${name}${choice.simd === undefined ? '' : choice.simd ? ' (simd)' : ' (no simd)'}, ${reason}`);
  return choice;
}

/**
 * Picks the fastest tfjs backend that starts here, once per process: `VIGIL_BACKEND`
 * (tensorflow | wasm | cpu) forces one; otherwise tfjs-node, then wasm, then cpu.
 */
export function selectBackend(): Promise<BackendChoice> {
  chosen ??= choose();
  return chosen;
}
