import { vigilError } from '../errors.js';
import { createRandom, shuffle } from './random.js';

/**
 * Grouped K-fold: whole groups go to one fold, so clips cut from the same source video are
 * never on both sides. Groups are shuffled with the seed, then placed largest first into the
 * fold with the fewest items, which keeps folds close in size.
 *
 * @returns for each item, its fold in [0, k).
 */
export function groupedFolds(groups: readonly string[], k: number, seed: number): number[] {
  const distinct = [...new Set(groups)];
  if (k < 2 || k > distinct.length) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `k=${k} folds for ${distinct.length} groups; need 2 <= k <= groups`);
  }
  const size = new Map<string, number>();
  for (const g of groups) size.set(g, (size.get(g) ?? 0) + 1);
  const order = shuffle(distinct, createRandom(seed)).sort((a, b) => size.get(b)! - size.get(a)!);
  const load = new Array<number>(k).fill(0);
  const foldOf = new Map<string, number>();
  for (const g of order) {
    const f = load.indexOf(Math.min(...load));
    foldOf.set(g, f);
    load[f] += size.get(g)!;
  }
  return groups.map((g) => foldOf.get(g)!);
}
