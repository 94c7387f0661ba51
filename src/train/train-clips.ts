import { basename } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { InputMode } from '../model/input.js';
import type { ModelManifest } from '../model/manifest.js';
import { createRecurrentHead } from '../model/recurrent-head.js';
import { readClipFolders, type LabelledClip } from './clip-folders.js';
import { createFeatureCache } from './feature-cache.js';
import { fitHead, type FitOptions, type Sequence } from './fit-head.js';
import { readGroupsFile } from './groups.js';
import { classificationReport, meanStd, type ClassificationReport } from './metrics.js';
import { shipModel } from './ship.js';
import { groupedFolds } from './split.js';

/** What every training run takes, whatever the dataset's shape. */
export interface TrainCommonOptions {
  name: string;
  out: string;
  description: string;
  extractor: string;
  input: InputMode;
  fps: number;
  /** [folds=5] grouped cross-validation folds reported in the card; 0 skips CV. */
  folds?: number;
  cacheDir: string;
  fit: Omit<FitOptions, 'numClasses' | 'onEpoch' | 'seed'>;
  seed: number;
  smoothing: { windowMs: number; minHoldMs: number };
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

interface Item extends LabelledClip {
  group: string;
  seq: Sequence;
}

/** Clip-level prediction: the class with the highest mean per-frame probability. */
function predictClips(model: tf.LayersModel, items: Item[], k: number): number[] {
  const head = createRecurrentHead(model);
  try {
    return items.map(({ seq }) => {
      const steps = seq.labels.length;
      const { probs } = head.sequence(seq.features, steps);
      const mean = new Array<number>(k).fill(0);
      for (let t = 0; t < steps; t++) for (let c = 0; c < k; c++) mean[c] += probs[t * k + c];
      return mean.indexOf(Math.max(...mean));
    });
  } finally {
    head.dispose();
  }
}

/** Splits off about a fifth of the groups for early stopping, never the evaluation fold. */
function innerSplit(items: Item[], seed: number): { train: Item[]; val: Item[] } {
  const folds = groupedFolds(items.map((i) => i.group), 5, seed);
  return { train: items.filter((_, i) => folds[i] !== 0), val: items.filter((_, i) => folds[i] === 0) };
}

/**
 * Trains a clip-labelled model end to end: cached CNN features, grouped K-fold CV for honest
 * figures, then a final head on all clips, written as a model folder with its card.
 */
export async function trainClipModel(o: TrainClipsOptions): Promise<ModelManifest> {
  const started = Date.now();
  const { classes, clips } = readClipFolders(o.data);
  const groupOf = o.groups ? readGroupsFile(o.groups) : new Map<string, string>();
  const cache = createFeatureCache(o.cacheDir);
  const spec = { extractor: o.extractor, input: o.input, fps: o.fps };
  const items: Item[] = [];
  let n = 0;
  for (const clip of clips) {
    const f = await cache.get(clip.path, spec);
    const labels = new Int32Array(f.tMs.length).fill(classes.indexOf(clip.label));
    items.push({ ...clip, group: groupOf.get(clip.id) ?? `clip:${clip.id}`, seq: { features: f.features, dim: f.dim, labels } });
    if (++n % 20 === 0 || n === clips.length) o.log(`features ${n}/${clips.length}`);
  }
  const usable = items.filter((i) => i.seq.labels.length >= 2);
  const k = classes.length;
  const fitBase = { ...o.fit, numClasses: k };

  let cv: Record<string, unknown> | undefined;
  if ((o.folds ?? 5) > 0) {
    const K = o.folds ?? 5;
    const folds = groupedFolds(usable.map((i) => i.group), K, o.seed);
    const accuracies: number[] = [];
    const truth: number[] = [];
    const predicted: number[] = [];
    for (let f = 0; f < K; f++) {
      const test = usable.filter((_, i) => folds[i] === f);
      const { train, val } = innerSplit(usable.filter((_, i) => folds[i] !== f), o.seed + f);
      const fit = await fitHead(train.map((i) => i.seq), val.map((i) => i.seq), { ...fitBase, seed: o.seed + f });
      const pred = predictClips(fit.model, test, k);
      fit.model.dispose();
      const t = test.map((i) => classes.indexOf(i.label));
      const acc = classificationReport(classes, t, pred).accuracy;
      accuracies.push(acc);
      truth.push(...t);
      predicted.push(...pred);
      o.log(`fold ${f + 1}/${K}: ${test.length} clips, accuracy ${acc.toFixed(3)} (best epoch ${fit.bestEpoch + 1})`);
    }
    const report: ClassificationReport = classificationReport(classes, truth, predicted);
    const { mean, std } = meanStd(accuracies);
    cv = { folds: K, grouping: o.groups ? basename(o.groups) : 'none', accuracyMean: round(mean), accuracyStd: round(std), foldAccuracies: accuracies.map(round), pooled: roundDeep(report) };
    o.log(`grouped ${K}-fold CV clip accuracy ${mean.toFixed(3)} ± ${std.toFixed(3)}`);
  }

  const { train, val } = innerSplit(usable, o.seed);
  const fit = await fitHead(train.map((i) => i.seq), val.map((i) => i.seq), { ...fitBase, seed: o.seed, onEpoch: (e) => o.log(`final epoch ${e.epoch + 1}: loss ${e.loss.toFixed(4)} val ${e.valLoss?.toFixed(4)} acc ${e.valAccuracy?.toFixed(3)}`) });
  return shipModel(o, classes, fit, { trainClips: train.length, earlyStoppingClips: val.length }, {
    dataset: o.data.split('/').slice(-2).join('/'),
    clips: Object.fromEntries(classes.map((c) => [c, usable.filter((i) => i.label === c).length])),
    groups: new Set(usable.map((i) => i.group)).size,
    crossValidation: cv ?? null,
  }, started);
}


export const round = (x: number) => Math.round(x * 1000) / 1000;
/** Every number in a JSON-able value to 3 decimals, for manifests and reports. */
export function roundDeep<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, (_, x) => (typeof x === 'number' ? round(x) : x)));
}
