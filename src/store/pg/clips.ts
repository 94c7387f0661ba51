/**
 * The clips of a PostgreSQL store: {@link ClipRepo}'s semantics with the SQLite module's
 * schemas, filters and row mapping. Videos stay files under the node's data directory
 * (`layout`); as with SQLite, a file is renamed into place inside the transaction that inserts
 * its row, so a failed commit puts it back and a crash leaves at worst a file without a row.
 */
import { renameSync } from 'node:fs';
import { extname } from 'node:path';
import type pg from 'pg';
import { vigilError } from '../../errors.js';
import type { TimelineJson } from '../../timeline/format.js';
import { parseWith } from '../../validation.js';
import {
  adoptSchema,
  CLIP_STATUSES,
  clipFile,
  extraSchema,
  FILTERS,
  flush,
  MIME_BY_EXT,
  querySchema,
  SUMMARY_COLUMNS,
  summaryOf,
  type ClipRecord,
  type ClipRepo,
  type ClipRow,
} from '../clips.js';
import { storeError } from '../db.js';
import { fsyncDir, removeFile } from '../files.js';
import { assertClipId, assertExt, quote } from '../ids.js';
import type { Layout } from '../paths.js';
import { stagedPathInside } from '../staging.js';
import { pgGuard, transaction, whereOf } from './query.js';

function recordOf(row: ClipRow): ClipRecord {
  return { ...summaryOf(row), timeline: row.timeline ? (JSON.parse(row.timeline) as TimelineJson) : null };
}

/** @param [node=null] the node id each adopted clip is stored with */
export function createPgClipRepo(
  pool: pg.Pool,
  layout: Layout,
  now: () => number,
  nextId: () => string,
  node: string | null = null,
): ClipRepo {
  const get = async (id: string): Promise<ClipRecord | undefined> => {
    assertClipId(id);
    const { rows } = await pgGuard(() => pool.query<ClipRow>('SELECT * FROM clips WHERE id = $1', [id]));
    return rows[0] && recordOf(rows[0]);
  };

  return {
    async adopt(stagedPath, meta) {
      const from = stagedPathInside(layout, stagedPath);
      const ext = extname(from).slice(1);
      assertExt(ext);
      const m = parseWith(adoptSchema, meta, 'clip');
      const bytes = await flush(from);
      const id = nextId();
      const to = clipFile(layout, id, ext);
      let moved = false;
      try {
        return await transaction(pool, async (client) => {
          // FOR KEY SHARE: the camera cannot be deleted before this commits (its row would
          // otherwise fail the foreign key with a less helpful error).
          if (m.cameraId !== null) {
            const { rows } = await client.query('SELECT id FROM cameras WHERE id = $1 FOR KEY SHARE', [m.cameraId]);
            if (rows.length === 0) throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${m.cameraId}`);
          }
          const { rows } = await client.query<ClipRow>(
            `INSERT INTO clips (id, camera_id, kind, name, model, status, error_code, error_message, ext, mime, bytes,
               created_at, started_at_ms, duration_ms, timeline, node)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING *`,
            [
              id,
              m.cameraId,
              m.kind,
              m.name,
              m.model,
              m.status,
              m.error?.code ?? null,
              m.error?.message ?? null,
              ext,
              m.mime ?? MIME_BY_EXT[ext] ?? 'application/octet-stream',
              bytes,
              new Date(now()).toISOString(),
              m.startedAtMs,
              m.durationMs,
              m.timeline === null ? null : JSON.stringify(m.timeline),
              node,
            ],
          );
          try {
            renameSync(from, to);
            moved = true;
            fsyncDir(layout.clips);
          } catch (e) {
            throw storeError(to, e);
          }
          return recordOf(rows[0]);
        });
      } catch (e) {
        // The commit failed after the rename: put the file back so the caller still owns it.
        if (moved) {
          try {
            renameSync(to, from);
          } catch {
            removeFile(to);
          }
        }
        throw e;
      }
    },

    async list(query = {}) {
      const f = parseWith(querySchema, query, 'clip query');
      // Ids start with their creation time, so id order is creation order (see ids.ts), compared
      // byte by byte as SQLite does, whatever the database's collation.
      const { where, params } = whereOf(FILTERS, f, (key, n) => (key === 'before' ? `$${n} COLLATE "C"` : `$${n}`));
      const sql = `SELECT ${SUMMARY_COLUMNS} FROM clips ${where} ORDER BY id COLLATE "C" DESC LIMIT $${params.length + 1}`;
      const { rows } = await pgGuard(() => pool.query<ClipRow>(sql, [...params, f.limit]));
      return rows.map(summaryOf);
    },

    get,

    async videoPath(id) {
      assertClipId(id);
      const { rows } = await pgGuard(() => pool.query<{ ext: string }>('SELECT ext FROM clips WHERE id = $1', [id]));
      if (!rows[0]) throw vigilError('VIGIL_ERR_NOT_FOUND', `clip ${id}`);
      return clipFile(layout, id, rows[0].ext);
    },

    async setStatus(id, status, extra = {}) {
      assertClipId(id);
      if (!(CLIP_STATUSES as readonly unknown[]).includes(status)) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `clip status must be one of ${CLIP_STATUSES.join(', ')}, got ${quote(status)}`);
      }
      const x = parseWith(extraSchema, extra, 'clip status');
      if ((status === 'failed') !== (x.error !== undefined)) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'clip status failed needs an error, and only failed takes one');
      }
      // One statement: an absent timeline or duration keeps the stored one (the SQLite repo
      // reads the row first, in a transaction, to the same effect).
      const { rows } = await pgGuard(() =>
        pool.query<ClipRow>(
          `UPDATE clips SET status = $2, error_code = $3, error_message = $4,
             timeline = CASE WHEN $5 THEN $6 ELSE timeline END, duration_ms = CASE WHEN $7 THEN $8 ELSE duration_ms END
           WHERE id = $1 RETURNING *`,
          [
            id,
            status,
            x.error?.code ?? null,
            x.error?.message ?? null,
            x.timeline !== undefined,
            x.timeline == null ? null : JSON.stringify(x.timeline),
            x.durationMs !== undefined,
            x.durationMs ?? null,
          ],
        ),
      );
      if (!rows[0]) throw vigilError('VIGIL_ERR_NOT_FOUND', `clip ${id}`);
      return recordOf(rows[0]);
    },

    async remove(id) {
      assertClipId(id);
      const { rows } = await pgGuard(() => pool.query<{ ext: string }>('DELETE FROM clips WHERE id = $1 RETURNING ext', [id]));
      if (!rows[0]) return false;
      removeFile(clipFile(layout, id, rows[0].ext));
      return true;
    },
  };
}
