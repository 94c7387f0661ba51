import * as tf from '@tensorflow/tfjs';
import { vigilError } from '../errors.js';
import { alertLabels, type ModelManifest } from '../model/folder/manifest.js';
import { createRecurrentHead } from '../model/head/recurrent-head.js';
import { appendDeltas, deltaLags } from '../model/input/feature-deltas.js';
import { createFeatureCache } from './feature-cache.js';
import { fitHead, type FitOptions, type FitResult, type Sequence } from './fit-head.js';
import { createRandom, shuffle } from './random.js';
import { spanFrameLabels, UNLABELLED } from './span-manifest.js';

/**
 * One reviewed stretch of footage: an event someone confirmed or called a false alarm, or a
 * clip of a dataset standing in for one (bench:adapt).
 */
export interface Review {
  /** What it is, for the record: an event id, a clip name. */
  id: string;
  /** The video the stretch is in. */
  clip: string;
  /** The class the review says held over the stretch: the alert for a confirmation, the background for a false alarm. */
  label: string;
  /** The stretch in clip time, ms; absent = the whole clip. */
  startMs?: number;
  endMs?: number;
}

/** A review with the features a live camera would have fed the head over it. */
export interface ReviewItem {
  review: Review;
  seq: Sequence;
}

/** Frames of context before a reviewed stretch, unlabelled: the head's state warms up on them as it did live. */
const WARMUP_FRAMES = 8;

/**
 * The class a false alarm teaches: the model's one class that is not an alert.
 * @throws VIGIL_ERR_MODEL_NOT_ADAPTABLE when the model has several (a false alarm would not say which held)
 */
export function backgroundLabel(m: Pick<ModelManifest, 'alerts' | 'classes' | 'name'>): string {
  const alerts = alertLabels(m);
  const rest = m.classes.filter((c) => !alerts.includes(c));
  if (rest.length !== 1) {
    throw vigilError(
      'VIGIL_ERR_MODEL_NOT_ADAPTABLE',
      `${m.name}: adapting from reviews needs exactly one class that is not an alert (a false alarm's label); it has ${rest.length} (${rest.join(', ')})`,
    );
  }
  return rest[0];
}

/**
 * Features and per-frame labels of each review, from the feature cache with the model's own
 * extractor, input encoding and rate, so they are what the live head saw. Frames outside the
 * stretch take no part in the loss; a sequence starts {@link WARMUP_FRAMES} before it.
 * A review whose stretch holds no sampled frame is left out (counted by the caller).
 */
export async function reviewItems(reviews: readonly Review[], manifest: ModelManifest, cacheDir: string): Promise<ReviewItem[]> {
  const cache = createFeatureCache(cacheDir);
  const lags = deltaLags(manifest.deltas);
  const items: ReviewItem[] = [];
  for (const review of reviews) {
    if (!manifest.classes.includes(review.label)) {
      throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `review ${review.id}: ${review.label} is not a class of ${manifest.name}`);
    }
    const f = await cache.get(review.clip, { extractor: manifest.extractor, input: manifest.input, fps: manifest.fps });
    const startS = (review.startMs ?? 0) / 1000;
    const endS = review.endMs === undefined ? Infinity : review.endMs / 1000;
    const all = spanFrameLabels([{ label: review.label, startS, endS }], f.tMs, manifest.classes);
    const first = all.findIndex((l) => l !== UNLABELLED);
    if (first < 0) continue;
    let last = all.length - 1;
    while (all[last] === UNLABELLED) last--;
    const features = lags.length > 0 ? appendDeltas(f.features, f.dim, f.tMs.length, lags) : f.features;
    const dim = (1 + lags.length) * f.dim;
    const from = Math.max(0, first - WARMUP_FRAMES);
    items.push({
      review,
      seq: { features: features.slice(from * dim, (last + 1) * dim), dim, labels: all.slice(from, last + 1) },
    });
  }
  return items;
}

/** How a head reads reviewed stretches it was not trained on. */
export interface ReviewScores {
  reviews: number;
  /** Reviews whose stretch the head labels (highest mean probability) as the review says. */
  accuracy: number;
  /** Labelled frames whose highest-probability class is the review's. */
  frameAccuracy: number;
  /** Background reviews (false alarms) the head still calls an alert. */
  falseAlarms: number;
  /** Alert reviews (confirmed) the head calls background. */
  missed: number;
}

/** How a head reads one review: its verdict over the stretch and its frames right. */
interface ReviewReading {
  review: Review;
  said: string;
  frames: number;
  framesRight: number;
}

