import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { vigilError } from '../../errors.js';
import { selectBackend } from '../backend.js';
import { BODY_FEATURES, bodyFeatures, COCO_KEYPOINTS, poseFeatures, POSE_FEATURES } from './pose-features.js';
import type { FeatureExtractor } from './types.js';

const INPUT = 192;
const FRAME = INPUT * INPUT * 3;
const require = createRequire(import.meta.url);

/** `models/` of the `@vladmandic/human` package, which ships MoveNet's tfjs graph. */
function humanModelsDir(): string {
  // The package exports no package.json; its main file sits in dist/.
  return join(dirname(require.resolve('@vladmandic/human')), '..', 'models');
}

interface GraphJson {
  modelTopology: object;
  signature?: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** MoveNet SinglePose Lightning as a tfjs graph model, read from the package's files (offline). */
export async function loadMoveNetGraph(): Promise<tf.GraphModel> {
  await selectBackend();
  let dir = '@vladmandic/human/models';
  let json: GraphJson;
  let weights: Buffer;
  try {
    dir = humanModelsDir();
    json = JSON.parse(await readFile(join(dir, 'movenet-lightning.json'), 'utf8')) as GraphJson;
    weights = Buffer.concat(await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(dir, p)))));
  } catch (e) {
    throw vigilError('VIGIL_ERR_INTERNAL', `MoveNet weights not readable in ${dir} (is @vladmandic/human installed?): ${(e as Error).message}`, e);
  }
  return tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      signature: json.signature,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }),
  );
}

/** What a MoveNet extractor makes of the keypoints: all {@link POSE_FEATURES}, or the {@link BODY_FEATURES}. */
export const MOVENET_VARIANTS = Object.freeze({
  movenet_lightning: { names: POSE_FEATURES, write: poseFeatures },
  movenet_body: { names: BODY_FEATURES, write: bodyFeatures },
});

/**
 * MoveNet SinglePose Lightning (192x192, 17 COCO keypoints) on tfjs, as a feature extractor
 * for behaviour: each frame becomes the pose features of the one person MoveNet finds
 * (`movenet_lightning`: posture relative to the hips and torso length, plus where and how
 * large the body is in the frame; `movenet_body`: the latter only). It takes pixel values
 * 0-255 (the registry's scale is 1) and runs one frame at a time (the graph's batch is fixed
 * at 1). There is no ONNX conversion of graph models, so it runs on tfjs under either engine.
 * @param [variant='movenet_lightning']
 */
export async function loadMoveNet(variant: keyof typeof MOVENET_VARIANTS = 'movenet_lightning'): Promise<FeatureExtractor> {
  const net = await loadMoveNetGraph();
  const ints = new Int32Array(FRAME);
  const { names, write } = MOVENET_VARIANTS[variant];
  const featureSize = names.length;
  return {
    name: variant,
    inputSize: INPUT,
    featureSize,
    flopsPerFrame: NaN,
    async extract(pixels, batch) {
      if (!(Number.isInteger(batch) && batch >= 1) || pixels.length !== batch * FRAME) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${pixels.length} floats for a batch of ${batch} ${INPUT}x${INPUT}x3 frames`);
      }
      const out = new Float32Array(batch * featureSize);
      for (let b = 0; b < batch; b++) {
        for (let i = 0; i < FRAME; i++) ints[i] = pixels[b * FRAME + i];
        const y = tf.tidy(() => net.execute(tf.tensor4d(ints, [1, INPUT, INPUT, 3], 'int32')) as tf.Tensor);
        let kp: Float32Array;
        try {
          kp = (await y.data()) as Float32Array;
        } finally {
          y.dispose();
        }
        if (kp.length !== COCO_KEYPOINTS.length * 3) {
          throw vigilError('VIGIL_ERR_INTERNAL', `MoveNet gave ${kp.length} values, expected ${COCO_KEYPOINTS.length * 3}`);
        }
        write(kp, out, b * featureSize);
      }
      return out;
    },
    dispose: () => net.dispose(),
  };
}
