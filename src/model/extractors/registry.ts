import { vigilError } from '../../errors.js';
import { selectEngine } from '../engine.js';
import { loadOrtExtractor } from '../onnx/extractor.js';
import { loadMobileNetV2, loadMobileNetV2Layers } from './mobilenet-v2.js';
import type { ExtractorEntry, FeatureExtractor } from './types.js';

/** Every feature extractor vigil knows, by the name model manifests use. */
export const EXTRACTORS: Readonly<Record<string, ExtractorEntry>> = Object.freeze({
  mobilenet_v2: {
    description: 'MobileNetV2 1.0 @224, pooled 1280-d features',
    weights: 'npm package nsfwjs (dist/models/mobilenet_v2)',
    inputSize: 224,
    featureSize: 1280,
    pixelScale: 1 / 255,
    pixelOffset: 0,
    load: loadMobileNetV2,
    loadLayers: loadMobileNetV2Layers,
  },
});

export function extractorEntry(name: string): ExtractorEntry {
  const entry = EXTRACTORS[name];
  if (entry === undefined) {
    throw vigilError('VIGIL_ERR_EXTRACTOR_UNKNOWN', `${name}; known: ${Object.keys(EXTRACTORS).join(', ')}`);
  }
  return entry;
}

const loaded = new Map<string, Promise<FeatureExtractor>>();

/**
 * Loads an extractor once per process on the engine {@link selectEngine} picks (under
 * `ort` it is an `OrtFeatureExtractor`); models that share one share its weights.
 */
export function loadExtractor(name: string): Promise<FeatureExtractor> {
  const entry = extractorEntry(name);
  let p = loaded.get(name);
  if (p === undefined) {
    p = selectEngine().then((engine) =>
      engine.name === 'ort' ? loadOrtExtractor(name, entry, { threads: engine.ort?.threads.batch }) : entry.load(),
    );
    loaded.set(name, p);
    p.catch(() => loaded.delete(name));
  }
  return p;
}
