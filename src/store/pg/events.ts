/**
 * The events of a PostgreSQL store: {@link EventRepo}'s semantics with the SQLite module's
 * schemas, filters and row mapping. Snapshots stay files under the node's data directory
 * (`layout`), written as the SQLite repo writes them: staged, renamed, then flagged.
 *
 * Ordering caveat: `seq` (the list's order and cursor) is taken from the identity sequence
 * when a row is inserted, not when it commits, so across nodes an event may become visible
 * after one with a higher seq. A page already read does not show it; a fresh list does. An
 * event's insert is one statement, so the window is that statement's commit: left as is, as
 * the list is for people browsing, unlike the outbox, whose order is a contract (see outbox.ts).
 */
import type pg from 'pg';
import type { VigilEvent } from '../../events/types.js';
import { vigilError } from '../../errors.js';
import { parseWith } from '../../validation.js';
import {
  countSchema,
  eventOf,
  FILTERS,
  notActive,
  progressSchema,
  sameStart,
  writeSnapshotFile,
  querySchema,
  reviewSchema,
  snapshotFile,
  startSchema,
  type EventRepo,
  type EventRow,
} from '../events.js';
import { removeFile } from '../files.js';
import { assertCameraId, assertEventId, CAMERA_ID_PATTERN, CLIP_ID_PATTERN, newEventId } from '../ids.js';
import type { Layout } from '../paths.js';
import { pgGuard, transaction, whereOf } from './query.js';

/** The SQLite module's filters, positional; the cursor is a seq (a number) given as text. */
function filtersOf(f: Partial<Record<(typeof FILTERS)[number][0], string | number>>): { where: string; params: unknown[] } {
  return whereOf(FILTERS, { ...f, cursor: f.cursor === undefined ? undefined : Number(f.cursor) });
}

const PROGRESS = 'end_ms = $2, ended_at_ms = $3, peak = $4, mean = $5';

