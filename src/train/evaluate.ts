import { vigilError } from '../errors.js';
import { selectBackend } from '../model/runtime/backend.js';
import type { ModelManifest } from '../model/folder/manifest.js';
import { readHeadModel, readManifest, resolveModelDir } from '../model/folder/model-folder.js';
import { createRecurrentHead, type RecurrentHead } from '../model/head/recurrent-head.js';
import { buildTimeline } from '../timeline/segments.js';
import type { SmootherOptions } from '../timeline/smoother.js';
import { parseAugment, type Augmentation } from './augment.js';
import { loadDataset, labelledFrames, trainingSequences, type DatasetItem, type DatasetSource } from './dataset.js';
import { eventOnsets, eventReport, type ClipEvents, type EventReport } from './event-metrics.js';
import { fitHead, type FitOptions, type Sequence } from './fit-head.js';
import { classificationReport, meanStd, type ClassificationReport } from './metrics.js';
import { UNLABELLED } from './span-manifest.js';
import { earlyStoppingSplit, groupedFolds } from './split.js';

/** Scores on a clip dataset: a clip's class = the highest mean per-frame probability. */
export interface ClipScores {
  kind: 'clips';
  clips: number;
  report: ClassificationReport;
  /**
   * With the model's smoothing: how the timeline `vigil label` prints reads on these clips.
   * Each clip has one class, so every frame's label should be it, in one segment.
   */
  timeline?: ClipTimelineScores;
}

export interface ClipTimelineScores {
  /** Frames whose timeline label is their clip's class, over all frames. */
  frameAccuracy: number;
  /** Timeline segments a clip (1 at best). */
  segmentsPerClip: number;
}

/** Scores on a time-span dataset. */
export interface SpanScores {
  kind: 'spans';
  clips: number;
  /** Frames inside a span of one of the model's classes (the others are not scored). */
  frames: number;
  /** The smoothed timeline's label per frame against the spans: what a user sees. */
  frameReport: ClassificationReport;
  /** The raw per-frame argmax against the spans, before smoothing. */
  rawFrameAccuracy: number;
  toleranceS: number;
  /** One per model class: true events = spans, predictions = timeline segments. */
  events: EventReport[];
}

export type Scores = ClipScores | SpanScores;

/** Per-frame probabilities (`steps * numClasses`) of each item, from a fresh state. */
export function predictItems(head: RecurrentHead, items: readonly Pick<DatasetItem, 'seq'>[]): Float32Array[] {
  return items.map(({ seq }) => head.sequence(seq.features, seq.labels.length).probs);
}

/**
 * Clip accuracy, per-class precision/recall/F1 and confusion for clips with one class each;
 * given the model's smoothing, also how its timeline reads on them ({@link ClipScores.timeline}).
 */
export function scoreClips(
  classes: readonly string[],
  items: readonly (Pick<DatasetItem, 'label' | 'seq'> & { tMs?: readonly number[] })[],
  probs: readonly Float32Array[],
  smoothing?: SmootherOptions,
): ClipScores {
  const k = classes.length;
  const truth = items.map((i) => classes.indexOf(i.label!));
  const predicted = probs.map((p) => {
    const mean = new Array<number>(k).fill(0);
    for (let i = 0; i < p.length; i++) mean[i % k] += p[i];
    return mean.indexOf(Math.max(...mean));
  });
  const scores: ClipScores = { kind: 'clips', clips: items.length, report: classificationReport(classes, truth, predicted) };
  if (smoothing === undefined) return scores;
  let right = 0;
  let frames = 0;
  let segments = 0;
  items.forEach((item, n) => {
    if (item.tMs === undefined) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', "scoreClips: timeline figures need each item's tMs");
    const timeline = clipTimeline(classes, item.tMs, probs[n], smoothing);
    for (const f of timeline.frames) if (f.label === item.label) right++;
    frames += timeline.frames.length;
    segments += timeline.segments.length;
  });
  return {
    ...scores,
    timeline: { frameAccuracy: frames === 0 ? 0 : right / frames, segmentsPerClip: items.length === 0 ? 0 : segments / items.length },
  };
}

/** The timeline `vigil label` prints for a clip's per-frame probabilities (`tMs.length` rows of the classes). */
function clipTimeline(classes: readonly string[], tMs: readonly number[], probs: Float32Array, smoothing: SmootherOptions) {
  const k = classes.length;
  return buildTimeline(
    classes,
    tMs.map((t, i) => ({ tMs: t, probs: probs.subarray(i * k, (i + 1) * k) })),
    smoothing,
  );
}

