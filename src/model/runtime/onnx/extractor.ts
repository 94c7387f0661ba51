import type * as tf from '@tensorflow/tfjs';
import { vigilError } from '../../../errors.js';
import { countFlops } from '../flops.js';
import type { ExtractorEntry, FeatureExtractor, LoadedLayers } from '../../extractors/types.js';
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
    // The run is synchronous; async keeps the contract that a bad batch or an engine error
    // rejects the promise rather than throwing.
    // eslint-disable-next-line @typescript-eslint/require-await -- a synchronous run behind an async contract
    async extract(pixels, batch) {
      if (!(Number.isInteger(batch) && batch >= 1) || pixels.length !== batch * frameFloats) {
        throw vigilError(
          'VIGIL_ERR_INVALID_ARGUMENT',
          `${pixels.length} floats for a batch of ${batch} ${inputSize}x${inputSize}x3 frames`,
        );
      }
      return session.run({ [ONNX_IO.pixels]: { data: pixels, dims: [batch, inputSize, inputSize, 3] } })[ONNX_IO.features];
    },
    dispose: () => session.dispose(),
  };
}

/**
 * A registry extractor on onnxruntime: its own `loadOnnx` where it has one (a graph model
 * such as MoveNet), else its tfjs layers weights loaded, converted (or read from the cache)
 * and freed.
 * @param [options.threads=1] per run; the engine passes its measured default (../engine.ts).
 * @throws VIGIL_ERR_ONNX_UNSUPPORTED for an extractor that runs on tfjs only.
 */
export async function loadOrtExtractor(
  name: string,
  entry: ExtractorEntry,
  options: OrtExtractorOptions = {},
): Promise<OrtFeatureExtractor> {
  if (entry.loadOnnx !== undefined && entry.engines.includes('ort')) return entry.loadOnnx(options);
  const layers = await loadExtractorLayers(name, entry);
  try {
    return await createOrtExtractor(name, layers.model, options);
  } finally {
    layers.dispose();
  }
}

/** Whether {@link loadOrtExtractor} can run the extractor on onnxruntime. */
export function runsOnOrt(entry: ExtractorEntry): boolean {
  return entry.engines.includes('ort') && (entry.loadLayers !== undefined || entry.loadOnnx !== undefined);
}

/**
 * An extractor's tfjs layers model, for conversion.
 * @throws VIGIL_ERR_ONNX_UNSUPPORTED for an extractor that runs on tfjs only (see
 *   `ExtractorEntry.engines`), or one whose network is not a layers model (it has `loadOnnx`).
 */
export function loadExtractorLayers(name: string, entry: ExtractorEntry): Promise<LoadedLayers> {
  if (!entry.engines.includes('ort') || (entry.loadLayers === undefined && entry.loadOnnx === undefined)) {
    throw vigilError(
      'VIGIL_ERR_ONNX_UNSUPPORTED',
      `extractor ${name} runs on ${entry.engines.join(', ')} only (no tfjs layers model to convert)`,
    );
  }
  if (entry.loadLayers === undefined) {
    throw vigilError('VIGIL_ERR_ONNX_UNSUPPORTED', `extractor ${name} has no tfjs layers model (it converts its own network for ort)`);
  }
  return entry.loadLayers();
}
