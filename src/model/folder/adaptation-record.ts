import { z } from 'zod';

const scores = z.object({
  reviews: z.number().int().nonnegative(),
  accuracy: z.number(),
  frameAccuracy: z.number(),
  falseAlarms: z.number().int().nonnegative(),
  missed: z.number().int().nonnegative(),
});

/**
 * A manifest's `adaptation`: present on a model adapted to one camera from its reviews
 * (src/train/adapt-model.ts), the card's "Adapted" section. Unknown keys pass, as in `training`.
 */
export const adaptationRecordSchema = z
  .object({
    /** `name@version` of the model it started from. */
    from: z.string(),
    camera: z.string().optional(),
    reviews: z
      .object({
        /** Usable reviews by the label they teach, e.g. { fight: 3, no_fight: 5 }. */
        byLabel: z.record(z.number().int().nonnegative()),
        /** Reviews learnt from (all usable ones) and judged on (each by a fold that did not train on it). */
        used: z.number().int().nonnegative(),
        /** Reviews left out because their clip is gone (retention) or holds no sampled frame. */
        skipped: z.number().int().nonnegative(),
        /** Event (or clip) ids of the used reviews. */
        ids: z.array(z.string()),
      })
      .passthrough(),
    /** Replayed sequences of the base's own data, learnt beside the reviews. */
    replaySequences: z.number().int().nonnegative(),
    rule: z.string(),
    /** Cross-validation folds over the reviews that judged the recipe. */
    folds: z.number().int().positive(),
    /** On reviews not trained on: the model it started from, and this recipe (pooled over the folds). */
    before: scores,
    after: scores,
    /** Frame accuracy on the held-back fifth of the replay sample, before and after: did it forget? null without replay. */
    replayCheck: z.object({ before: z.number(), after: z.number(), sequences: z.number().int() }).nullable(),
    accepted: z.boolean(),
    epochs: z.number().int(),
    seconds: z.number().nonnegative(),
    adaptedAt: z.string(),
  })
  .passthrough();

export type AdaptationRecord = z.infer<typeof adaptationRecordSchema>;