export interface SpanScoreOptions {
  smoothing: SmootherOptions;
  /** [toleranceS=1] how far a predicted segment's start may be from a true onset, seconds. */
  toleranceS?: number;
}

/**
 * Frame accuracy and event metrics against spans. Each clip's probabilities go through the
 * same smoothed timeline `vigil label` prints ({@link buildTimeline} with the model's
 * smoothing); a true event is a span (same-label spans that overlap or touch are one event)
 * and a prediction is a timeline segment of that label, matched on onsets within the
 * tolerance. Video length for false alarms per hour is each timeline's extent.
 */
export function scoreSpans(
  classes: readonly string[],
  items: readonly (Pick<DatasetItem, 'spans' | 'tMs' | 'seq'> & { id?: string })[],
  probs: readonly Float32Array[],
  o: SpanScoreOptions,
): SpanScores {
  const k = classes.length;
  const toleranceS = o.toleranceS ?? 1;
  const truth: number[] = [];
  const smoothed: number[] = [];
  let rawCorrect = 0;
  const perClass = classes.map(() => [] as ClipEvents[]);
  items.forEach((item, n) => {
    const p = probs[n];
    const timeline = clipTimeline(classes, item.tMs, p, o.smoothing);
    timeline.frames.forEach((f, i) => {
      const l = item.seq.labels[i];
      if (l === UNLABELLED) return;
      truth.push(l);
      smoothed.push(classes.indexOf(f.label));
      let best = 0;
      for (let c = 1; c < k; c++) if (p[i * k + c] > p[i * k + best]) best = c;
      if (best === l) rawCorrect++;
    });
    const segs = timeline.segments;
    const durationMs = segs.length === 0 ? 0 : segs[segs.length - 1].endMs - segs[0].startMs;
    classes.forEach((label, c) =>
      perClass[c].push({
        clip: item.id,
        truth: eventOnsets(item.spans ?? [], label),
        predicted: segs.filter((s) => s.label === label).map((s) => s.startMs),
        durationMs,
      }),
    );
  });
  return {
    kind: 'spans',
    clips: items.length,
    frames: truth.length,
    frameReport: classificationReport(classes, truth, smoothed),
    rawFrameAccuracy: truth.length === 0 ? 0 : rawCorrect / truth.length,
    toleranceS,
    events: classes.map((label, c) => eventReport(label, perClass[c], toleranceS)),
  };
}

/** One figure across folds: mean ± std over the folds where it is defined. */
export interface FoldSummary {
  metric: string;
  mean: number | null;
  std: number | null;
  values: (number | null)[];
}

/** The figures summarised across folds: clip accuracy; or frame accuracy and each class's event figures. */
export function summariseFolds(folds: readonly Scores[]): FoldSummary[] {
  const pick = (metric: string, get: (s: Scores) => number | null): FoldSummary => {
    const values = folds.map(get);
    const defined = values.filter((v): v is number => v !== null);
    const { mean, std } = defined.length === 0 ? { mean: null, std: null } : meanStd(defined);
    return { metric, mean, std, values };
  };
  const first = folds[0];
  if (first.kind === 'clips') {
    const out = [pick('accuracy', (s) => (s as ClipScores).report.accuracy)];
    if (first.timeline) out.push(pick('timelineFrameAccuracy', (s) => (s as ClipScores).timeline?.frameAccuracy ?? null));
    return out;
  }
  const out = [pick('frameAccuracy', (s) => ((s as SpanScores).frames === 0 ? null : (s as SpanScores).frameReport.accuracy))];
  first.events.forEach((e, c) => {
    const ev = (s: Scores) => (s as SpanScores).events[c];
    out.push(
      pick(`${e.label}.recall`, (s) => ev(s).recall),
      pick(`${e.label}.precision`, (s) => ev(s).precision),
      pick(`${e.label}.falseAlarmsPerHour`, (s) => ev(s).falseAlarmsPerHour),
      pick(`${e.label}.onsetErrorMeanS`, (s) => ev(s).onsetErrorMeanS),
    );
  });
  return out;
}

export interface CrossValidateOptions {
  classes: readonly string[];
  folds: number;
  seed: number;
  fit: Omit<FitOptions, 'numClasses' | 'seed' | 'onEpoch'>;
  /** Scores a fold's held-out items (and, at the end, all of them pooled). */
  score: (items: DatasetItem[], probs: Float32Array[]) => Scores;
  log?: (line: string) => void;
  /** [everyEpoch=false] log each epoch, not only each fold. */
  everyEpoch?: boolean;
}

