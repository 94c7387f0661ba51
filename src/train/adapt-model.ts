import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { vigilError } from '../errors.js';
import type { AdaptationRecord } from '../model/folder/adaptation-record.js';
import type { ModelManifest } from '../model/folder/manifest.js';
import { readHeadModel, readManifest, writeModelFolder } from '../model/folder/model-folder.js';
import { readReplay } from '../model/folder/replay.js';
import { round, roundDeep } from '../numbers.js';
import { ADAPT_EPOCHS, adaptAndJudge, backgroundLabel, NOT_WORSE_RULE, reviewItems, type Review } from './adapt.js';
import { renderModelCard } from './model-card.js';

/** Reviews an adaptation needs at least, so that some are left to judge it. */
export const DEFAULT_MIN_REVIEWS = 4;

export type AdaptStage = 'features' | 'training' | 'judging' | 'writing';

export interface AdaptModelOptions {
  /** The folder of the model the camera runs now (shipped or already adapted). */
  baseDir: string;
  reviews: readonly Review[];
  /** The new model folder to write. */
  out: string;
  cacheDir: string;
  /** For the record: the camera it is adapted to. */
  camera?: string;
  /** [minReviews=4] usable reviews needed. */
  minReviews?: number;
  seed?: number;
  log?: (line: string) => void;
  /** `judging`: fold of folds of the cross-validation; `training` after it: the head adapted on every review. */
  onProgress?: (p: { stage: AdaptStage; fold?: number; folds?: number }) => void;
}

export interface AdaptOutcome {
  manifest: ModelManifest;
  dir: string;
  record: AdaptationRecord;
}

/** 1.0.0 → 1.1.0: an adapted model is a new minor version of the one it started from. */
export function nextVersion(version: string): string {
  const [major, minor] = version.split('.').map(Number);
  return `${major}.${minor + 1}.0`;
}

/**
 * Adapts a model to one camera from its reviews, end to end: checks the model and the
 * reviews, computes their features (cached, as live), judges the recipe by cross-validation
 * over the reviews and adapts the head on all of them with the base's replay sample beside
 * ({@link adaptAndJudge}), and writes the new folder, with its card and the decision under
 * {@link NOT_WORSE_RULE}. Whether to activate it is the caller's, by
 * `record.accepted`.
 * @throws VIGIL_ERR_MODEL_NOT_ADAPTABLE, VIGIL_ERR_TOO_FEW_REVIEWS (with the counts),
 *   VIGIL_ERR_INVALID_ARGUMENT for a review label the model lacks
 */
export async function adaptModel(o: AdaptModelOptions): Promise<AdaptOutcome> {
  const started = Date.now();
  const log = o.log ?? (() => {});
  const base = readManifest(o.baseDir);
  backgroundLabel(base);
  const min = o.minReviews ?? DEFAULT_MIN_REVIEWS;
  const present = o.reviews.filter((r) => existsSync(r.clip) && statSync(r.clip).size > 0);
  o.onProgress?.({ stage: 'features' });
  const items = await reviewItems(present, base, o.cacheDir);
  const skipped = o.reviews.length - items.length;
  const byLabel = Object.fromEntries(base.classes.map((c) => [c, items.filter((i) => i.review.label === c).length]));
  if (items.length < min) {
    const counts = Object.entries(byLabel)
      .map(([c, n]) => `${n} ${c}`)
      .join(', ');
    throw vigilError(
      'VIGIL_ERR_TOO_FEW_REVIEWS',
      `${o.camera ?? base.name}: ${items.length} usable review(s) (${counts}), need at least ${min}` +
        (skipped > 0 ? `; ${skipped} skipped (clip deleted by retention, or no frame in its stretch)` : ''),
    );
  }
  const seed = o.seed ?? 1;
  const replay = readReplay(o.baseDir, base);
  log(`${items.length} reviews, ${replay.length} replayed sequences of the base's data`);

  const head = await readHeadModel(o.baseDir, base);
  try {
    // Fine-tuned at the rate the base was trained with (fight 0.0005, fall 0.002).
    const learningRate = base.training.hyperparameters?.learningRate;
    const judged = await adaptAndJudge(head, items, base, {
      numClasses: base.classes.length,
      replay,
      seed,
      ...(learningRate !== undefined ? { fit: { learningRate } } : {}),
      onFold: (fold, folds) => {
        o.onProgress?.(fold > folds ? { stage: 'training' } : { stage: 'judging', fold, folds });
        log(fold > folds ? 'adapting on every review' : `fold ${fold}/${folds}`);
      },
    });
    try {
      const before = roundDeep(judged.before);
      const after = roundDeep(judged.after);
      const { accepted } = judged;
      const record: AdaptationRecord = {
        from: `${base.name}@${base.version}`,
        ...(o.camera !== undefined ? { camera: o.camera } : {}),
        reviews: { byLabel, used: items.length, skipped, ids: items.map((i) => i.review.id) },
        replaySequences: replay.length,
        rule: NOT_WORSE_RULE,
        folds: judged.folds,
        replayCheck: judged.replayCheck === null ? null : roundDeep(judged.replayCheck),
        before,
        after,
        accepted,
        epochs: ADAPT_EPOCHS,
        seconds: round((Date.now() - started) / 1000, 1),
        adaptedAt: new Date().toISOString(),
      };
      log(
        `reviews not trained on: accuracy ${before.accuracy} → ${after.accuracy}, ` +
          `frame accuracy ${before.frameAccuracy} → ${after.frameAccuracy}: ${accepted ? 'accepted' : 'refused'}`,
      );
      o.onProgress?.({ stage: 'writing' });
      const manifest: ModelManifest = {
        ...base,
        version: nextVersion(base.version),
        description: base.description.includes('adapted to camera')
          ? base.description
          : `${base.description}, adapted to camera ${o.camera ?? '(unnamed)'}`,
        adaptation: record,
      };
      await writeModelFolder(o.out, manifest, judged.model);
      await writeFile(join(o.out, 'README.md'), renderModelCard(manifest));
      return { manifest, dir: o.out, record };
    } finally {
      judged.model.dispose();
    }
  } finally {
    head.dispose();
  }
}
