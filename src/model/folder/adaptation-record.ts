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
        trainedOn: z.number().int().nonnegative(),
        heldOut: z.number().int().nonnegative(),
        /** Reviews left out because their clip is gone (retention) or holds no sampled frame. */
        skipped: z.number().int().nonnegative(),
        /** Event (or clip) ids, trained on and held out. */
        trainIds: z.array(z.string()),
        heldOutIds: z.array(z.string()),
      })
      .passthrough(),
    /** Replayed sequences of the base's own data, learnt beside the reviews. */
    replaySequences: z.number().int().nonnegative(),
    rule: z.string(),
    /** On the held-out reviews: the model it started from, and this one. */
    before: scores,
    after: scores,
    accepted: z.boolean(),
    epochs: z.number().int(),
    bestEpoch: z.number().int(),
    seconds: z.number().nonnegative(),
    adaptedAt: z.string(),
  })
  .passthrough();

export type AdaptationRecord = z.infer<typeof adaptationRecordSchema>;
