/**
 * The adapted models of a PostgreSQL store: {@link ModelVersionRepo}'s semantics with the
 * SQLite module's checks. Folders stay under the node's data directory (`layout`), renamed into
 * place before their row as with SQLite. Changes to a camera's live stack lock the camera's
 * row, so two nodes setting or rolling back the same camera take turns instead of both reading
 * the same top of the stack.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, relative } from 'node:path';
import type pg from 'pg';
import { vigilError } from '../../errors.js';
import type { AdaptationRecord } from '../../model/folder/adaptation-record.js';
import { storeError } from '../db.js';
import { fsyncDir } from '../files.js';
import { assertCameraId, quote } from '../ids.js';
import { assertModel, VERSION_PATTERN, type ModelVersion, type ModelVersionRepo, type VersionRow } from '../model-versions.js';
import { resolveInside, type Layout } from '../paths.js';
import { discardStaged } from '../staging.js';
import { pgGuard, transaction } from './query.js';

/** A version row with the id on top of its camera's live stack for its model, read in the same statement. */
type LiveRow = VersionRow & { live_id: number | null };

const SELECT_VERSIONS = `SELECT v.*, (SELECT l.version_id FROM model_live l WHERE l.camera_id = v.camera_id AND l.model = v.model
  ORDER BY l.seq DESC LIMIT 1) AS live_id FROM model_versions v`;

/** The live stack's top for (camera, model): `version_id` null is the shipped model. */
const TOP = 'SELECT seq, version_id FROM model_live WHERE camera_id = $1 AND model = $2 ORDER BY seq DESC LIMIT 1';

