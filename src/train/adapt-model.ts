import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { vigilError } from '../errors.js';
import type { AdaptationRecord } from '../model/folder/adaptation-record.js';
import type { ModelManifest } from '../model/folder/manifest.js';
import { readHeadModel, readManifest, writeModelFolder } from '../model/folder/model-folder.js';
import { readReplay } from '../model/folder/replay.js';
import { round, roundDeep } from '../numbers.js';
import { adaptHead, backgroundLabel, NOT_WORSE_RULE, notWorse, reviewItems, scoreReviews, splitReviews, type Review } from './adapt.js';
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
  onProgress?: (p: { stage: AdaptStage; epoch?: number; epochs?: number }) => void;
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
 * reviews, computes their features (cached, as live), holds out a part of them per label,
 * fine-tunes the head with the base's replay sample beside them ({@link adaptHead}), scores
 * the old and new heads on the held-out reviews and writes the new folder, with its card and
 * the decision under {@link NOT_WORSE_RULE}. Whether to activate it is the caller's, by
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
  const { train, heldOut } = splitReviews(items, seed);
  const replay = readReplay(o.baseDir, base);
  log(`${items.length} reviews (${train.length} to learn from, ${heldOut.length} held out), ${replay.length} replayed sequences`);

  const head = await readHeadModel(o.baseDir, base);
  try {
    o.onProgress?.({ stage: 'training' });
    const fit = await adaptHead(head, train, heldOut, {
      numClasses: base.classes.length,
      replay,
      seed,
      fit: {
        onEpoch: (e) => {
          o.onProgress?.({ stage: 'training', epoch: e.epoch + 1 });
          log(`epoch ${e.epoch + 1}: loss ${e.loss.toFixed(4)} held-out ${e.valLoss?.toFixed(4) ?? '-'}`);
        },
      },
    });
    try {
      o.onProgress?.({ stage: 'judging' });
      const before = roundDeep(scoreReviews(head, heldOut, base));
      const after = roundDeep(scoreReviews(fit.model, heldOut, base));
      const accepted = notWorse(before, after);
      const record: AdaptationRecord = {
        from: `${base.name}@${base.version}`,
        ...(o.camera !== undefined ? { camera: o.camera } : {}),
        reviews: {
          byLabel,
          trainedOn: train.length,
          heldOut: heldOut.length,
          skipped,
          trainIds: train.map((i) => i.review.id),
          heldOutIds: heldOut.map((i) => i.review.id),
        },
        replaySequences: replay.length,
        rule: NOT_WORSE_RULE,
        before,
        after,
        accepted,
        epochs: fit.epochs,
        bestEpoch: fit.bestEpoch + 1,
        seconds: round((Date.now() - started) / 1000, 1),
        adaptedAt: new Date().toISOString(),
      };
      log(
        `held-out reviews: accuracy ${before.accuracy} → ${after.accuracy}, frame accuracy ${before.frameAccuracy} → ${after.frameAccuracy}: ${accepted ? 'accepted' : 'refused'}`,
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
      await writeModelFolder(o.out, manifest, fit.model);
      await writeFile(join(o.out, 'README.md'), renderModelCard(manifest));
      return { manifest, dir: o.out, record };
    } finally {
      fit.model.dispose();
    }
  } finally {
    head.dispose();
  }
}
