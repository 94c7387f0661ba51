import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
