/**
 * Retention for a PostgreSQL store: src/store/retention.ts's rule (its {@link expiredRecordings}),
 * over the fleet's one clips table. Nodes run it on their own timers, so two may run it at once:
 * a transaction-level advisory lock makes them take turns, and the second one, reading after the
 * first committed, finds the rows already gone. Each file is unlinked by the node whose DELETE
 * returned its row, after the commit (rows before files, as everywhere in the store).
 */
import type pg from 'pg';
import { log } from '../../log.js';
import { clipFile } from '../clips.js';
import { removeFile } from '../files.js';
import type { Layout } from '../paths.js';
import { checkRetentionPolicy, expiredRecordings, type RetentionPolicy, type RetentionRow } from '../retention.js';
import { transaction } from './query.js';

/** The advisory lock retention takes ("rtnt" in ASCII); nothing else in the database uses it. */
const RETENTION_LOCK = 0x72746e74;

export async function applyPgRetention(pool: pg.Pool, layout: Layout, now: () => number, policy: RetentionPolicy): Promise<string[]> {
  const checked = checkRetentionPolicy(policy);
  const removed = await transaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [RETENTION_LOCK]);
    // COLLATE "C": the order SQLite gives (byte by byte), whatever the database's collation.
    const { rows } = await client.query<RetentionRow>(
      `SELECT id, ext, bytes, created_at, status FROM clips WHERE kind = 'recording'
       ORDER BY created_at COLLATE "C", id COLLATE "C"`,
    );
    const gone = expiredRecordings(rows, now(), checked);
    if (gone.length === 0) return [];
    // RETURNING: only what this statement deleted (a clip removed meanwhile by hand is not listed twice).
    const deleted = await client.query<{ id: string }>('DELETE FROM clips WHERE id = ANY($1::text[]) RETURNING id', [
      gone.map((r) => r.id),
    ]);
    const ids = new Set(deleted.rows.map((r) => r.id));
    return gone.filter((r) => ids.has(r.id));
  });
  for (const r of removed) removeFile(clipFile(layout, r.id, r.ext));
  if (removed.length > 0) log.info(`store: retention removed ${removed.length} recording(s)`);
  return removed.map((r) => r.id);
}
