import { loadExtractor } from './extractors/registry.js';
import type { FeatureExtractor } from './extractors/types.js';
import type { ModelManifest } from './manifest.js';
import { readHeadModel, readManifest, resolveModelDir } from './model-folder.js';
import { createRecurrentHead, type RecurrentHead } from './recurrent-head.js';

/** A loaded model: shared by every stream that uses it (state lives in each labeler). */
export interface VigilModel {
  readonly dir: string;
  readonly manifest: ModelManifest;
  readonly extractor: FeatureExtractor;
  readonly head: RecurrentHead;
  /** Frees the head. The extractor is shared process-wide and stays loaded. */
  dispose(): void;
}

/** Loads `models/<name>` (a shipped model) or a model folder path, validating it first. */
export async function loadModel(nameOrPath: string): Promise<VigilModel> {
  const dir = resolveModelDir(nameOrPath);
  const manifest = readManifest(dir);
  const layers = await readHeadModel(dir, manifest);
  const head = createRecurrentHead(layers);
  layers.dispose();
  const extractor = await loadExtractor(manifest.extractor);
  return { dir, manifest, extractor, head, dispose: () => head.dispose() };
}