export function createPgEventRepo(pool: pg.Pool, layout: Layout, now: () => number): EventRepo {
  const one = async (sql: string, params: unknown[]): Promise<VigilEvent | undefined> => {
    const { rows } = await pgGuard(() => pool.query<EventRow>(sql, params));
    return rows[0] && eventOf(rows[0]);
  };
  const get = async (id: string): Promise<VigilEvent | undefined> => {
    assertEventId(id);
    return one('SELECT * FROM events WHERE id = $1', [id]);
  };
  const must = async (id: string): Promise<VigilEvent> => {
    const e = await get(id);
    if (!e) throw vigilError('VIGIL_ERR_NOT_FOUND', `event ${id}`);
    return e;
  };
  const progressParams = (id: string, p: unknown, what: string): unknown[] => {
    const x = parseWith(progressSchema, p, what);
    return [id, x.endMs, x.endedAtMs, x.peak, x.mean];
  };

  return {
    async open(start, id = newEventId()) {
      assertEventId(id);
      const s = parseWith(startSchema, start, 'event');
      const row = await one(
        `INSERT INTO events (id, camera_id, model, label, start_ms, end_ms, started_at_ms, ended_at_ms, peak, mean, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'active') ON CONFLICT (id) DO NOTHING RETURNING *`,
        [id, s.cameraId, s.model, s.label, s.startMs, s.endMs, s.startedAtMs, s.endedAtMs, s.peak, s.mean],
      );
      // None returned: the id is stored already (this open's earlier try committed, or another event's).
      return row ?? sameStart((await one('SELECT * FROM events WHERE id = $1', [id]))!, s);
    },

    async progress(id, p) {
      assertEventId(id);
      return one(`UPDATE events SET ${PROGRESS} WHERE id = $1 AND state = 'active' RETURNING *`, progressParams(id, p, 'event progress'));
    },

    async end(id, p) {
      assertEventId(id);
      const e = await one(
        `UPDATE events SET ${PROGRESS}, state = 'ended' WHERE id = $1 AND state = 'active' RETURNING *`,
        progressParams(id, p, 'event end'),
      );
      if (!e) throw notActive(id, (await one('SELECT * FROM events WHERE id = $1', [id])) !== undefined);
      return e;
    },

    async endActive(cameraId) {
      assertCameraId(cameraId);
      // One statement: a row another caller's UPDATE ended first fails the recheck of
      // `state = 'active'` once that one commits, so each event is ended (and returned) once.
      const { rows } = await pgGuard(() =>
        pool.query<EventRow>(
          `WITH ended AS (UPDATE events SET state = 'ended' WHERE camera_id = $1 AND state = 'active' RETURNING *)
           SELECT * FROM ended ORDER BY seq`,
          [cameraId],
        ),
      );
      return rows.map(eventOf);
    },

    async saveSnapshot(id, jpeg) {
      assertEventId(id);
      if (!(await get(id))) return false;
      const to = writeSnapshotFile(layout, id, jpeg);
      const { rowCount } = await pgGuard(() => pool.query('UPDATE events SET snapshot = 1 WHERE id = $1', [id]));
      // Deleted meanwhile: its row went first, so the file is this writer's to remove.
      if (!rowCount) removeFile(to);
      return (rowCount ?? 0) > 0;
    },

    async snapshotPath(id) {
      const e = await must(id);
      if (!e.snapshot) throw vigilError('VIGIL_ERR_NOT_FOUND', `event ${id} has no snapshot (yet)`);
      return snapshotFile(layout, id);
    },

    async linkClip(cameraId, clipId, fromMs, toMs, only) {
      if (!CAMERA_ID_PATTERN.test(cameraId) || !CLIP_ID_PATTERN.test(clipId) || !(fromMs <= toMs)) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'linkClip takes a camera id, a clip id and a span');
      }
      const span = [cameraId, clipId, fromMs, toMs];
      const link = `UPDATE events SET clip_id = $2
        WHERE camera_id = $1 AND clip_id IS NULL AND started_at_ms < $4 AND ended_at_ms >= $3`;
      if (!only) return (await pgGuard(() => pool.query<EventRow>(`${link} RETURNING *`, span))).rows.map(eventOf);
      // Stream times repeat across runs (a looping file starts at 0 each time): the wall-clock
      // span keeps an older run's event with the same start from taking the clip.
      const rows = await transaction(pool, async (client) => {
        const linked: EventRow[] = [];
        for (const { model, label, startMs } of only) {
          const sql = `${link} AND model = $5 AND label = $6 AND start_ms = $7 RETURNING *`;
          linked.push(...(await client.query<EventRow>(sql, [...span, model, label, startMs])).rows);
        }
        return linked;
      });
      return rows.map(eventOf);
    },

    get,

    async list(query = {}) {
      const f = parseWith(querySchema, query, 'event query');
      const { where, params } = filtersOf(f);
      const sql = `SELECT * FROM events ${where} ORDER BY seq DESC LIMIT $${params.length + 1}`;
      const { rows } = await pgGuard(() => pool.query<EventRow>(sql, [...params, f.limit + 1]));
      // One more than asked says whether a next page exists.
      const more = rows.length > f.limit;
      const page = more ? rows.slice(0, f.limit) : rows;
      return { events: page.map(eventOf), next: more ? String(page[page.length - 1].seq) : null };
    },

    async count(query = {}) {
      const { where, params } = filtersOf(parseWith(countSchema, query, 'event query'));
      const { rows } = await pgGuard(() => pool.query<{ n: number }>(`SELECT COUNT(*) AS n FROM events ${where}`, params));
      return rows[0].n;
    },

    async review(id, input) {
      assertEventId(id);
      const r = parseWith(reviewSchema, input, 'review');
      const e = await one('UPDATE events SET review = $2, review_note = $3, review_by = $4, review_at_ms = $5 WHERE id = $1 RETURNING *', [
        id,
        r.state,
        r.note ?? null,
        r.by ?? null,
        now(),
      ]);
      if (!e) throw vigilError('VIGIL_ERR_NOT_FOUND', `event ${id}`);
      return e;
    },

    async prune({ beforeMs = -Infinity, keep = Number.MAX_SAFE_INTEGER }) {
      // In batches, rows before their files as everywhere in the store. One statement per
      // batch, so it is atomic without a transaction; RETURNING lists only the rows this call
      // deleted, so two nodes pruning at once each remove (and report) their own.
      const gone: string[] = [];
      for (;;) {
        const { rows } = await pgGuard(() =>
          pool.query<{ id: string }>(
            `WITH doomed AS (
               DELETE FROM events WHERE seq IN (
                 SELECT seq FROM events WHERE state = 'ended' AND review != 'confirmed'
                 AND (ended_at_ms < $1 OR seq <= (SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET $2))
                 ORDER BY seq LIMIT $3)
               RETURNING id, seq)
             SELECT id FROM doomed ORDER BY seq`,
            [beforeMs, keep, 500],
          ),
        );
        if (rows.length === 0) return gone;
        for (const { id } of rows) removeFile(snapshotFile(layout, id));
        gone.push(...rows.map((r) => r.id));
      }
    },

    async remove(id) {
      assertEventId(id);
      const { rowCount } = await pgGuard(() => pool.query('DELETE FROM events WHERE id = $1', [id]));
      if (!rowCount) return false;
      removeFile(snapshotFile(layout, id));
      return true;
    },
  };
}