/**
 * A head's reading of labelled sequences, each from a fresh state: per sequence the mean
 * probability of each class over its labelled frames, and how many of those frames it gets right.
 */
function readSequences(head: tf.LayersModel, seqs: readonly Sequence[]): { mean: Float64Array; frames: number; framesRight: number }[] {
  const rnn = createRecurrentHead(head);
  const k = rnn.numClasses;
  try {
    return seqs.map((seq) => {
      const { probs } = rnn.sequence(seq.features, seq.labels.length);
      const mean = new Float64Array(k);
      let frames = 0;
      let framesRight = 0;
      seq.labels.forEach((l, t) => {
        if (l === UNLABELLED) return;
        let best = 0;
        for (let c = 0; c < k; c++) {
          mean[c] += probs[t * k + c];
          if (probs[t * k + c] > probs[t * k + best]) best = c;
        }
        frames++;
        if (best === l) framesRight++;
      });
      return { mean, frames, framesRight };
    });
  } finally {
    rnn.dispose();
  }
}

function readReviews(head: tf.LayersModel, items: readonly ReviewItem[], manifest: ModelManifest): ReviewReading[] {
  return readSequences(
    head,
    items.map((i) => i.seq),
  ).map(({ mean, frames, framesRight }, n) => ({
    review: items[n].review,
    said: manifest.classes[mean.indexOf(Math.max(...mean))],
    frames,
    framesRight,
  }));
}

function summarise(readings: readonly ReviewReading[], manifest: ModelManifest): ReviewScores {
  const alerts = alertLabels(manifest);
  const frames = readings.reduce((a, r) => a + r.frames, 0);
  return {
    reviews: readings.length,
    accuracy: readings.length === 0 ? 0 : readings.filter((r) => r.said === r.review.label).length / readings.length,
    frameAccuracy: frames === 0 ? 0 : readings.reduce((a, r) => a + r.framesRight, 0) / frames,
    falseAlarms: readings.filter((r) => alerts.includes(r.said) && !alerts.includes(r.review.label)).length,
    missed: readings.filter((r) => !alerts.includes(r.said) && alerts.includes(r.review.label)).length,
  };
}

/** Scores a shipped head (raw features in) on review items, each from a fresh state. */
export function scoreReviews(head: tf.LayersModel, items: readonly ReviewItem[], manifest: ModelManifest): ReviewScores {
  return summarise(readReviews(head, items, manifest), manifest);
}

/** The rule a new head must pass on held-out reviews before it replaces the current one. */
export const NOT_WORSE_RULE =
  'on reviews it did not train on (K-fold over the reviews), review accuracy not lower and frame accuracy not more than 0.01 lower ' +
  'than the current model on the same reviews; and on a held-back fifth of the replay sample, frame accuracy not more than 0.02 lower';

export function notWorse(before: ReviewScores, after: ReviewScores): boolean {
  return after.reviews > 0 && after.accuracy >= before.accuracy && after.frameAccuracy >= before.frameAccuracy - 0.01;
}

/** How much frame accuracy on the base's own held-back replay an adaptation may lose: the "does not forget" half of the rule. */
export const FORGET_TOLERANCE = 0.02;

/** Frame accuracy of a head on labelled sequences (the replay check). */
export function frameAccuracy(head: tf.LayersModel, seqs: readonly Sequence[]): number {
  const read = readSequences(head, seqs);
  const frames = read.reduce((a, r) => a + r.frames, 0);
  return frames === 0 ? 0 : read.reduce((a, r) => a + r.framesRight, 0) / frames;
}

export interface AdaptHeadOptions {
  numClasses: number;
  /** The base model's own training sequences (or a sample of them), learnt beside the reviews so it does not forget. */
  replay?: readonly Sequence[];
  /** [reviewShare=0.5] of each epoch's sequences, how many are (repeated) reviews when there is replay. */
  reviewShare?: number;
  seed?: number;
  /** Fit settings; the defaults below suit fine-tuning. */
  fit?: Partial<Omit<FitOptions, 'numClasses' | 'init' | 'seed'>>;
}

/** Sequences an epoch has at least, so a handful of reviews still makes whole batches. */
const MIN_EPOCH_SEQUENCES = 64;

/** Epochs of fine-tuning: a fixed recipe, so cross-validation judges exactly what is shipped. */
export const ADAPT_EPOCHS = 8;

/**
 * The sequences of one adaptation epoch: the replay, then each label's reviews repeated so
 * that together they are `reviewShare` of the epoch and every label weighs the same (three
 * false alarms teach as much as nine confirmations, rather than tilting the head to the alert).
 */
