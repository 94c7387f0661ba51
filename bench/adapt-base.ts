/**
 * What both halves of bench:adapt start a site from: a base head trained without the site's
 * clips by the model's own recipe (its card's hyperparameters), and the replay sample a
 * shipped model of it would carry, made the way `vigil train` makes it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { ModelManifest } from '../src/model/folder/manifest.js';
import { readReplay, type ReplaySequence } from '../src/model/folder/replay.js';
import { trainingSequences, type DatasetItem } from '../src/train/dataset.js';
import { fitHead } from '../src/train/fit-head.js';
import { writeShippedReplay } from '../src/train/ship.js';
import { earlyStoppingSplit } from '../src/train/split.js';

export async function siteBase(
  manifest: ModelManifest,
  rest: readonly DatasetItem[],
): Promise<{ base: tf.LayersModel; replay: ReplaySequence[]; seconds: number }> {
  const h = manifest.training.hyperparameters ?? {};
  const { train, val } = earlyStoppingSplit(rest, 1);
  const t0 = performance.now();
  const { model: base } = await fitHead(
    trainingSequences(train),
    val.map((i) => i.seq),
    {
      numClasses: manifest.classes.length,
      hidden: h.hidden ?? 16,
      window: h.window ?? 12,
      epochs: h.epochs ?? 60,
      ...(h.learningRate !== undefined ? { learningRate: h.learningRate } : {}),
      ensemble: h.ensemble ?? 1,
      seed: 1,
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-replay-'));
  try {
    await writeShippedReplay(dir, trainingSequences(train), manifest.classes.length, h.window ?? 12, 1);
    return { base, replay: readReplay(dir, manifest), seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
