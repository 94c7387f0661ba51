import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store, type StoreOptions } from '../../src/store/index.js';

/**
 * A fresh data directory per test, and every store opened on it closed and the directory
 * deleted afterwards. Call it inside a `describe`.
 */
export function tempStores(): { dir(): string; open(options?: StoreOptions): Store } {
  let dir = '';
  const opened: Store[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    open(options) {
      const s = openStore(dir, options);
      opened.push(s);
      return s;
    },
  };
}

/** A clock tests move by hand. */
export function manualClock(startMs = Date.UTC(2025, 0, 31, 12)): { now: () => number; advance(ms: number): void } {
  let t = startMs;
  return { now: () => t, advance: (ms) => void (t += ms) };
}