export interface CrossValidation {
  folds: number;
  seed: number;
  /** Items with at least two frames, in dataset order, and the fold each was held out in. */
  items: DatasetItem[];
  foldOf: number[];
  foldScores: Scores[];
  /** All held-out predictions scored together (each item was held out once). */
  pooled: Scores;
  summary: FoldSummary[];
  bestEpochs: number[];
}

/**
 * The three sides of CV fold `f`: its test items, and from the other folds the training
 * sequences (with the items' augmented copies, {@link trainingSequences}) and the
 * early-stopping sequences (plain: stopping and test judge real decodes only).
 * Clips without a labelled frame teach nothing; they still count as test clips (false alarms).
 */
export function foldSides(
  items: readonly DatasetItem[],
  foldOf: readonly number[],
  f: number,
  seed: number,
): { train: Sequence[]; val: Sequence[]; test: DatasetItem[] } {
  const test = items.filter((_, i) => foldOf[i] === f);
  const { train, val } = earlyStoppingSplit(
    items.filter((it, i) => foldOf[i] !== f && labelledFrames(it) > 0),
    seed,
  );
  return { train: train.length === 0 ? [] : trainingSequences(train), val: val.map((i) => i.seq), test };
}

/**
 * Grouped K-fold cross-validation on cached features: per fold a fresh head, trained on the
 * other folds with early stopping on a split of them ({@link earlyStoppingSplit}), scored on
 * the held-out fold. The folds and seeds are those of `vigil train`, so on the data a model
 * was trained on with its settings this reproduces the figures on its card.
 */
export async function crossValidate(dataset: DatasetItem[], o: CrossValidateOptions): Promise<CrossValidation> {
  const log = o.log ?? (() => {});
  const items = dataset.filter((i) => i.seq.labels.length >= 2);
  const K = o.folds;
  const foldOf = groupedFolds(
    items.map((i) => i.group),
    K,
    o.seed,
  );
  const heldOut = new Array<Float32Array>(items.length);
  const foldScores: Scores[] = [];
  const bestEpochs: number[] = [];
  for (let f = 0; f < K; f++) {
    const { train, val, test } = foldSides(items, foldOf, f, o.seed + f);
    if (train.length === 0) throw vigilError('VIGIL_ERR_DATASET', `fold ${f + 1}/${K}: no training clip has a labelled frame`);
    const fit = await fitHead(train, val, {
      ...o.fit,
      numClasses: o.classes.length,
      seed: o.seed + f,
      onEpoch: o.everyEpoch
        ? (e) =>
            log(
              `fold ${f + 1}/${K} epoch ${e.epoch + 1}: loss ${e.loss.toFixed(4)} val ${fmt(e.valLoss, 4)} frame acc ${fmt(e.valFrameAccuracy ?? null, 3)}`,
            )
        : undefined,
    });
    const head = createRecurrentHead(fit.model);
    fit.model.dispose();
    let probs: Float32Array[];
    try {
      probs = predictItems(head, test);
    } finally {
      head.dispose();
    }
    let t = 0;
    items.forEach((_, i) => {
      if (foldOf[i] === f) heldOut[i] = probs[t++];
    });
    const s = o.score(test, probs);
    foldScores.push(s);
    bestEpochs.push(fit.bestEpoch + 1);
    const headline =
      s.kind === 'clips' ? `clip accuracy ${s.report.accuracy.toFixed(3)}` : `frame accuracy ${s.frameReport.accuracy.toFixed(3)}`;
    log(
      `fold ${f + 1}/${K}: ${test.length} clips (${new Set(test.map((i) => i.group)).size} groups), ` +
        `${headline} (best epoch ${fit.bestEpoch + 1} of ${fit.epochs})`,
    );
  }
  return {
    folds: K,
    seed: o.seed,
    items,
    foldOf,
    foldScores,
    pooled: o.score(items, heldOut),
    summary: summariseFolds(foldScores),
    bestEpochs,
  };
}

const fmt = (x: number | null, digits: number) => (x === null || Number.isNaN(x) ? '-' : x.toFixed(digits));

export interface EvaluateOptions {
  /** Shipped model name or model folder. */
  model: string;
  source: DatasetSource;
  cacheDir: string;
  /** [toleranceS=1] onset tolerance for event metrics, seconds. */
  toleranceS?: number;
  /** [cv=0] 0: score the model as it is; K >= 2: grouped K-fold CV of fresh heads with its settings. */
  cv?: number;
  /** [seed=the model's training seed, else 1] for the CV folds and heads. */
  seed?: number;
  log?: (line: string) => void;
}

