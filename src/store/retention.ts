import { vigilError } from '../errors.js';
import { log } from '../log.js';
import { clipFile } from './clips.js';
import type { Db } from './db.js';
import { removeFile } from './files.js';
import type { Layout } from './paths.js';

/**
 * @property maxAgeMs recordings stored longer ago than this go
 * @property maxBytes then the oldest recordings go until all recordings together fit
 */
export interface RetentionPolicy {
  maxAgeMs?: number;
  maxBytes?: number;
}

/**
 * Deletes recordings (never uploads: a user put those there on purpose) by age, then by
 * total size, oldest first. Clips being labelled (`processing`) are skipped so a worker does
 * not lose its file mid-run; they still count towards the size. Rows go in one transaction
 * before their files, as everywhere in the store.
 * @returns the removed clip ids, oldest first
 */
export function applyRetention(db: Db, layout: Layout, now: () => number, policy: RetentionPolicy): string[] {
  const { maxAgeMs, maxBytes } = policy ?? {};
  if (maxAgeMs !== undefined && !(typeof maxAgeMs === 'number' && maxAgeMs >= 0 && maxAgeMs <= 8.64e15)) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `retention maxAgeMs must be a number >= 0, got ${String(maxAgeMs)}`);
  }
  if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `retention maxBytes must be an integer >= 0, got ${String(maxBytes)}`);
  }
  const removed = db.transaction(() => {
    const rows = db
      .prepare<[], { id: string; ext: string; bytes: number; created_at: string; status: string }>(
        "SELECT id, ext, bytes, created_at, status FROM clips WHERE kind = 'recording' ORDER BY created_at, id",
      )
      .all();
    const cutoff = maxAgeMs === undefined ? undefined : new Date(now() - maxAgeMs).toISOString();
    let total = rows.reduce((sum, r) => sum + r.bytes, 0);
    const gone: { id: string; ext: string }[] = [];
    for (const r of rows) {
      if (r.status === 'processing') continue;
      const tooOld = cutoff !== undefined && r.created_at < cutoff;
      const tooBig = maxBytes !== undefined && total > maxBytes;
      if (!tooOld && !tooBig) continue;
      gone.push(r);
      total -= r.bytes;
    }
    const remove = db.prepare<[string]>('DELETE FROM clips WHERE id = ?');
    for (const r of gone) remove.run(r.id);
    return gone;
  })();
  for (const r of removed) removeFile(clipFile(layout, r.id, r.ext));
  if (removed.length > 0) log.info(`store: retention removed ${removed.length} recording(s)`);
  return removed.map((r) => r.id);
}
