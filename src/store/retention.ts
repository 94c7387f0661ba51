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

/** A recording as retention weighs it. */
export interface RetentionRow {
  id: string;
  ext: string;
  bytes: number;
  created_at: string;
  status: string;
}

/** @throws VIGIL_ERR_INVALID_ARGUMENT for a bound that is not a number >= 0 */
export function checkRetentionPolicy(policy: RetentionPolicy): RetentionPolicy {
  const { maxAgeMs, maxBytes } = policy ?? {};
  if (maxAgeMs !== undefined && !(typeof maxAgeMs === 'number' && maxAgeMs >= 0 && maxAgeMs <= 8.64e15)) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `retention maxAgeMs must be a number >= 0, got ${String(maxAgeMs)}`);
  }
  if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `retention maxBytes must be an integer >= 0, got ${String(maxBytes)}`);
  }
  return { maxAgeMs, maxBytes };
}

/**
 * Which of `rows` (every recording, oldest first) go: by age, then by total size, oldest first.
 * Clips being labelled (`processing`) are skipped so a worker does not lose its file mid-run;
 * they still count towards the size. Shared by the SQLite and PostgreSQL stores.
 */
export function expiredRecordings<R extends RetentionRow>(rows: readonly R[], nowMs: number, policy: RetentionPolicy): R[] {
  const { maxAgeMs, maxBytes } = policy;
  const cutoff = maxAgeMs === undefined ? undefined : new Date(nowMs - maxAgeMs).toISOString();
  let total = rows.reduce((sum, r) => sum + r.bytes, 0);
  const gone: R[] = [];
  for (const r of rows) {
    if (r.status === 'processing') continue;
    const tooOld = cutoff !== undefined && r.created_at < cutoff;
    const tooBig = maxBytes !== undefined && total > maxBytes;
    if (!tooOld && !tooBig) continue;
    gone.push(r);
    total -= r.bytes;
  }
  return gone;
}

/**
 * Deletes recordings (never uploads: a user put those there on purpose) by age, then by
 * total size, oldest first (see {@link expiredRecordings}). Rows go in one transaction
 * before their files, as everywhere in the store.
 * @returns the removed clip ids, oldest first
 */
export function applyRetention(db: Db, layout: Layout, now: () => number, policy: RetentionPolicy): string[] {
  const checked = checkRetentionPolicy(policy);
  const removed = db.transaction(() => {
    const rows = db
      .prepare<[], RetentionRow>("SELECT id, ext, bytes, created_at, status FROM clips WHERE kind = 'recording' ORDER BY created_at, id")
      .all();
    const gone = expiredRecordings(rows, now(), checked);
    const remove = db.prepare<[string]>('DELETE FROM clips WHERE id = ?');
    for (const r of gone) remove.run(r.id);
    return gone;
  })();
  for (const r of removed) removeFile(clipFile(layout, r.id, r.ext));
  if (removed.length > 0) log.info(`store: retention removed ${removed.length} recording(s)`);
  return removed.map((r) => r.id);
}
