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

/**
 * Splits reviews into the part adaptation learns from and the part that judges it, per label,
 * so both sides see false alarms and confirmations alike: about a third of each label is held
 * out, at least one where a label has two or more. Seeded.
 */
export function splitReviews<T extends { review: Review }>(items: readonly T[], seed: number): { train: T[]; heldOut: T[] } {
  const random = createRandom(seed);
  const train: T[] = [];
  const heldOut: T[] = [];
  for (const label of [...new Set(items.map((i) => i.review.label))].sort()) {
    const of = shuffle(
      items.filter((i) => i.review.label === label),
      random,
    );
    const held = of.length < 2 ? 0 : Math.max(1, Math.round(of.length / 3));
    heldOut.push(...of.slice(0, held));
    train.push(...of.slice(held));
  }
  return { train, heldOut };
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

/** Scores a shipped head (raw features in) on review items, each from a fresh state. */
export function scoreReviews(head: tf.LayersModel, items: readonly ReviewItem[], manifest: ModelManifest): ReviewScores {
  const k = manifest.classes.length;
  const alerts = alertLabels(manifest);
  const rnn = createRecurrentHead(head);
  try {
    let right = 0;
    let frames = 0;
    let framesRight = 0;
    let falseAlarms = 0;
    let missed = 0;
    for (const { review, seq } of items) {
      const { probs } = rnn.sequence(seq.features, seq.labels.length);
      const mean = new Float64Array(k);
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
      const said = manifest.classes[mean.indexOf(Math.max(...mean))];
      if (said === review.label) right++;
      else if (alerts.includes(said) && !alerts.includes(review.label)) falseAlarms++;
      else if (!alerts.includes(said) && alerts.includes(review.label)) missed++;
    }
    return {
      reviews: items.length,
      accuracy: items.length === 0 ? 0 : right / items.length,
      frameAccuracy: frames === 0 ? 0 : framesRight / frames,
      falseAlarms,
      missed,
    };
  } finally {
    rnn.dispose();
  }
}

/** The rule a new head must pass on held-out reviews before it replaces the current one. */
export const NOT_WORSE_RULE =
  'on held-out reviews, review accuracy not lower and frame accuracy not more than 0.01 lower than the current model';

export function notWorse(before: ReviewScores, after: ReviewScores): boolean {
  return after.reviews > 0 && after.accuracy >= before.accuracy && after.frameAccuracy >= before.frameAccuracy - 0.01;
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

/**
 * Fine-tunes a shipped head on reviews: starts from its weights, replays the base's data beside
 * the reviews (repeated to `reviewShare` of each epoch), pulls the weights back towards the base
 * after every batch, and stops early on `val` (held-out reviews; the base itself competes, so a
 * head that only gets worse comes back unchanged).
 */
export async function adaptHead(
  base: tf.LayersModel,
  train: readonly ReviewItem[],
  val: readonly ReviewItem[],
  o: AdaptHeadOptions,
): Promise<FitResult> {
  if (train.length === 0) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'adaptation needs at least one review to learn from');
  const replay = o.replay ?? [];
  const share = o.reviewShare ?? 0.5;
  const wanted = replay.length > 0 ? (replay.length * share) / (1 - share) : MIN_EPOCH_SEQUENCES;
  const repeats = Math.max(1, Math.round(Math.max(wanted, MIN_EPOCH_SEQUENCES - replay.length) / train.length));
  const sequences = [...replay, ...Array.from({ length: repeats }, () => train.map((i) => i.seq)).flat()];
  return fitHead(
    sequences,
    val.map((i) => i.seq),
    {
      window: 12,
      epochs: 30,
      patience: 5,
      batchSize: 16,
      learningRate: 0.0005,
      l2: 0,
      featureDropout: 0.3,
      anchor: 0.01,
      ...o.fit,
      numClasses: o.numClasses,
      init: base,
      seed: o.seed ?? 1,
    },
  );
}
