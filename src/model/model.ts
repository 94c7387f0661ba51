import { selectEngine, type EngineChoice } from './engine.js';
import { extractorEntry, loadExtractor } from './extractors/registry.js';
import type { FeatureExtractor } from './extractors/types.js';
import type { ModelManifest } from './manifest.js';
import { readHeadModel, readManifest, resolveModelDir } from './model-folder.js';
import type { OrtFeatureExtractor } from './onnx/extractor.js';
import { headWeights } from './onnx/head.js';
import { loadOrtLiveStep } from './onnx/live.js';
import { createOrtRecurrentHead } from './onnx/recurrent-head.js';
import { createRecurrentHead, type RecurrentHead } from './recurrent-head.js';

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

/** A loaded model: shared by every stream that uses it (state lives in each labeler). */
export interface VigilModel {
  readonly dir: string;
  readonly manifest: ModelManifest;
  /** The engine running it (see engine.ts). */
  readonly engine: EngineChoice;
  readonly extractor: FeatureExtractor;
  readonly head: RecurrentHead;
  /** The fused CNN + step, where the engine has one (ort); else use extractor and head. */
  readonly live?: LiveStep;
  /** Frees the head (and the fused step). The extractor is shared process-wide and stays loaded. */
  dispose(): void;
}

/**
 * Loads `models/<name>` (a shipped model) or a model folder path, validating it first, on
 * the engine {@link selectEngine} picks.
 */
export async function loadModel(nameOrPath: string): Promise<VigilModel> {
  const dir = resolveModelDir(nameOrPath);
  const manifest = readManifest(dir);
  const engine = await selectEngine();
  const layers = await readHeadModel(dir, manifest);
  if (engine.name === 'tfjs') {
    const head = createRecurrentHead(layers);
    layers.dispose();
    const extractor = await loadExtractor(manifest.extractor);
    return { dir, manifest, engine, extractor, head, dispose: () => head.dispose() };
  }
  let w;
  try {
    w = headWeights(layers);
  } finally {
    layers.dispose();
  }
  const extractor = (await loadExtractor(manifest.extractor)) as OrtFeatureExtractor;
  const head = createOrtRecurrentHead(w);
  const live = await loadOrtLiveStep(extractorEntry(manifest.extractor), extractor, w, { threads: engine.ort?.threads.live });
  return {
    dir,
    manifest,
    engine,
    extractor,
    head,
    live,
    dispose() {
      head.dispose();
      live.dispose();
    },
  };
}
