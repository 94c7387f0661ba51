import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { vigilError } from '../../errors.js';
import { parseWith } from '../../validation.js';
import { extractorEntry } from '../extractors/registry.js';
import { deltaLags } from '../input/feature-deltas.js';
import { loadLayersModelFromMemory } from '../runtime/tfjs-memory.js';
import { manifestSchema, type ModelManifest } from './manifest.js';
import { listModelNames, MANIFEST_FILE, SHIPPED_MODELS_DIR } from './paths.js';

const MANIFEST = MANIFEST_FILE;
const TOPOLOGY = 'model.json';
const WEIGHTS = 'weights.bin';

export { DEFAULT_MODEL, listModelNames, SHIPPED_MODELS_DIR } from './paths.js';

/** A bare name (`fight`) means a shipped model; anything with a slash or a dot is a path. */
export function resolveModelDir(nameOrPath: string): string {
  const isPath = nameOrPath.includes('/') || nameOrPath.includes(sep) || nameOrPath.startsWith('.');
  const dir = isPath ? resolve(nameOrPath) : join(SHIPPED_MODELS_DIR, nameOrPath);
  if (!existsSync(dir)) {
    const known = isPath ? '' : `; shipped: ${listModelNames().join(', ')}`;
    throw vigilError('VIGIL_ERR_MODEL_NOT_FOUND', `${nameOrPath}${known}`);
  }
  if (!statSync(dir).isDirectory()) throw vigilError('VIGIL_ERR_MODEL_INVALID', `${dir} is not a folder`);
  return dir;
}

/**
 * Whether a name or path means a folder of vigil's shipped models (a bare name, or a path into
 * `models/`), as opposed to a camera's adapted version or an operator's folder. Reads no disk:
 * a deleted folder is still answered.
 */
export function isShippedModel(nameOrPath: string): boolean {
  const isPath = nameOrPath.includes('/') || nameOrPath.includes(sep) || nameOrPath.startsWith('.');
  return !isPath || dirname(resolve(nameOrPath)) === SHIPPED_MODELS_DIR;
}

function readJson(dir: string, file: string): unknown {
  const path = join(dir, file);
  if (!existsSync(path)) throw vigilError('VIGIL_ERR_MODEL_INVALID', `${dir}: ${file} is missing`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw vigilError('VIGIL_ERR_MODEL_INVALID', `${path}: ${(e as Error).message}`);
  }
}

/** What the head takes: the extractor's features, and as many again per delta lag. */
export function headFeatureSize(extractorFeatures: number, m: { deltas?: boolean | readonly number[] }): number {
  return (1 + deltaLags(m.deltas).length) * extractorFeatures;
}

/** Reads and validates a model folder's manifest, including its fit with the extractor. */
export function readManifest(dir: string): ModelManifest {
  const m = parseWith(manifestSchema, readJson(dir, MANIFEST), join(dir, MANIFEST), 'VIGIL_ERR_MODEL_INVALID');
  const ex = (() => {
    try {
      return extractorEntry(m.extractor);
    } catch (e) {
      throw vigilError('VIGIL_ERR_MODEL_INVALID', `${join(dir, MANIFEST)}: extractor: ${(e as Error).message}`);
    }
  })();
  const headInput = headFeatureSize(ex.featureSize, m);
  if (ex.inputSize !== m.inputSize || headInput !== m.head.featureSize) {
    throw vigilError(
      'VIGIL_ERR_MODEL_INVALID',
      `${join(dir, MANIFEST)}: extractor ${m.extractor} takes ${ex.inputSize}px and gives ${ex.featureSize} features` +
        `${deltaLags(m.deltas).length > 0 ? ` (${headInput} with deltas)` : ''}, manifest says ${m.inputSize}px and ${m.head.featureSize}`,
    );
  }
  return m;
}

/** Loads the head's tfjs layers model from a folder and checks it against the manifest. */
export async function readHeadModel(dir: string, manifest: ModelManifest): Promise<tf.LayersModel> {
  const topology = readJson(dir, TOPOLOGY) as { modelTopology?: object; weightsManifest?: { weights: tf.io.WeightsManifestEntry[] }[] };
  const weightsPath = join(dir, WEIGHTS);
  if (!existsSync(weightsPath)) throw vigilError('VIGIL_ERR_MODEL_INVALID', `${dir}: ${WEIGHTS} is missing`);
  const bytes = readFileSync(weightsPath);
  let model: tf.LayersModel;
  try {
    model = await loadLayersModelFromMemory(topology, bytes);
  } catch (e) {
    throw vigilError('VIGIL_ERR_MODEL_INVALID', `${join(dir, TOPOLOGY)}: ${(e as Error).message.split('\n')[0]}`);
  }
  const input = model.inputs[0].shape;
  const output = model.outputs[0].shape;
  if (input.at(-1) !== manifest.head.featureSize || output.at(-1) !== manifest.classes.length) {
    model.dispose();
    throw vigilError(
      'VIGIL_ERR_MODEL_INVALID',
      `${dir}: head maps ${input.at(-1)} features to ${output.at(-1)} classes, manifest says ` +
        `${manifest.head.featureSize} to ${manifest.classes.length}`,
    );
  }
  return model;
}

/** Writes a model folder: manifest.json, model.json (topology) and weights.bin. */
export async function writeModelFolder(dir: string, manifest: ModelManifest, head: tf.LayersModel): Promise<void> {
  await mkdir(dir, { recursive: true });
  await head.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData as ArrayBuffer;
      await writeFile(join(dir, WEIGHTS), Buffer.from(weightData));
      const topology = {
        format: 'layers-model',
        generatedBy: `vigil ${manifest.name}@${manifest.version}`,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS], weights: artifacts.weightSpecs }],
      };
      await writeFile(join(dir, TOPOLOGY), JSON.stringify(topology));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  await writeFile(join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
}
