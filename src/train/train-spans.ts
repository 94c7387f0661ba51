import { basename } from 'node:path';
import { vigilError } from '../errors.js';
import type { ModelManifest } from '../model/folder/manifest.js';
import type { SpanTrainingRecord } from '../model/folder/training-record.js';
import { roundDeep } from '../numbers.js';
import { loadDataset, labelledFrames, trainingSequences } from './dataset.js';
import { crossValidate, scoreSpans, type SpanScores } from './evaluate.js';
import { fitHead } from './fit-head.js';
import { shipModel } from './ship.js';
import type { SpanDataset } from './span-manifest.js';
import { earlyStoppingSplit } from './split.js';
import type { TrainCommonOptions } from './train-clips.js';

export interface TrainSpansOptions extends TrainCommonOptions {
  /** A span manifest path, or a dataset already in memory (e.g. from the GMDCSA24 importer). */
  manifest: string | SpanDataset;
  /** Source groups (videos.txt format); else the manifest's group column; else one group per clip. */
  groups?: string;
  /** The model's classes in priority order (see `spanFrameLabels`); spans of other labels are ignored. */
  classes: string[];
  /** [toleranceS=1] onset tolerance of the CV event metrics, seconds. */
  toleranceS?: number;
}

/**
 * Trains a model on a time-span dataset: per-frame labels from the spans (frames in no span
 * sit out the loss), grouped K-fold CV scored as `vigil eval --cv` scores it (frame accuracy
 * of the smoothed timeline, event metrics per class), then a final head on every clip with a
 * labelled frame, written as a model folder with its card. Progress, per epoch, goes to `log`.
 * @throws VIGIL_ERR_INVALID_ARGUMENT for fewer than two classes; VIGIL_ERR_DATASET
 */
export async function trainSpanModel(o: TrainSpansOptions): Promise<ModelManifest> {
  const started = Date.now();
  if (o.classes.length < 2 || new Set(o.classes).size !== o.classes.length) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `--classes needs at least two distinct classes, got ${o.classes.join(',') || '(none)'}`);
  }
  const data = await loadDataset(
    { kind: 'spans', manifest: o.manifest, groups: o.groups },
    {
      spec: { extractor: o.extractor, input: o.input, fps: o.fps },
      deltas: o.deltas,
      augment: o.augment,
      cacheDir: o.cacheDir,
      classes: o.classes,
      log: o.log,
    },
  );
  const { classes } = data;
  const k = classes.length;
  const usable = data.items.filter((i) => i.seq.labels.length >= 2 && labelledFrames(i) > 0);
  const unused = data.items.length - usable.length;
  if (unused > 0) o.log(`${unused} clip(s) have no frame in a span of ${classes.join(', ')}: not trained on`);
  const frames = Object.fromEntries(
    classes.map((c, ci) => [c, usable.reduce((n, i) => n + i.seq.labels.filter((l) => l === ci).length, 0)]),
  );
  const missing = classes.filter((c) => frames[c] === 0);
  if (missing.length > 0)
    throw vigilError('VIGIL_ERR_DATASET', `${data.source}: no frame of class ${missing.join(', ')}; labels are taken from the spans`);
  const smoothing = o.smoothing;
  const score = (items: typeof usable, probs: Float32Array[]) => scoreSpans(classes, items, probs, { smoothing, toleranceS: o.toleranceS });

  let cv: SpanTrainingRecord['crossValidation'] = null;
  const K = o.folds ?? 5;
  if (K > 0) {
    // CV scores every clip, even those without a labelled frame: they can still raise false alarms.
    const result = await crossValidate(data.items, { classes, folds: K, seed: o.seed, fit: o.fit, score, log: o.log, everyEpoch: true });
    const pooled = result.pooled as SpanScores;
    const acc = result.summary[0];
    cv = roundDeep({
      folds: K,
      grouping: o.groups ? basename(o.groups) : data.items.some((i) => !i.group.startsWith('clip:')) ? 'manifest group column' : 'none',
      metric: 'frame accuracy of the smoothed timeline',
      accuracyMean: acc.mean,
      accuracyStd: acc.std,
      foldAccuracies: acc.values,
      pooled: pooled.frameReport,
      rawFrameAccuracy: pooled.rawFrameAccuracy,
      toleranceS: pooled.toleranceS,
      events: pooled.events,
      summary: result.summary,
    });
    o.log(`grouped ${K}-fold CV frame accuracy ${acc.mean!.toFixed(3)} ± ${acc.std!.toFixed(3)}`);
  }

  const { train, val } = earlyStoppingSplit(usable, o.seed);
  const fit = await fitHead(
    trainingSequences(train),
    val.map((i) => i.seq),
    {
      ...o.fit,
      numClasses: k,
      seed: o.seed,
      onEpoch: (e) =>
        o.log(
          `final epoch ${e.epoch + 1}: loss ${e.loss.toFixed(4)} val ${e.valLoss?.toFixed(4) ?? '-'} frame acc ${e.valFrameAccuracy?.toFixed(3) ?? '-'}`,
        ),
    },
  );
  const spans: Record<string, number> = {};
  for (const i of usable) for (const s of i.spans ?? []) if (classes.includes(s.label)) spans[s.label] = (spans[s.label] ?? 0) + 1;
  return shipModel(
    o,
    classes,
    fit,
    { trainClips: train.length, earlyStoppingClips: val.length },
    {
      kind: 'spans',
      dataset: data.name,
      manifest: typeof o.manifest === 'string' ? basename(o.manifest) : null,
      clips: usable.length,
      spans,
      frames,
      groups: new Set(usable.map((i) => i.group)).size,
      labelling: 'frame label = covering span, class order = priority; frames in no span are left out of the loss',
      crossValidation: cv,
    },
    started,
    trainingSequences(train),
  );
}
