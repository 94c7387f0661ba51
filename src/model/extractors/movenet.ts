import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { vigilError } from '../../errors.js';
import { selectBackend } from '../runtime/backend.js';
import { cachedModel, contentKey, type CachedModel } from '../runtime/onnx/cache.js';
import type { OrtExtractorOptions, OrtFeatureExtractor } from '../runtime/onnx/extractor.js';
import { convertGraphModel, graphKeyParts, type TfGraphModelJson } from '../runtime/onnx/graph.js';
import { ONNX_IO } from '../runtime/onnx/head.js';
import { createSession } from '../runtime/onnx/runtime.js';
import { loadGraphModelFromMemory } from '../runtime/tfjs-memory.js';
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

/** MoveNet's `model.json` and its weight files, concatenated, as the package ships them. */
export interface MoveNetFiles {
  readonly json: TfGraphModelJson;
  readonly weights: Uint8Array;
}

/** Reads MoveNet SinglePose Lightning's tfjs graph files from the package (offline). */
export async function readMoveNetFiles(): Promise<MoveNetFiles> {
  let dir = '@vladmandic/human/models';
  try {
    dir = humanModelsDir();
    const json = JSON.parse(await readFile(join(dir, 'movenet-lightning.json'), 'utf8')) as MoveNetFiles['json'];
    const weights = Buffer.concat(await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(dir, p)))));
    return { json, weights: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength) };
  } catch (e) {
    throw vigilError(
      'VIGIL_ERR_INTERNAL',
      `MoveNet weights not readable in ${dir} (is @vladmandic/human installed?): ${(e as Error).message}`,
      e,
    );
  }
}

/** MoveNet SinglePose Lightning as a tfjs graph model, read from the package's files (offline). */
export async function loadMoveNetGraph(): Promise<tf.GraphModel> {
  await selectBackend();
  const { json, weights } = await readMoveNetFiles();
  return loadGraphModelFromMemory(json, weights);
}

/** What a MoveNet extractor makes of the keypoints: all {@link POSE_FEATURES}, or the {@link BODY_FEATURES}. */
export const MOVENET_VARIANTS = Object.freeze({
  movenet_lightning: { names: POSE_FEATURES, write: poseFeatures },
  movenet_body: { names: BODY_FEATURES, write: bodyFeatures },
});

type Variant = keyof typeof MOVENET_VARIANTS;

/** One frame's 51 keypoint floats, from `FRAME` pixel floats. */
type Keypoints = (frame: Float32Array) => Float32Array | Promise<Float32Array>;

/** The extractor around an engine's keypoints: checks the batch, loops its frames, writes the features. */
function moveNetExtractor(variant: Variant, keypoints: Keypoints, dispose: () => void): FeatureExtractor {
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
        const kp = await keypoints(pixels.subarray(b * FRAME, (b + 1) * FRAME));
        if (kp.length !== COCO_KEYPOINTS.length * 3) {
          throw vigilError('VIGIL_ERR_INTERNAL', `MoveNet gave ${kp.length} values, expected ${COCO_KEYPOINTS.length * 3}`);
        }
        write(kp, out, b * featureSize);
      }
      return out;
    },
    dispose,
  };
}

/**
 * MoveNet SinglePose Lightning (192x192, 17 COCO keypoints) on tfjs, as a feature extractor
 * for behaviour: each frame becomes the pose features of the one person MoveNet finds
 * (`movenet_lightning`: posture relative to the hips and torso length, plus where and how
 * large the body is in the frame; `movenet_body`: the latter only). It takes pixel values
 * 0-255 (the registry's scale is 1) and runs one frame at a time (the graph's batch is fixed
 * at 1). Under the `ort` engine the registry uses {@link loadMoveNetOrt} instead.
 * @param [variant='movenet_lightning']
 */
export async function loadMoveNet(variant: Variant = 'movenet_lightning'): Promise<FeatureExtractor> {
  const net = await loadMoveNetGraph();
  const ints = new Int32Array(FRAME);
  return moveNetExtractor(
    variant,
    async (frame) => {
      ints.set(frame); // the graph takes int32 pixels
      const y = tf.tidy(() => net.execute(tf.tensor4d(ints, [1, INPUT, INPUT, 3], 'int32')) as tf.Tensor);
      try {
        return (await y.data()) as Float32Array;
      } finally {
        y.dispose();
      }
    },
    () => net.dispose(),
  );
}

/** Stem of MoveNet's converted graph in the ONNX cache: both variants share it (the keypoint network). */
const ONNX_STEM = 'movenet_lightning';

/**
 * MoveNet's tfjs graph converted to ONNX (see `convertGraphModel`) and cached by content
 * (the model files and the converter versions), as a graph `pixels [1, 192, 192, 3]` (float
 * 0-255) → `keypoints [1, 1, 17, 3]`.
 * @param [dir=onnxCacheDir()]
 */
export async function moveNetOnnx(dir?: string): Promise<CachedModel & { key: string }> {
  const files = await readMoveNetFiles();
  const key = contentKey([ONNX_STEM, ...graphKeyParts(files.json, files.weights)]);
  const cached = await cachedModel(
    ONNX_STEM,
    key,
    () => convertGraphModel(files.json, files.weights, { name: ONNX_STEM, inputNames: [ONNX_IO.pixels], outputNames: [ONNX_IO.keypoints] }),
    dir,
  );
  return { ...cached, key };
}

/**
 * MoveNet on onnxruntime: the same extractor as {@link loadMoveNet} (same features, same
 * pixels 0-255, one frame per run as the graph's batch is 1), 5.8x faster than tfjs-wasm on
 * one thread (`npm run bench:engines`). Keypoints agree with tfjs to ~1e-5
 * (test/model/onnx-movenet.test.ts).
 * @param [variant='movenet_lightning']
 * @param [options.threads=1] per run.
 */
export async function loadMoveNetOrt(
  variant: Variant = 'movenet_lightning',
  options: OrtExtractorOptions = {},
): Promise<OrtFeatureExtractor> {
  const cached = await moveNetOnnx(options.cacheDir);
  const session = createSession(cached.bytes, options);
  const dims = [1, INPUT, INPUT, 3];
  const extractor = moveNetExtractor(
    variant,
    (frame) => session.run({ [ONNX_IO.pixels]: { data: frame, dims } }, [ONNX_IO.keypoints])[ONNX_IO.keypoints],
    () => session.dispose(),
  );
  return { ...extractor, onnx: { key: cached.key, path: cached.path, cacheHit: cached.hit } };
}
