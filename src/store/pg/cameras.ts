/**
 * The cameras of a PostgreSQL store: {@link CameraRepo}'s validation, errors and results, from
 * the SQLite module's own schema and row mapping, with the SQL in PostgreSQL's words.
 */
import type pg from 'pg';
import { vigilError } from '../../errors.js';
import { fromRow, isObject, parseCamera, type CameraFields, type CameraRecord, type CameraRepo, type CameraRow } from '../cameras.js';
import { assertCameraId, newCameraId } from '../ids.js';
import { pgGuard, transaction } from './query.js';

const COLUMNS = 'id, name, source, model, models, fps, loop, record, created_at, updated_at';

function toParams(c: CameraRecord): unknown[] {
  return [
    c.id,
    c.name,
    c.source,
    c.model,
    JSON.stringify(c.models),
    c.fps,
    c.loop ? 1 : 0,
    JSON.stringify(c.record),
    c.createdAt,
    c.updatedAt,
  ];
}

export function createPgCameraRepo(pool: pg.Pool, now: () => number): CameraRepo {
  return {
    // COLLATE "C": SQLite compares text byte by byte; the database's own collation might not.
    list: () =>
      pgGuard(async () =>
        (await pool.query<CameraRow>('SELECT * FROM cameras ORDER BY created_at COLLATE "C", id COLLATE "C"')).rows.map(fromRow),
      ),

    async get(id) {
      assertCameraId(id);
      const { rows } = await pgGuard(() => pool.query<CameraRow>('SELECT * FROM cameras WHERE id = $1', [id]));
      return rows[0] && fromRow(rows[0]);
    },

    async create(input) {
      if (!isObject(input)) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'camera must be an object');
      const fields = parseCamera({ ...input, id: input.id ?? newCameraId() });
      const at = new Date(now()).toISOString();
      const record: CameraRecord = { ...fields, createdAt: at, updatedAt: at };
      // The primary key decides a race between two nodes creating the same id; SQLite's
      // check-then-insert only works because it has one writer.
      await pgGuard(
        () => pool.query(`INSERT INTO cameras (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, toParams(record)),
        () => vigilError('VIGIL_ERR_CONFLICT', `camera ${record.id} already exists`),
      );
      return record;
    },

    async update(id, patch) {
      assertCameraId(id);
      if (!isObject(patch)) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'camera patch must be an object');
      // A client's JSON as it came: parseCamera checks every field below.
      const changes: Record<string, unknown> = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      if ('id' in changes && changes.id !== id) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `camera id cannot change (${id} to ${String(changes.id)})`);
      }
      return transaction(pool, async (client) => {
        // FOR UPDATE: a concurrent update of the same camera waits, then patches this one's result.
        const { rows } = await client.query<CameraRow>('SELECT * FROM cameras WHERE id = $1 FOR UPDATE', [id]);
        if (!rows[0]) throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${id}`);
        const { createdAt, updatedAt: _, ...stored } = fromRow(rows[0]);
        // One of model/models given replaces both: `model: x` means `models: [x]`.
        const fields: Partial<CameraFields> = { ...stored };
        if ('model' in changes && !('models' in changes)) delete fields.models;
        if ('models' in changes && !('model' in changes)) delete fields.model;
        const next: CameraRecord = { ...parseCamera({ ...fields, ...changes }), createdAt, updatedAt: new Date(now()).toISOString() };
        const [, ...values] = toParams(next).slice(0, 8);
        await client.query(
          'UPDATE cameras SET name = $2, source = $3, model = $4, models = $5, fps = $6, loop = $7, record = $8, updated_at = $9 WHERE id = $1',
          [id, ...values, next.updatedAt],
        );
        return next;
      });
    },

    async remove(id) {
      assertCameraId(id);
      const { rowCount } = await pgGuard(() => pool.query('DELETE FROM cameras WHERE id = $1', [id]));
      return (rowCount ?? 0) > 0;
    },
  };
}
