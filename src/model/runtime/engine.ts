import { availableParallelism } from 'node:os';
import { vigilError } from '../../errors.js';
import { log } from '../../log.js';
import { selectBackend, type BackendChoice } from './backend.js';
import { attr, createGraphBuilder } from './onnx/proto.js';
import { createSession, loadOrt } from './onnx/runtime.js';

/**
 * Inference engines in order of preference: `ort` runs converted ONNX graphs on
 * onnxruntime-node (native kernels); `tfjs` runs the layers models on the tfjs backend that
 * backend.ts picks (tensorflow, wasm or cpu).
 */
export const ENGINES = ['ort', 'tfjs'] as const;
export type EngineName = (typeof ENGINES)[number];

/**
 * Threads per onnxruntime run, by path. Measured on the 2-core dev/CI machine with
 * `npm run bench:engines` (MobileNetV2-224, medians, over 7 runs in which the second core
 * was free; the machine is shared, hence ranges):
 *
 * - Live frames (batch 1, the fused CNN + step graph): 1 thread 4.5-6.1 ms/frame; one
 *   session on 2 intra-op threads 4.4-5.6 ms, 0-10% better for up to twice the CPU:
 *   MobileNetV2's ~100 small ops leave the second thread mostly waking and waiting. Letting
 *   it spin gets 3.4-4.6 ms but keeps the second core busy between frames. A live frame
 *   comes every 125 ms (8 fps) and is done in ~5 ms either way, so the second core is worth
 *   more to ffmpeg (decoding costs about as much CPU per frame as the CNN) and to other
 *   cameras: live runs use 1 thread.
 * - Batches (labelBatch, clips, training features: the extractor's session): batching 8
 *   frames on 1 thread gains nothing (4.8-5.6 ms/frame); 2 intra-op threads give
 *   2.9-3.5 ms/frame (1.7x), and `labelClip` on a 60 s clip goes from 13-16x to 18-21x real
 *   time. Two single-thread sessions in two worker threads do a little better still
 *   (290-378 against 285-340 frames/s) but need a clip split across workers, which a
 *   recurrent head does not allow. So batches use up to 2 threads (more cores were not
 *   measured); the server's clip jobs run in one inference worker on 1 thread instead
 *   (slower alone, but off the I/O thread: see workers/pool.ts).
 */
export const DEFAULT_THREADS = Object.freeze({ live: 1, batch: Math.min(2, availableParallelism()) });

export interface EngineChoice {
  readonly name: EngineName;
  /** Why this one: forced by env, first choice, or which better one failed and how. */
  readonly reason: string;
  /** For `ort`: onnxruntime-node's version and the threads one run uses, per path. */
  readonly ort?: { readonly version: string; readonly threads: { readonly live: number; readonly batch: number } };
  /**
   * The tfjs backend. It runs the `tfjs` engine, and under `ort` it still loads the tfjs
   * weights that get converted.
   */
  readonly tfjs: BackendChoice;
}

let chosen: Promise<EngineChoice> | undefined;

function ortThreads(env: NodeJS.ProcessEnv): { live: number; batch: number } {
  const v = env.VIGIL_ORT_THREADS;
  if (v === undefined || v === '') return { ...DEFAULT_THREADS };
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw vigilError('VIGIL_ERR_ENGINE', `VIGIL_ORT_THREADS=${v}; use a whole number >= 1`);
  return { live: n, batch: n };
}

/** Loads onnxruntime and runs a one-node graph: proves the native binary works here. */
function probeOrt(): { version: string } {
  const rt = loadOrt();
  const g = createGraphBuilder('probe', 'probe');
  g.input('x', [1, 2]);
  g.node('Softmax', ['x'], ['y'], [attr.int('axis', -1)]);
  g.output('y', [1, 2]);
  const session = createSession(g.encode());
  try {
    const y = session.run({ x: { data: new Float32Array([0, 0]), dims: [1, 2] } }).y;
    if (Math.abs(y[0] - 0.5) > 1e-6) throw vigilError('VIGIL_ERR_ENGINE', `onnxruntime probe gave ${y[0]}, expected 0.5`);
  } finally {
    session.dispose();
  }
  return { version: rt.version };
}

/**
 * The choice {@link selectEngine} makes, from the given environment, without caching it
 * (for tests and diagnostics; the rest of vigil calls selectEngine).
 */
export async function chooseEngine(env: NodeJS.ProcessEnv = process.env): Promise<EngineChoice> {
  const forced = env.VIGIL_ENGINE;
  if (forced !== undefined && forced !== '' && !(ENGINES as readonly string[]).includes(forced)) {
    throw vigilError('VIGIL_ERR_ENGINE', `VIGIL_ENGINE=${forced}; allowed: ${ENGINES.join(', ')}`);
  }
  const tfjs = await selectBackend();
  if (forced === 'tfjs') return { name: 'tfjs', reason: 'forced by VIGIL_ENGINE', tfjs };
  const threads = ortThreads(env);
  try {
    const { version } = probeOrt();
    return { name: 'ort', reason: forced === 'ort' ? 'forced by VIGIL_ENGINE' : 'first choice', ort: { version, threads }, tfjs };
  } catch (e) {
    const why = (e as Error).message;
    if (forced === 'ort') throw vigilError('VIGIL_ERR_ENGINE', `ort (forced by VIGIL_ENGINE): ${why}`, e);
    return { name: 'tfjs', reason: `fallback (ort: ${why})`, tfjs };
  }
}

/**
 * Picks the inference engine once per process: `VIGIL_ENGINE` (ort | tfjs) forces one;
 * otherwise onnxruntime-node if it starts here, else tfjs. `VIGIL_ORT_THREADS` sets the
 * threads per onnxruntime run on every path [default {@link DEFAULT_THREADS}: 1 live, 2 for batches].
 * @throws VIGIL_ERR_ENGINE when a forced engine cannot start or a variable is invalid;
 *   VIGIL_ERR_BACKEND when no tfjs backend starts.
 */
export function selectEngine(): Promise<EngineChoice> {
  chosen ??= chooseEngine().then((c) => {
    log.info(`inference engine: ${describeEngine(c)}`);
    return c;
  });
  return chosen;
}

/**
 * One line for `vigil doctor`, e.g.
 * `ort (onnxruntime-node 1.30.0; threads per run: 1 live, 2 batched): first choice`.
 */
export function describeEngine(c: EngineChoice): string {
  if (c.name === 'ort' && c.ort) {
    return `ort (onnxruntime-node ${c.ort.version}; threads per run: ${c.ort.threads.live} live, ${c.ort.threads.batch} batched): ${c.reason}`;
  }
  const simd = c.tfjs.simd === undefined ? '' : c.tfjs.simd ? ' simd' : ' no simd';
  return `tfjs (${c.tfjs.name}${simd}): ${c.reason}`;
}