function epochSequences(train: readonly ReviewItem[], replay: readonly Sequence[], share: number): Sequence[] {
  const wanted = Math.max(replay.length > 0 ? (replay.length * share) / (1 - share) : 0, MIN_EPOCH_SEQUENCES - replay.length);
  const labels = [...new Set(train.map((i) => i.review.label))];
  const out = [...replay];
  for (const label of labels) {
    const of = train.filter((i) => i.review.label === label);
    const repeats = Math.max(1, Math.round(wanted / labels.length / of.length));
    for (let r = 0; r < repeats; r++) out.push(...of.map((i) => i.seq));
  }
  return out;
}

/**
 * Fine-tunes a shipped head on reviews: starts from its weights, replays the base's data beside
 * the reviews ({@link epochSequences}), pulls the weights back towards the base after every
 * batch (the anchor), for {@link ADAPT_EPOCHS} epochs. The result takes raw features, as shipped.
 */
export async function adaptHead(base: tf.LayersModel, train: readonly ReviewItem[], o: AdaptHeadOptions): Promise<FitResult> {
  if (train.length === 0) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'adaptation needs at least one review to learn from');
  const epochs = o.fit?.epochs ?? ADAPT_EPOCHS;
  return fitHead(epochSequences(train, o.replay ?? [], o.reviewShare ?? 0.5), [], {
    window: 12,
    batchSize: 16,
    learningRate: 0.0005,
    l2: 0,
    featureDropout: 0.3,
    anchor: 0.01,
    ...o.fit,
    epochs,
    patience: epochs,
    numClasses: o.numClasses,
    init: base,
    seed: o.seed ?? 1,
  });
}

export interface JudgedAdaptation {
  /** The head adapted on every review. */
  model: tf.LayersModel;
  /** The base head on every review (it trained on none). */
  before: ReviewScores;
  /** Each review read by the fold's head that did not train on it, pooled. */
  after: ReviewScores;
  folds: number;
  /** Frame accuracy on the held-back fifth of the replay, before and after (null without replay). */
  replayCheck: { before: number; after: number; sequences: number } | null;
  accepted: boolean;
}

/**
 * Adapts a head and judges the recipe on reviews it did not train on: K-fold cross-validation
 * over the reviews (folds stratified by label, K = min(4, reviews)), each fold's head scored on
 * its held-out reviews, pooled, against the base on the same reviews under {@link notWorse}.
 * With few reviews this judges on all of them rather than a held-out third, which is what
 * makes the rule able to refuse at all. The shipped head is then adapted on every review.
 */
export async function adaptAndJudge(
  base: tf.LayersModel,
  items: readonly ReviewItem[],
  manifest: ModelManifest,
  o: AdaptHeadOptions & { onFold?: (fold: number, folds: number) => void },
): Promise<JudgedAdaptation> {
  if (items.length < 2) throw vigilError('VIGIL_ERR_TOO_FEW_REVIEWS', `${items.length} review(s): judging needs at least 2`);
  const folds = Math.min(4, items.length);
  const foldOf = new Map<ReviewItem, number>();
  const random = createRandom(o.seed ?? 1);
  let next = 0;
  for (const label of [...new Set(items.map((i) => i.review.label))].sort()) {
    for (const item of shuffle(
      items.filter((i) => i.review.label === label),
      random,
    ))
      foldOf.set(item, next++ % folds);
  }
  // Every fifth replayed sequence is held back to tell whether the adapted head forgot its base's task.
  const replay = o.replay ?? [];
  const check = replay.length >= 10 ? replay.filter((_, i) => i % 5 === 0) : [];
  const fitOptions = { ...o, replay: check.length > 0 ? replay.filter((_, i) => i % 5 !== 0) : replay };
  const readings: ReviewReading[] = [];
  for (let f = 0; f < folds; f++) {
    o.onFold?.(f + 1, folds);
    const heldOut = items.filter((i) => foldOf.get(i) === f);
    const fit = await adaptHead(
      base,
      items.filter((i) => foldOf.get(i) !== f),
      fitOptions,
    );
    readings.push(...readReviews(fit.model, heldOut, manifest));
    fit.model.dispose();
  }
  const before = scoreReviews(base, items, manifest);
  const after = summarise(readings, manifest);
  o.onFold?.(folds + 1, folds);
  const { model } = await adaptHead(base, items, fitOptions);
  const replayCheck =
    check.length > 0 ? { before: frameAccuracy(base, check), after: frameAccuracy(model, check), sequences: check.length } : null;
  const remembers = replayCheck === null || replayCheck.after >= replayCheck.before - FORGET_TOLERANCE;
  return { model, before, after, folds, replayCheck, accepted: notWorse(before, after) && remembers };
}