export interface EvaluationReport {
  model: { name: string; version: string; dir: string; classes: string[]; trainedOn: string | null };
  dataset: { kind: 'clips' | 'spans'; source: string; name: string; clips: number; groups: number };
  mode: 'model' | 'cross-validation';
  /**
   * The model's card names this dataset and the model itself was scored: the figures are on
   * clips it was (probably) trained on, so they are optimistic. Cross-validation retrains and
   * is not affected.
   */
  trainedOnThisData: boolean;
  /** The model's scores; under CV, all held-out predictions pooled. */
  scores: Scores;
  crossValidation?: {
    folds: number;
    seed: number;
    hyperparameters: Record<string, unknown>;
    foldScores: Scores[];
    summary: FoldSummary[];
    bestEpochs: number[];
  };
}

/** The fit options a model was trained with, read back from its manifest. */
export function fitOptionsOf(m: ModelManifest): {
  fit: CrossValidateOptions['fit'];
  seed: number | undefined;
  augment: Augmentation[] | undefined;
} {
  const h = m.training.hyperparameters ?? {};
  // An ensemble's head has every member's units; a member has `hidden`.
  const fit: CrossValidateOptions['fit'] = { hidden: h.hidden ?? m.head.hidden };
  for (const key of ['window', 'epochs', 'patience', 'batchSize', 'learningRate', 'l2', 'featureDropout', 'ensemble'] as const) {
    if (h[key] !== undefined) fit[key] = h[key];
  }
  // A card naming an augmentation this version lacks must not be retrained without it quietly.
  const augment = h.augment ? parseAugment(h.augment.join(',')) : undefined;
  return { fit, seed: h.seed, augment };
}

/**
 * `vigil eval`: scores a model on a clip or span dataset from cached features (the CNN runs
 * only for clips not in the cache), or cross-validates fresh heads with its settings.
 * @throws VIGIL_ERR_MODEL_NOT_FOUND, VIGIL_ERR_MODEL_INVALID, VIGIL_ERR_DATASET
 */
export async function evaluate(o: EvaluateOptions): Promise<EvaluationReport> {
  const log = o.log ?? (() => {});
  const dir = resolveModelDir(o.model);
  const m = readManifest(dir);
  await selectBackend();
  const cvRun = (o.cv ?? 0) > 0;
  const data = await loadDataset(o.source, {
    spec: { extractor: m.extractor, input: m.input, fps: m.fps },
    deltas: m.deltas,
    // CV retrains heads as the model was trained, augmentation included; scoring the model needs none.
    augment: cvRun ? fitOptionsOf(m).augment : undefined,
    cacheDir: o.cacheDir,
    classes: m.classes,
    log,
  });
  const score = (items: DatasetItem[], probs: Float32Array[]): Scores =>
    data.kind === 'clips'
      ? scoreClips(m.classes, items, probs, m.smoothing)
      : scoreSpans(m.classes, items, probs, { smoothing: m.smoothing, toleranceS: o.toleranceS });
  const trainedOn = m.training.dataset ?? null;
  const report: Omit<EvaluationReport, 'scores' | 'mode' | 'trainedOnThisData'> = {
    model: { name: m.name, version: m.version, dir, classes: m.classes, trainedOn },
    dataset: {
      kind: data.kind,
      source: data.source,
      name: data.name,
      clips: data.items.length,
      groups: new Set(data.items.map((i) => i.group)).size,
    },
  };
  if (cvRun) {
    const { fit, seed: trainedSeed, augment } = fitOptionsOf(m);
    const seed = o.seed ?? trainedSeed ?? 1;
    const cv = await crossValidate(data.items, { classes: m.classes, folds: o.cv!, seed, fit, score, log, everyEpoch: false });
    return {
      ...report,
      dataset: { ...report.dataset, clips: cv.items.length },
      mode: 'cross-validation',
      trainedOnThisData: false,
      scores: cv.pooled,
      crossValidation: {
        folds: cv.folds,
        seed,
        hyperparameters: { ...fit, seed, ...(augment ? { augment } : {}) },
        foldScores: cv.foldScores,
        summary: cv.summary,
        bestEpochs: cv.bestEpochs,
      },
    };
  }
  const layers = await readHeadModel(dir, m);
  const head = createRecurrentHead(layers);
  layers.dispose();
  try {
    const items = data.items.filter((i) => i.seq.labels.length >= 1);
    return {
      ...report,
      dataset: { ...report.dataset, clips: items.length },
      mode: 'model',
      trainedOnThisData: trainedOn === data.name,
      scores: score(items, predictItems(head, items)),
    };
  } finally {
    head.dispose();
  }
}
