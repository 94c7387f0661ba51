import { log } from '../log.js';
import { selectEngine, type EngineChoice, type EngineName } from './runtime/engine.js';
import { extractorEngine, extractorEntry, loadExtractor } from './extractors/registry.js';
import type { FeatureExtractor } from './extractors/types.js';
import { deltaLags } from './input/feature-deltas.js';
import type { ModelManifest } from './folder/manifest.js';
import { readHeadModel, readManifest, resolveModelDir } from './folder/model-folder.js';
import { modelFrames, type ModelFrames } from './frames.js';
import type { OrtFeatureExtractor } from './runtime/onnx/extractor.js';
import { headWeights } from './runtime/onnx/head.js';
import { loadOrtLiveStep } from './runtime/onnx/live.js';
import { createOrtRecurrentHead } from './runtime/onnx/recurrent-head.js';
import { createRecurrentHead, type RecurrentHead } from './head/recurrent-head.js';

/**
 * CNN and recurrent step fused: one engine call per frame (the live path), and one call for
 * frames of several streams, row i carrying stream i's state.
 */
export interface LiveStep {
  /**
   * @param pixels `batch` frames, NHWC, scaled as the extractor wants.
   * @param h `batch * hidden` states (zeros for a fresh stream).
   * @param [batch=1]
   * @returns probabilities `batch * numClasses`, next states and the CNN features, row per frame.
   */
  step(pixels: Float32Array, h: Float32Array, batch?: number): Promise<{ probs: Float32Array; h: Float32Array; features: Float32Array }>;
  dispose(): void;
}

/**
 * A loaded model: shared by every stream that uses it (state lives in each labeler). It
 * decodes its own frames (`frameSpec`, `openFrames`; see frames.ts), so callers hand it a source.
 */
export interface VigilModel extends ModelFrames {
  readonly dir: string;
  readonly manifest: ModelManifest;
  /** The engine running it (see engine.ts): the head runs on it. */
  readonly engine: EngineChoice;
  /**
   * Where the extractor runs: the engine, or tfjs for an extractor the engine cannot run
   * (an extractor with neither a layers model nor its own ONNX conversion; see `ExtractorEntry.engines`).
   */
  readonly extractorEngine: EngineName;
  readonly extractor: FeatureExtractor;
  readonly head: RecurrentHead;
  /**
   * The fused CNN + step, where the engine has one (ort, an extractor it runs, no deltas);
   * else use extractor and head.
   */
  readonly live?: LiveStep;
  /** Frees the head (and the fused step). The extractor is shared process-wide and stays loaded. */
  dispose(): void;
}

/**
 * Loads `models/<name>` (a shipped model) or a model folder path, validating it first, on
 * the engine {@link selectEngine} picks. An extractor that engine cannot run runs on tfjs,
 * with the head still on the engine (no fused live step then); the choice is logged (info).
 */
export async function loadModel(nameOrPath: string): Promise<VigilModel> {
  const dir = resolveModelDir(nameOrPath);
  const manifest = readManifest(dir);
  const engine = await selectEngine();
  const onExtractor = extractorEngine(manifest.extractor, engine);
  if (onExtractor !== engine.name) {
    log.info(
      `model ${manifest.name}: extractor ${manifest.extractor} on ${onExtractor} (${engine.name} cannot run it), head on ${engine.name}`,
    );
  }
  const layers = await readHeadModel(dir, manifest);
  const frames = modelFrames(manifest);
  if (engine.name === 'tfjs') {
    const head = createRecurrentHead(layers);
    layers.dispose();
    const extractor = await loadExtractor(manifest.extractor);
    return { dir, manifest, ...frames, engine, extractorEngine: onExtractor, extractor, head, dispose: () => head.dispose() };
  }
  let w;
  try {
    w = headWeights(layers);
  } finally {
    layers.dispose();
  }
  const head = createOrtRecurrentHead(w);
  if (onExtractor !== 'ort' || deltaLags(manifest.deltas).length > 0) {
    const extractor = await loadExtractor(manifest.extractor);
    return { dir, manifest, ...frames, engine, extractorEngine: onExtractor, extractor, head, dispose: () => head.dispose() };
  }
  const extractor = (await loadExtractor(manifest.extractor)) as OrtFeatureExtractor;
  const live = await loadOrtLiveStep(extractorEntry(manifest.extractor), extractor, w, { threads: engine.ort?.threads.live });
  return {
    dir,
    manifest,
    ...frames,
    engine,
    extractorEngine: onExtractor,
    extractor,
    head,
    live,
    dispose() {
      head.dispose();
      live.dispose();
    },
  };
}
