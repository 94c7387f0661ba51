import type * as tf from '@tensorflow/tfjs';
import { vigilError } from '../../errors.js';
import { countFlops } from '../flops.js';
import type { ExtractorEntry, FeatureExtractor, LoadedLayers } from '../extractors/types.js';
import { cachedModel, contentKey } from './cache.js';
import { convertLayersModel, modelKeyParts } from './convert.js';
import { ONNX_IO } from './head.js';
import { createSession, type SessionOptions } from './runtime.js';

/** Where an ORT model came from: its cache file, and whether that was already there. */
export interface OnnxSource {
  /** Content key of the conversion (see cache.ts); graphs built on top of it extend it. */
  readonly key: string;
  readonly path: string;
  readonly cacheHit: boolean;
}

export interface OrtFeatureExtractor extends FeatureExtractor {
  readonly onnx: OnnxSource;
}

export interface OrtExtractorOptions extends SessionOptions {
  /** [default: onnxCacheDir()] */
  cacheDir?: string;
}

/**
 * A FeatureExtractor on onnxruntime: converts the tfjs model (or reads the conversion from
 * the cache) and opens a session. The tfjs model is only read; the caller may free it as
 * soon as this returns.
 * @param name the extractor's registry name, also the cache file's stem.
 */
export async function createOrtExtractor(
  name: string,
  model: tf.LayersModel,
  options: OrtExtractorOptions = {},
): Promise<OrtFeatureExtractor> {
  const [, inputSize, width, channels] = model.inputs[0].shape;
  const featureSize = model.outputs[0].shape[1];
  if (inputSize === null || width !== inputSize || channels !== 3 || featureSize === null || model.outputs[0].shape.length !== 2) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${name}: an extractor takes [batch, S, S, 3] and gives [batch, D]`);
  }
  const key = contentKey([name, ...modelKeyParts(model)]);
  const cached = await cachedModel(
    name,
    key,
    () => convertLayersModel(model, { inputNames: [ONNX_IO.pixels], outputNames: [ONNX_IO.features] }),
    options.cacheDir,
  );
  const session = createSession(cached.bytes, options);
  const frameFloats = inputSize * inputSize * 3;
  return {
    name,
    inputSize,
    featureSize,
    flopsPerFrame: countFlops(model),
    onnx: { key, path: cached.path, cacheHit: cached.hit },
    async extract(pixels, batch) {
      if (!(Number.isInteger(batch) && batch >= 1) || pixels.length !== batch * frameFloats) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${pixels.length} floats for a batch of ${batch} ${inputSize}x${inputSize}x3 frames`);
      }
      return session.run({ [ONNX_IO.pixels]: { data: pixels, dims: [batch, inputSize, inputSize, 3] } })[ONNX_IO.features];
    },
    dispose: () => session.dispose(),
  };
}

/**
 * Loads a registry extractor's tfjs weights, converts them (or reads the cache), and frees
 * the tfjs copy.
 * @param [options.threads=1] per run; the engine passes its measured default (../engine.ts).
 */
export async function loadOrtExtractor(name: string, entry: ExtractorEntry, options: OrtExtractorOptions = {}): Promise<OrtFeatureExtractor> {
  const layers = await loadExtractorLayers(name, entry);
  try {
    return await createOrtExtractor(name, layers.model, options);
  } finally {
    layers.dispose();
  }
}

/**
 * An extractor's tfjs layers model, for conversion.
 * @throws VIGIL_ERR_ONNX_UNSUPPORTED for an extractor that runs on tfjs only (see `ExtractorEntry.engines`)
 */
export function loadExtractorLayers(name: string, entry: ExtractorEntry): Promise<LoadedLayers> {
  if (entry.loadLayers === undefined || !entry.engines.includes('ort')) {
    throw vigilError('VIGIL_ERR_ONNX_UNSUPPORTED', `extractor ${name} runs on ${entry.engines.join(', ')} only (no tfjs layers model to convert)`);
  }
  return entry.loadLayers();
}
