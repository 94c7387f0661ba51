import { vigilError } from '../../errors.js';
import { selectEngine, type EngineChoice, type EngineName } from '../runtime/engine.js';
import { loadOrtExtractor, runsOnOrt } from '../runtime/onnx/extractor.js';
import { loadMobileNetV2, loadMobileNetV2Layers } from './mobilenet-v2.js';
import { loadMoveNet, loadMoveNetOrt } from './movenet.js';
import { BODY_FEATURES, POSE_FEATURES } from './pose-features.js';
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
    engines: ['ort', 'tfjs'],
    load: loadMobileNetV2,
    loadLayers: loadMobileNetV2Layers,
  },
  movenet_lightning: {
    description: `MoveNet SinglePose Lightning @192, 17 keypoints as ${POSE_FEATURES.length}-d posture features`,
    weights: 'npm package @vladmandic/human (models/movenet-lightning.*; Google MoveNet, Apache-2.0)',
    inputSize: 192,
    featureSize: POSE_FEATURES.length,
    pixelScale: 1,
    pixelOffset: 0,
    // A tfjs graph model: on ort through the graph converter (onnx/graph.ts), keypoints to
    // features in JS as on tfjs.
    engines: ['ort', 'tfjs'],
    load: () => loadMoveNet('movenet_lightning'),
    loadOnnx: (options) => loadMoveNetOrt('movenet_lightning', options),
  },
  movenet_body: {
    description: `MoveNet SinglePose Lightning @192, ${BODY_FEATURES.length}-d whole-body figures (box, hip height, torso length and lean, mean score)`,
    weights: 'npm package @vladmandic/human (models/movenet-lightning.*; Google MoveNet, Apache-2.0)',
    inputSize: 192,
    featureSize: BODY_FEATURES.length,
    pixelScale: 1,
    pixelOffset: 0,
    engines: ['ort', 'tfjs'],
    load: () => loadMoveNet('movenet_body'),
    loadOnnx: (options) => loadMoveNetOrt('movenet_body', options),
  },
});

export function extractorEntry(name: string): ExtractorEntry {
  const entry = EXTRACTORS[name];
  if (entry === undefined) {
    throw vigilError('VIGIL_ERR_EXTRACTOR_UNKNOWN', `${name}; known: ${Object.keys(EXTRACTORS).join(', ')}`);
  }
  return entry;
}

/** The engine an extractor runs on under `engine`: the engine itself if the extractor supports it, else tfjs. */
export function extractorEngine(name: string, engine: EngineChoice): EngineName {
  const entry = extractorEntry(name);
  return engine.name === 'ort' && runsOnOrt(entry) ? 'ort' : 'tfjs';
}

const loaded = new Map<string, Promise<FeatureExtractor>>();

/**
 * Loads an extractor once per process on the engine {@link selectEngine} picks if it can run
 * there (under `ort` it is an `OrtFeatureExtractor`), else on tfjs (see
 * {@link extractorEngine}); models that share one share its weights.
 */
export function loadExtractor(name: string): Promise<FeatureExtractor> {
  const entry = extractorEntry(name);
  let p = loaded.get(name);
  if (p === undefined) {
    p = selectEngine().then((engine) =>
      extractorEngine(name, engine) === 'ort' ? loadOrtExtractor(name, entry, { threads: engine.ort?.threads.batch }) : entry.load(),
    );
    loaded.set(name, p);
    p.catch(() => loaded.delete(name));
  }
  return p;
}
