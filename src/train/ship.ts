import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectEngine } from '../model/runtime/engine.js';
import { extractorEngine, extractorEntry, loadExtractor } from '../model/extractors/registry.js';
import { MANIFEST_SCHEMA, type ModelManifest } from '../model/folder/manifest.js';
import type { TrainingRecord } from '../model/folder/training-record.js';
import { headFeatureSize, writeModelFolder } from '../model/folder/model-folder.js';
import { MANIFEST_FILE } from '../model/folder/paths.js';
import { median, round } from '../numbers.js';
import { writeReplay } from '../model/folder/replay.js';
import type { FitResult, Sequence } from './fit-head.js';
import { createRandom } from './random.js';
import { renderModelCard } from './model-card.js';
import type { TrainCommonOptions } from './train-clips.js';

/**
 * Writes a trained head as a model folder with its card: the manifest fields every training
 * run shares, the dataset-specific `training` record, the final fit and the CNN's cost here,
 * at the version {@link shipVersion} gives. Disposes the fitted model.
 */
export async function shipModel(
  o: TrainCommonOptions,
  classes: string[],
  fit: FitResult,
  split: { trainClips: number; earlyStoppingClips: number },
  training: TrainingRecord,
  startedMs: number,
  replay?: readonly Sequence[],
): Promise<ModelManifest> {
  const entry = extractorEntry(o.extractor);
  const manifest: ModelManifest = {
    schema: MANIFEST_SCHEMA,
    name: o.name,
    version: FIRST_VERSION,
    description: o.description,
    extractor: o.extractor,
    input: o.input,
    ...(o.deltas && o.deltas.length > 0 ? { deltas: [...o.deltas] } : {}),
    inputSize: entry.inputSize,
    fps: o.fps,
    classes,
    head: {
      type: 'sigmoid_rnn',
      featureSize: headFeatureSize(entry.featureSize, o),
      hidden: fit.model.getLayer('rnn').getWeights()[1].shape[0],
    },
    smoothing: o.smoothing,
    training: {
      ...training,
      final: { ...split, epochs: fit.epochs, bestEpoch: fit.bestEpoch + 1 },
      hyperparameters: { ...o.fit, seed: o.seed, ...(o.augment?.length ? { augment: o.augment } : {}) },
      trainingSeconds: Math.round((Date.now() - startedMs) / 1000),
      trainedAt: new Date().toISOString(),
      command: o.command,
      perFrameCost: await measureCnnCost(o.extractor),
    },
  };
  manifest.version = shipVersion(o.out, manifest, await headWeightBytes(fit.model));
  await writeModelFolder(o.out, manifest, fit.model);
  await writeFile(join(o.out, 'README.md'), renderModelCard(manifest));
  if (replay && replay.length > 0) await writeShippedReplay(o.out, replay, classes.length, o.fit.window ?? 12, o.seed);
  fit.model.dispose();
  return manifest;
}

/** About this many bytes of replay sample a model folder carries (a byte a feature value). */
const REPLAY_BYTES = 1_000_000;

/**
 * The replay sample camera adaptation rehearses (see model/folder/replay.ts): windows of the
 * training side's sequences, as many per class as fit in about {@link REPLAY_BYTES}
 * (32 for `fight`'s 1280 features, capped at 256 for small pose features).
 */
export function writeShippedReplay(
  dir: string,
  sequences: readonly Sequence[],
  classes: number,
  window: number,
  seed: number,
): Promise<number> {
  const perClass = Math.max(16, Math.min(256, Math.floor(REPLAY_BYTES / (classes * window * sequences[0].dim))));
  return writeReplay(dir, sequences, { classes, perClass, window, random: createRandom(seed) });
}

const FIRST_VERSION = '1.0.0';
/** The head's weights file in a model folder, as writeModelFolder names it. */
const WEIGHTS_FILE = 'weights.bin';

/** The bytes writeModelFolder writes as the head's weights. */
export async function headWeightBytes(head: tf.LayersModel): Promise<Uint8Array> {
  let bytes = new Uint8Array(0);
  await head.save(
    tf.io.withSaveHandler((artifacts) => {
      bytes = new Uint8Array((artifacts.weightData as ArrayBuffer).slice(0));
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
    }),
  );
  return bytes;
}

/** Keys sorted at every level: a hand-edited manifest in another order says the same. */
const canonical = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(canonical)
    : v !== null && typeof v === 'object'
      ? Object.fromEntries(
          Object.entries(v)
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([k, x]) => [k, canonical(x)]),
        )
      : v;

/** What decides a model's labels besides its weights: the manifest without its version, description and training record. */
function behaviour(m: Record<string, unknown>): string {
  const { version: _v, description: _d, training: _t, ...rest } = m;
  return JSON.stringify(canonical(rest));
}

/**
 * The version a model shipped into `dir` gets, so that a folder's version changes whenever
 * its model does: 1.0.0 in a new folder (or over another model, or a manifest that does not
 * parse); over the same model (same name), its version when the weights and the manifest's
 * settings are identical (a rerun that trained to the same bytes), else the next minor one
 * (1.0.0 → 1.1.0).
 * @param weights the new head's, as {@link headWeightBytes} gives them.
 */
export function shipVersion(dir: string, next: ModelManifest, weights: Uint8Array): string {
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) return FIRST_VERSION;
  let old: Record<string, unknown>;
  try {
    old = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  } catch {
    return FIRST_VERSION;
  }
  if (typeof old !== 'object' || old === null) return FIRST_VERSION;
  const semver = typeof old.version === 'string' ? /^(\d+)\.(\d+)\.\d+$/.exec(old.version) : null;
  if (old.name !== next.name || semver === null) return FIRST_VERSION;
  const weightsPath = join(dir, WEIGHTS_FILE);
  const same =
    existsSync(weightsPath) && Buffer.from(weights).equals(readFileSync(weightsPath)) && behaviour(old) === behaviour({ ...next });
  return same ? (old.version as string) : `${semver[1]}.${Number(semver[2]) + 1}.0`;
}

/** The per-frame CNN cost on this machine and engine, for the card: median of 5 batches of 8. */
export async function measureCnnCost(name: string): Promise<{ backend: string; cnnMsPerFrame: number; batch: number }> {
  const extractor = await loadExtractor(name);
  const batch = 8;
  const pixels = new Float32Array(batch * extractor.inputSize * extractor.inputSize * 3).fill(0.5);
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await extractor.extract(pixels, batch);
    runs.push((performance.now() - t) / batch);
  }
  const engine = await selectEngine();
  const backend = extractorEngine(name, engine) === 'ort' ? `onnxruntime-node ${engine.ort?.version}` : `tfjs ${engine.tfjs.name}`;
  return { backend, cnnMsPerFrame: round(median(runs), 3), batch };
}