/** Locks the camera's row for the transaction (FOR NO KEY UPDATE leaves clip inserts' KEY SHARE alone); no row: no camera. */
const LOCK_CAMERA = 'SELECT id FROM cameras WHERE id = $1 FOR NO KEY UPDATE';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export function createPgModelVersionRepo(pool: pg.Pool, layout: Layout, now: () => number): ModelVersionRepo {
  // The SQLite module maps rows in a closure over its statements; this is the same mapping.
  const versionOf = (r: LiveRow): ModelVersion => ({
    id: r.id,
    cameraId: r.camera_id,
    model: r.model,
    version: r.version,
    // Stored relative, so a data folder that moves keeps its models.
    folder: resolveInside(layout.root, r.folder),
    createdAt: r.created_at,
    createdAtMs: r.created_at_ms,
    accepted: r.accepted === 1,
    record: JSON.parse(r.record) as AdaptationRecord,
    live: r.live_id === r.id,
  });

  const getOn = async (db: Queryable, id: number): Promise<ModelVersion | undefined> => {
    // SQLite finds no row for an id that is not an integer; PostgreSQL would refuse the parameter.
    if (!Number.isSafeInteger(id)) return undefined;
    const { rows } = await db.query<LiveRow>(`${SELECT_VERSIONS} WHERE v.id = $1`, [id]);
    return rows[0] && versionOf(rows[0]);
  };
  const get = (id: number) => pgGuard(() => getOn(pool, id));

  const liveOn = async (db: Queryable, cameraId: string, model: string): Promise<ModelVersion | undefined> => {
    const { rows } = await db.query<{ version_id: number | null }>(TOP, [cameraId, model]);
    const id = rows[0]?.version_id ?? null;
    return id === null ? undefined : getOn(db, id);
  };
  const live = (cameraId: string, model: string): Promise<ModelVersion | undefined> => {
    assertCameraId(cameraId);
    assertModel(model);
    return pgGuard(() => liveOn(pool, cameraId, model));
  };

  /** `<model>-<version>`, or with `-2`, `-3`… when an earlier adaptation from the same base took it. */
  async function freeFolder(cameraId: string, model: string, version: string): Promise<string> {
    const dir = resolveInside(layout.models, cameraId);
    for (let n = 1; ; n++) {
      const full = resolveInside(dir, n === 1 ? `${model}-${version}` : `${model}-${version}-${n}`);
      if (existsSync(full)) continue;
      const { rows } = await pgGuard(() => pool.query('SELECT id FROM model_versions WHERE folder = $1', [relative(layout.root, full)]));
      if (rows.length === 0) return full;
    }
  }

  return {
    async list(cameraId, model) {
      assertCameraId(cameraId);
      if (model !== undefined) assertModel(model);
      const { rows } = await pgGuard(() =>
        model === undefined
          ? pool.query<LiveRow>(`${SELECT_VERSIONS} WHERE v.camera_id = $1 ORDER BY v.id`, [cameraId])
          : pool.query<LiveRow>(`${SELECT_VERSIONS} WHERE v.camera_id = $1 AND v.model = $2 ORDER BY v.id`, [cameraId, model]),
      );
      return rows.map(versionOf);
    },

    get,
    live,
    liveFolder: async (cameraId, model) => (await live(cameraId, model))?.folder,

    async add(stagedFolder, input) {
      assertCameraId(input.cameraId);
      assertModel(input.model);
      if (!VERSION_PATTERN.test(input.version)) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `version ${quote(input.version)}`);
      if (dirname(stagedFolder) !== layout.staging || !existsSync(stagedFolder)) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${basename(stagedFolder)} is not a folder in staging`);
      }
      const { rows: cameras } = await pgGuard(() => pool.query('SELECT id FROM cameras WHERE id = $1', [input.cameraId]));
      if (cameras.length === 0) {
        discardStaged(layout, stagedFolder);
        throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${input.cameraId}`);
      }
      const to = await freeFolder(input.cameraId, input.model, input.version);
      try {
        mkdirSync(dirname(to), { recursive: true });
        renameSync(stagedFolder, to);
        fsyncDir(dirname(to));
      } catch (e) {
        discardStaged(layout, stagedFolder);
        throw storeError(to, e);
      }
      const at = now();
      // Renamed before the row, as clips are: a crash between them leaves a folder reconcile deletes.
      const { rows } = await pgGuard(() =>
        pool.query<{ id: number }>(
          `INSERT INTO model_versions (camera_id, model, version, folder, created_at, created_at_ms, accepted, record)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
          [
            input.cameraId,
            input.model,
            input.version,
            relative(layout.root, to),
            new Date(at).toISOString(),
            at,
            input.accepted ? 1 : 0,
            JSON.stringify(input.record),
          ],
        ),
      );
      return (await get(rows[0].id)) as ModelVersion;
    },

    async setLive(cameraId, model, versionId) {
      assertCameraId(cameraId);
      assertModel(model);
      return transaction(pool, async (client) => {
        const { rows: camera } = await client.query(LOCK_CAMERA, [cameraId]);
        if (versionId !== null) {
          const v = await getOn(client, versionId);
          if (!v || v.cameraId !== cameraId || v.model !== model) {
            throw vigilError('VIGIL_ERR_NOT_FOUND', `version ${versionId} of ${model} on camera ${cameraId}`);
          }
        } else if (camera.length === 0) throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${cameraId}`);
        const { rows: top } = await client.query<{ version_id: number | null }>(TOP, [cameraId, model]);
        if ((top[0]?.version_id ?? null) !== versionId) {
          await client.query('INSERT INTO model_live (camera_id, model, version_id) VALUES ($1, $2, $3)', [cameraId, model, versionId]);
        }
        return versionId === null ? undefined : getOn(client, versionId);
      });
    },

    async rollback(cameraId, model) {
      assertCameraId(cameraId);
      assertModel(model);
      return transaction(pool, async (client) => {
        await client.query(LOCK_CAMERA, [cameraId]);
        const { rows } = await client.query<{ seq: number; version_id: number | null }>(TOP, [cameraId, model]);
        if (!rows[0] || rows[0].version_id === null) {
          throw vigilError('VIGIL_ERR_CONFLICT', `camera ${cameraId} runs the shipped ${model} already: nothing to roll back`);
        }
        await client.query('DELETE FROM model_live WHERE seq = $1', [rows[0].seq]);
        return liveOn(client, cameraId, model);
      });
    },

    async lastAdaptedAtMs(cameraId, model) {
      const { rows } = await pgGuard(() =>
        pool.query<{ at: number | null }>('SELECT MAX(created_at_ms) AS at FROM model_versions WHERE camera_id = $1 AND model = $2', [
          cameraId,
          model,
        ]),
      );
      return rows[0]?.at ?? 0;
    },

    // Files only: synchronous, as in the SQLite repo.
    removeFolders(cameraId) {
      assertCameraId(cameraId);
      try {
        rmSync(resolveInside(layout.models, cameraId), { recursive: true, force: true });
      } catch (e) {
        throw storeError(layout.models, e);
      }
    },
  };
}
