import { z } from 'zod';
import { INPUT_MODES } from '../input/frame-encoder.js';
import { adaptationRecordSchema } from './adaptation-record.js';
import { trainingRecordSchema } from './training-record.js';

export const MANIFEST_SCHEMA = 'vigil.model/1';

/**
 * `models/<name>/manifest.json`. Everything needed to run the model the way it was trained:
 * which extractor, what it looks at, the decode size and sampling rate, the class order.
 */
export const manifestSchema = z
  .object({
    schema: z.literal(MANIFEST_SCHEMA),
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, - and _'),
    version: z.string().regex(/^\d+\.\d+\.\d+$/, 'semver, e.g. 1.0.0'),
    description: z.string(),
    extractor: z.string(),
    input: z.enum(INPUT_MODES),
    /** The head also sees f_t − f_{t−k} for these lags k (`true` = [1]; see feature-deltas.ts); absent = none. */
    deltas: z.union([z.boolean(), z.array(z.number().int().min(1).max(64)).min(1)]).optional(),
    inputSize: z.number().int().positive(),
    fps: z.number().positive().max(60),
    classes: z
      .array(z.string().min(1))
      .min(2)
      .refine((c) => new Set(c).size === c.length, 'class names must be unique'),
    /**
     * The classes that are alerts: a stretch where one holds becomes an event (src/events);
     * absent = the first class (see {@link alertLabels}). Each must be one of `classes`.
     */
    alerts: z.array(z.string().min(1)).min(1).optional(),
    head: z.object({
      type: z.literal('sigmoid_rnn'),
      featureSize: z.number().int().positive(),
      hidden: z.number().int().positive(),
    }),
    smoothing: z.object({
      windowMs: z.number().nonnegative(),
      minHoldMs: z.number().nonnegative(),
      /** Segments start where their label began to lead, not where the hold confirmed it (see createSmoother); absent = false. */
      backdate: z.boolean().optional(),
    }),
    /** How it was trained and how well it does (the model card's data; see training-record.ts). */
    training: trainingRecordSchema,
    /** Present when the model was adapted to one camera from its reviews (see adaptation-record.ts). */
    adaptation: adaptationRecordSchema.optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    for (const [i, a] of (m.alerts ?? []).entries()) {
      if (!m.classes.includes(a))
        ctx.addIssue({
          code: 'custom',
          path: ['alerts', i],
          message: `${JSON.stringify(a)} is not one of the classes (${m.classes.join(', ')})`,
        });
    }
  });

export type ModelManifest = z.infer<typeof manifestSchema>;

/**
 * The classes of a model that make events: its manifest's `alerts`, or, for a manifest from
 * before alerts existed, its first class (the positive class of every shipped model, and what
 * the recorder's `events` mode records by default).
 */
export function alertLabels(m: Pick<ModelManifest, 'alerts' | 'classes'>): readonly string[] {
  return m.alerts ?? [m.classes[0]];
}
