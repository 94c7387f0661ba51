import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture } from './clips.js';

/** The shared datasets folder beside the repository (read-only; CI has it, a user's clone does not). */
export const SHARED_DATASETS = fileURLToPath(new URL('../../../shared/datasets', import.meta.url));

export const sharedDataset = (name: string): string => join(SHARED_DATASETS, name);

/**
 * Skips the calling test (or, from a `before` hook, its suite) with a message when `dir` is
 * absent: the project's own tests must pass on a clone without the shared datasets.
 */
export function needsDataset(ctx: Mocha.Context, dir: string): void {
  if (existsSync(dir)) return;
  console.log(`      skipped: ${dir} is absent (the shared datasets are not beside this clone)`);
  ctx.skip();
}

/** GMDCSA24's six CSVs, copied unchanged (16 KB, attribution in fixtures/README.md): every clip's annotations, no video. */
export const GMDCSA24_CSVS = fileURLToPath(new URL('../../fixtures/gmdcsa24', import.meta.url));

/** The fixture clips cut from GMDCSA24, by their names in the dataset's clips/ (see fixtures/README.md). */
export const GMDCSA24_FIXTURE_CLIPS: Readonly<Record<string, string>> = Object.freeze({
  'Subject_3__Fall__19.mp4': 'gmdcsa24-subject3-fall19.mp4', // scaled down and re-encoded, same timing
  'Subject_4__Fall__02.mp4': 'gmdcsa24-subject4-fall02.mp4', // unchanged
});

/**
 * Makes `dir` the part of GMDCSA24 every clone has: the real CSVs in it and the fixture clips
 * in `clips/` under their dataset names, so the importer runs without the shared datasets.
 * @returns `dir`
 */
export function gmdcsa24FromFixtures(dir: string): string {
  mkdirSync(join(dir, 'clips'), { recursive: true });
  for (const csv of readdirSync(GMDCSA24_CSVS).filter((f) => f.endsWith('.csv'))) copyFileSync(join(GMDCSA24_CSVS, csv), join(dir, csv));
  for (const [name, file] of Object.entries(GMDCSA24_FIXTURE_CLIPS)) copyFileSync(fixture(file), join(dir, 'clips', name));
  return dir;
}
