import { z } from 'zod';

/**
 * A manifest's `training`: how the model was trained and how well it did, the model card's
 * data (src/train/ship.ts writes it). Every field is optional, as folders from before it was
 * kept lack it, and objects pass unknown keys through, so older and newer folders load alike.
 */

/**
 * An object schema that keeps unknown keys, so a newer folder's fields survive a load (and
 * `vigil models --json`), typed by its known keys only: zod's passthrough type adds an index
 * signature that the trainers' plain interfaces (EventReport, ...) cannot be assigned to.
 */
function open<T extends z.ZodRawShape>(shape: T): z.ZodObject<T> {
  return z.object(shape).passthrough();
}

const count = z.number().int().nonnegative();
/** A figure with nothing to measure (no events, no predictions) is null. */
const figure = z.number().nullable();

const classScores = open({ label: z.string(), precision: z.number(), recall: z.number(), f1: z.number(), support: count });

/** Pooled held-out classification: clips for a clip model, frames for a span model. */
const classification = open({
  accuracy: z.number(),
  /** confusion[true][predicted] */
  confusion: z.array(z.array(count)),
  perClass: z.array(classScores),
});

/** One behaviour's event figures (see src/train/event-metrics.ts); cards from before a field was kept lack it. */
const eventFigures = open({
  label: z.string(),
  events: count,
  predicted: count,
  hits: count,
  missed: count,
  falseAlarms: count,
  falseAlarmsEventFree: count.optional(),
  eventFreeClips: count.optional(),
  recall: figure,
  precision: figure,
  onsetErrorMeanS: figure,
  onsetErrorMaxS: figure,
  onsetDelayMeanS: figure,
  hours: z.number(),
  falseAlarmsPerHour: figure,
  misses: z.array(open({ clip: z.string(), onsetS: z.number(), nearestS: z.number().nullable() })).optional(),
  alarms: z.array(open({ clip: z.string(), startS: z.number() })).optional(),
});

const foldSummary = open({ metric: z.string(), mean: figure, std: figure, values: z.array(figure) });

/** Grouped K-fold cross-validation of a clip model: clip accuracy. */
const clipCrossValidation = open({
  folds: count,
  grouping: z.string(),
  accuracyMean: z.number(),
  accuracyStd: z.number(),
  foldAccuracies: z.array(z.number()),
  pooled: classification,
  /** The smoothed timeline on the held-out clips; older cards have none. */
  timeline: open({ frameAccuracy: z.number(), segmentsPerClip: z.number() }).optional(),
});

/** Grouped K-fold cross-validation of a span model: frame accuracy of the timeline, events per class. */
const spanCrossValidation = open({
  folds: count,
  grouping: z.string(),
  metric: z.string().optional(),
  accuracyMean: figure,
  accuracyStd: figure,
  foldAccuracies: z.array(figure),
  pooled: classification,
  rawFrameAccuracy: z.number(),
  toleranceS: z.number(),
  events: z.array(eventFigures),
  summary: z.array(foldSummary).optional(),
});

/** What every training run records, whatever the dataset's shape. */
const runFields = {
  /** The dataset's folder, last two path parts (`datasets/fight-surveillance`). */
  dataset: z.string().optional(),
  /** Source groups the clips came from. */
  groups: count.optional(),
  /** The head shipped: clips it learnt from, clips it stopped on, epochs run and the best (1-based). */
  final: open({ trainClips: count, earlyStoppingClips: count, epochs: count, bestEpoch: count }).optional(),
  /** The fit options (src/train/fit-head.ts), the seed and the augmentations. */
  hyperparameters: open({
    hidden: z.number().int().positive().optional(),
    window: z.number().optional(),
    epochs: z.number().optional(),
    patience: z.number().optional(),
    batchSize: z.number().optional(),
    learningRate: z.number().optional(),
    l2: z.number().optional(),
    featureDropout: z.number().optional(),
    ensemble: z.number().optional(),
    seed: z.number().optional(),
    augment: z.array(z.string()).optional(),
  }).optional(),
  trainingSeconds: z.number().optional(),
  /** ISO 8601. */
  trainedAt: z.string().optional(),
  /** The command line that reproduces the run. */
  command: z.string().optional(),
  /** The CNN's cost on the machine that trained it. */
  perFrameCost: open({ backend: z.string(), cnnMsPerFrame: z.number(), batch: count }).optional(),
};

/** A model trained on clips in class folders (`vigil train --data`): no `kind`. */
const clipTraining = open({
  kind: z.undefined(),
  ...runFields,
  /** Clips per class. */
  clips: z.record(count).optional(),
  /** null: no cross-validation was run. */
  crossValidation: clipCrossValidation.nullable().optional(),
});

/** A model trained on time spans (`vigil train --manifest`). */
const spanTraining = open({
  kind: z.literal('spans'),
  ...runFields,
  /** The span manifest's file name; null for a dataset handed over in memory. */
  manifest: z.string().nullable().optional(),
  clips: count.optional(),
  /** Spans per class. */
  spans: z.record(count).optional(),
  /** Labelled frames per class. */
  frames: z.record(count).optional(),
  /** How frames got their labels, in words. */
  labelling: z.string().optional(),
  crossValidation: spanCrossValidation.nullable().optional(),
});

export const trainingRecordSchema = z.discriminatedUnion('kind', [clipTraining, spanTraining], {
  errorMap: (issue, ctx) => ({
    message:
      issue.code === 'invalid_union_discriminator' ? "expected 'spans', or no kind for a model trained on class folders" : ctx.defaultError,
  }),
});

export type TrainingRecord = z.infer<typeof trainingRecordSchema>;
export type ClipTrainingRecord = z.infer<typeof clipTraining>;
export type SpanTrainingRecord = z.infer<typeof spanTraining>;
