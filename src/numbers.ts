/**
 * `x` to `decimals` places, the way figures are written to JSON (timelines, live messages,
 * manifests): `round(0.87124, 4)` = 0.8712.
 */
export function round(x: number, decimals: number): number {
  const f = 10 ** decimals;
  // `+ 0` turns -0 into 0 so a round-trip through JSON compares equal.
  return Math.round(x * f) / f + 0;
}

/** Every number in a JSON-able value to 3 decimals, for manifests and reports. */
export function roundDeep<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, (_: string, x: unknown) => (typeof x === 'number' ? round(x, 3) : x))) as T;
}

/** The middle value, the mean of the middle two for an even count; 0 for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The `p`th percentile (0-100) without interpolation: the value at 0-based rank ⌊p/100 · n⌋ of
 * the sorted values, the last one at most; NaN for none.
 */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
