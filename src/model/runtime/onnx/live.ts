import { vigilError } from '../../../errors.js';
import type { ExtractorEntry } from '../../extractors/types.js';
import type { LiveStep } from '../../model.js';
import { cachedModel, contentKey } from './cache.js';
import { loadExtractorLayers, type OrtExtractorOptions, type OrtFeatureExtractor } from './extractor.js';
import { CONVERTER_VERSION } from './convert.js';
import { liveModel, ONNX_IO, type HeadWeights } from './head.js';
import { createOrtRecurrentHead } from './recurrent-head.js';
import { createSession } from './runtime.js';

/**
 * CNN + recurrent step as one onnxruntime graph (see `liveModel`): a live frame costs one
 * native run, and frames of several streams go through one batched run, row i with state i.
 * Cached on disk like the extractor. On a cache miss the extractor's tfjs weights are
 * loaded again to build it, then freed. An extractor without a layers model (MoveNet, whose
 * keypoints become features in JS) cannot fuse: its step is the extractor's run and then
 * the head's step graph, two native calls.
 * @param extractor the ORT extractor already loaded for `entry`: its content key stands
 *   for the CNN in this graph's key, so a cache hit needs no tfjs model at all.
 */
export async function loadOrtLiveStep(
  entry: ExtractorEntry,
  extractor: OrtFeatureExtractor,
  w: HeadWeights,
  options: OrtExtractorOptions = {},
): Promise<LiveStep> {
  if (entry.loadLayers === undefined) return chainedLiveStep(extractor, w, options);
  const key = contentKey([
    `live/${CONVERTER_VERSION}`,
    extractor.onnx.key,
    `${w.featureSize}x${w.hidden}x${w.numClasses}`,
    w.K,
    w.U,
    w.b,
    w.Wy,
    w.by,
  ]);
  const cached = await cachedModel(
    `${extractor.name}-live`,
    key,
    async () => {
      const layers = await loadExtractorLayers(extractor.name, entry);
      try {
        return liveModel(layers.model, w);
      } finally {
        layers.dispose();
      }
    },
    options.cacheDir,
  );
  return createOrtLiveStep(cached.bytes, extractor, w, options);
}

function createOrtLiveStep(bytes: Uint8Array, extractor: OrtFeatureExtractor, w: HeadWeights, options: OrtExtractorOptions): LiveStep {
  const session = createSession(bytes, options);
  const S = extractor.inputSize;
  const frameFloats = S * S * 3;
  return {
    // The run is synchronous; async keeps the contract that a bad argument or an engine error
    // rejects the promise rather than throwing.
    // eslint-disable-next-line @typescript-eslint/require-await -- a synchronous run behind an async contract
    async step(pixels, h, batch = 1) {
      if (pixels.length !== batch * frameFloats || h.length !== batch * w.hidden) {
        throw vigilError(
          'VIGIL_ERR_INVALID_ARGUMENT',
          `live step: ${pixels.length} pixel floats and ${h.length} state floats for a batch of ${batch}`,
        );
      }
      const out = session.run({
        [ONNX_IO.pixels]: { data: pixels, dims: [batch, S, S, 3] },
        [ONNX_IO.h]: { data: h, dims: [batch, w.hidden] },
      });
      return { probs: out[ONNX_IO.probs], h: out[ONNX_IO.hNext], features: out[ONNX_IO.features] };
    },
    dispose: () => session.dispose(),
  };
}

/** The extractor, then the head's one-step graph: for extractors whose features are not a graph output. */
function chainedLiveStep(extractor: OrtFeatureExtractor, w: HeadWeights, options: OrtExtractorOptions): LiveStep {
  const head = createOrtRecurrentHead(w, options);
  const frameFloats = extractor.inputSize * extractor.inputSize * 3;
  return {
    async step(pixels, h, batch = 1) {
      if (pixels.length !== batch * frameFloats || h.length !== batch * w.hidden) {
        throw vigilError(
          'VIGIL_ERR_INVALID_ARGUMENT',
          `live step: ${pixels.length} pixel floats and ${h.length} state floats for a batch of ${batch}`,
        );
      }
      const features = await extractor.extract(pixels, batch);
      const out = head.step(features, h, batch);
      return { probs: out.probs, h: out.h, features };
    },
    dispose: () => head.dispose(),
  };
}
