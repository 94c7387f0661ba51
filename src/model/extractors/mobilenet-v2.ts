import * as tf from '@tensorflow/tfjs';
import { countFlops } from '../runtime/flops.js';
import { selectBackend } from '../runtime/backend.js';
import { loadLayersModelFromMemory } from '../runtime/tfjs-memory.js';
import type { FeatureExtractor, LoadedLayers } from './types.js';

const INPUT = 224;
/** Global average pool of the last 7x7x1280 block: the network's penultimate features. */
const FEATURE_LAYER = 'flatten_1';

interface BundledModel {
  modelJson(): Promise<{ default: { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] } }>;
  weightBundles: (() => Promise<{ default: string }>)[];
}

/**
 * The tfjs MobileNetV2 (alpha 1.0, 224x224) as shipped, base64 inside the `nsfwjs` package:
 * an ImageNet MobileNetV2 fine-tuned by nsfwjs on its own images, trained on pixels / 255.
 * The classifier on top is cut off; `model` gives the 1280-d pooled features.
 * `dispose()` frees the whole network (the cut shares the full model's weights).
 */
export async function loadMobileNetV2Layers(): Promise<LoadedLayers> {
  await selectBackend();
  const { MobileNetV2Model } = (await import('nsfwjs/models/mobilenet_v2')) as unknown as {
    MobileNetV2Model: BundledModel;
  };
  const json = (await MobileNetV2Model.modelJson()).default;
  const shards = await Promise.all(MobileNetV2Model.weightBundles.map(async (b) => Buffer.from((await b()).default, 'base64')));
  const weights = Buffer.concat(shards);
  const full = await loadLayersModelFromMemory(json, weights);
  const model = tf.model({ inputs: full.inputs, outputs: full.getLayer(FEATURE_LAYER).output });
  return { model, dispose: () => full.dispose() };
}

/** MobileNetV2 on tfjs (see {@link loadMobileNetV2Layers}). */
export async function loadMobileNetV2(): Promise<FeatureExtractor> {
  const layers = await loadMobileNetV2Layers();
  const net = layers.model;
  const featureSize = 1280;

  return {
    name: 'mobilenet_v2',
    inputSize: INPUT,
    featureSize,
    flopsPerFrame: countFlops(net),
    async extract(pixels, batch) {
      const out = tf.tidy(() => net.predict(tf.tensor4d(pixels, [batch, INPUT, INPUT, 3])) as tf.Tensor);
      try {
        return (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
    },
    dispose: () => layers.dispose(),
  };
}
