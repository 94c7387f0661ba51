import { basename } from 'node:path';
import type { InputMode } from '../model/input/frame-encoder.js';
import type { ModelManifest } from '../model/folder/manifest.js';
import type { ClipTrainingRecord } from '../model/folder/training-record.js';
import { round, roundDeep } from '../numbers.js';
import type { Augmentation } from './augment.js';
import { loadDataset, trainingSequences } from './dataset.js';
import { crossValidate, scoreClips, type ClipScores } from './evaluate.js';
import { fitHead, type FitOptions } from './fit-head.js';
import { shipModel } from './ship.js';
import { earlyStoppingSplit } from './split.js';

/** What every training run takes, whatever the dataset's shape. */
export interface TrainCommonOptions {
  name: string;
  out: string;
  description: string;
  extractor: string;
  input: InputMode;
  /** [deltas=none] lags k: the head also sees each frame's feature change f_t − f_{t−k} (see feature-deltas.ts). */
  deltas?: readonly number[];
  /** [augment=none] training clips also teach from these augmented decodes (see augment.ts); recorded in the card's hyperparameters. */
  augment?: Augmentation[];
  fps: number;
  /** [folds=5] grouped cross-validation folds reported in the card; 0 skips CV. */
  folds?: number;
  cacheDir: string;
  fit: Omit<FitOptions, 'numClasses' | 'onEpoch' | 'seed'>;
  seed: number;
  smoothing: { windowMs: number; minHoldMs: number; backdate?: boolean };
  /** The command line that reproduces this run, recorded in the card. */
  command: string;
  log: (line: string) => void;
}

export interface TrainClipsOptions extends TrainCommonOptions {
  /** Dataset folder: `<data>/<label>/*.mp4`. */
  data: string;
  /** Source groups (the fight dataset's `videos.txt` format); clips not in it are their own group. */
  groups?: string;
}

/**
 * Trains a clip-labelled model end to end: cached CNN features, grouped K-fold CV for honest
 * figures (the same code as `vigil eval --cv`), then a final head on all clips, written as a
 * model folder with its card.
 */
export async function trainClipModel(o: TrainClipsOptions): Promise<ModelManifest> {
  const started = Date.now();
  const data = await loadDataset(
    { kind: 'clips', dir: o.data, groups: o.groups },
    {
      spec: { extractor: o.extractor, input: o.input, fps: o.fps },
      deltas: o.deltas,
      augment: o.augment,
      cacheDir: o.cacheDir,
      log: o.log,
    },
  );
  const { classes } = data;
  const usable = data.items.filter((i) => i.seq.labels.length >= 2);

  let cv: ClipTrainingRecord['crossValidation'] = null;
  const K = o.folds ?? 5;
  if (K > 0) {
    const result = await crossValidate(usable, {
      classes,
      folds: K,
      seed: o.seed,
      fit: o.fit,
      score: (items, probs) => scoreClips(classes, items, probs, o.smoothing),
      log: o.log,
    });
    const acc = result.summary[0];
    cv = {
      folds: K,
      grouping: o.groups ? basename(o.groups) : 'none',
      accuracyMean: round(acc.mean!, 3),
      accuracyStd: round(acc.std!, 3),
      foldAccuracies: acc.values.map((v) => round(v!, 3)),
      pooled: roundDeep((result.pooled as ClipScores).report),
      timeline: roundDeep((result.pooled as ClipScores).timeline),
    };
    o.log(`grouped ${K}-fold CV clip accuracy ${acc.mean!.toFixed(3)} ± ${acc.std!.toFixed(3)}`);
  }

  const { train, val } = earlyStoppingSplit(usable, o.seed);
  const fit = await fitHead(
    trainingSequences(train),
    val.map((i) => i.seq),
    {
      ...o.fit,
      numClasses: classes.length,
      seed: o.seed,
      onEpoch: (e) =>
        o.log(`final epoch ${e.epoch + 1}: loss ${e.loss.toFixed(4)} val ${e.valLoss?.toFixed(4)} acc ${e.valAccuracy?.toFixed(3)}`),
    },
  );
  return shipModel(
    o,
    classes,
    fit,
    { trainClips: train.length, earlyStoppingClips: val.length },
    {
      dataset: o.data.split('/').slice(-2).join('/'),
      clips: Object.fromEntries(classes.map((c) => [c, usable.filter((i) => i.label === c).length])),
      groups: new Set(usable.map((i) => i.group)).size,
      crossValidation: cv ?? null,
    },
    started,
    trainingSequences(train),
  );
}
