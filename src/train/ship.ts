import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { selectEngine } from '../model/runtime/engine.js';
import { extractorEngine, extractorEntry, loadExtractor } from '../model/extractors/registry.js';
import { MANIFEST_SCHEMA, type ModelManifest } from '../model/folder/manifest.js';
import type { TrainingRecord } from '../model/folder/training-record.js';
import { headFeatureSize, writeModelFolder } from '../model/folder/model-folder.js';
import { median, round } from '../numbers.js';
import type { FitResult } from './fit-head.js';
import { renderModelCard } from './model-card.js';
import type { TrainCommonOptions } from './train-clips.js';

/**
 * Writes a trained head as a model folder with its card: the manifest fields every training
 * run shares, the dataset-specific `training` record, the final fit and the CNN's cost here.
 * Disposes the fitted model.
 */
export async function shipModel(
  o: TrainCommonOptions,
  classes: string[],
  fit: FitResult,
  split: { trainClips: number; earlyStoppingClips: number },
  training: TrainingRecord,
  startedMs: number,
): Promise<ModelManifest> {
  const entry = extractorEntry(o.extractor);
  const manifest: ModelManifest = {
    schema: MANIFEST_SCHEMA,
    name: o.name,
    version: '1.0.0',
    description: o.description,
    extractor: o.extractor,
    input: o.input,
    ...(o.deltas && o.deltas.length > 0 ? { deltas: [...o.deltas] } : {}),
    inputSize: entry.inputSize,
    fps: o.fps,
    classes,
    head: { type: 'sigmoid_rnn', featureSize: headFeatureSize(entry.featureSize, o), hidden: fit.model.getLayer('rnn').getWeights()[1].shape[0] },
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
  await writeModelFolder(o.out, manifest, fit.model);
  await writeFile(join(o.out, 'README.md'), renderModelCard(manifest));
  fit.model.dispose();
  return manifest;
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
