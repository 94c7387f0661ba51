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

/**
 * Holds out about a fifth of the training items for early stopping, never touching the
 * evaluation fold: fold 0 of a grouped 5-fold split when there are at least 5 groups (the
 * split `vigil train` has always used). With fewer groups (GMDCSA24 has 3 subjects, so a
 * training part of 2) a grouped hold-out would leave too little to train on, so it falls
 * back to a split by clip: that can only make the stopping point optimistic, never the
 * held-out figures. Fewer than 5 items: no hold-out (stopping on training loss).
 */
export function earlyStoppingSplit<T extends { group: string }>(items: readonly T[], seed: number): { train: T[]; val: T[] } {
  const groups = new Set(items.map((i) => i.group)).size;
  if (groups < 5 && items.length < 5) return { train: [...items], val: [] };
  const keys = groups >= 5 ? items.map((i) => i.group) : items.map((_, i) => `#${i}`);
  const folds = groupedFolds(keys, 5, seed);
  return { train: items.filter((_, i) => folds[i] !== 0), val: items.filter((_, i) => folds[i] === 0) };
}
