/* eslint-disable @typescript-eslint/require-await -- SQLite answers synchronously; the methods are async for the interface a PostgreSQL store shares */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { basename, dirname, relative } from 'node:path';
import { vigilError } from '../errors.js';
import type { AdaptationRecord } from '../model/folder/adaptation-record.js';
import { guard, storeError, type Db } from './db.js';
import { fsyncDir } from './files.js';
import { assertCameraId, MODEL_NAME_PATTERN, quote } from './ids.js';
import { resolveInside, type Layout } from './paths.js';
import { discardStaged } from './staging.js';

/** A model adapted to one camera from its reviews, as stored. */
export interface ModelVersion {
  /** The store's id of this version (manifest versions may repeat: two adaptations from the same base). */
  id: number;
  cameraId: string;
  /** The shipped model it descends from (its manifest name). */
  model: string;
  /** The manifest's version, e.g. 1.1.0. */
  version: string;
  /** Absolute folder: `<dataDir>/models/<camera>/<model>-<version>[-n]`. */
  folder: string;
  /** ISO 8601, UTC. */
  createdAt: string;
  createdAtMs: number;
  /** Whether it passed the not-worse rule (see src/train/adapt.ts); a refused one is kept, never made live by a job. */
  accepted: boolean;
  record: AdaptationRecord;
  /** Whether the camera runs it now. */
  live: boolean;
}

export interface ModelVersionInput {
  cameraId: string;
  model: string;
  version: string;
  accepted: boolean;
  record: AdaptationRecord;
}

export interface ModelVersionRepo {
  /** The versions of a camera's model (of every model without `model`), oldest first. */
  list(cameraId: string, model?: string): Promise<ModelVersion[]>;
  get(id: number): Promise<ModelVersion | undefined>;
  /** The live version of (camera, model); undefined when the shipped model is live. */
  live(cameraId: string, model: string): Promise<ModelVersion | undefined>;
  /** The folder the camera runs for `model`; undefined = the shipped model's. */
  liveFolder(cameraId: string, model: string): Promise<string | undefined>;
  /**
   * Moves a model folder written in staging into `<dataDir>/models/<camera>/` and stores the
   * version (not live). @throws VIGIL_ERR_NOT_FOUND for no such camera; VIGIL_ERR_STORE
   */
  add(stagedFolder: string, input: ModelVersionInput): Promise<ModelVersion>;
  /**
   * Makes a version live for its camera and model (`null`: the shipped model). A no-op when
   * it already is. @throws VIGIL_ERR_NOT_FOUND for a version of another camera or model
   */
  setLive(cameraId: string, model: string, versionId: number | null): Promise<ModelVersion | undefined>;
  /**
   * Makes live again whatever was live before the current one (the shipped model when
   * nothing was). @returns the new live version, undefined for the shipped model
   * @throws VIGIL_ERR_CONFLICT when the shipped model is live already
   */
  rollback(cameraId: string, model: string): Promise<ModelVersion | undefined>;
  /** When the newest version of (camera, model) was made (epoch ms), 0 when none. */
  lastAdaptedAtMs(cameraId: string, model: string): Promise<number>;
  /** Deletes a camera's model folders (its rows go with the camera's row). Synchronous: it touches no database. */
  removeFolders(cameraId: string): void;
}

export interface VersionRow {
  id: number;
  camera_id: string;
  model: string;
  version: string;
  folder: string;
  created_at: string;
  created_at_ms: number;
  accepted: number;
  record: string;
}

export const VERSION_PATTERN = /^[0-9]{1,6}\.[0-9]{1,6}\.[0-9]{1,6}$/;

export function assertModel(model: unknown): asserts model is string {
  if (typeof model !== 'string' || !MODEL_NAME_PATTERN.test(model)) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `model must be a model name, got ${quote(model)}`);
  }
}

export function createModelVersionRepo(db: Db, layout: Layout, now: () => number): ModelVersionRepo {
  const dbPath = layout.db;
  const q = guard(dbPath, () => ({
    list: db.prepare<[string], VersionRow>('SELECT * FROM model_versions WHERE camera_id = ? ORDER BY id'),
    listOf: db.prepare<[string, string], VersionRow>('SELECT * FROM model_versions WHERE camera_id = ? AND model = ? ORDER BY id'),
    get: db.prepare<[number], VersionRow>('SELECT * FROM model_versions WHERE id = ?'),
    camera: db.prepare<[string], { id: string }>('SELECT id FROM cameras WHERE id = ?'),
    folderTaken: db.prepare<[string], { id: number }>('SELECT id FROM model_versions WHERE folder = ?'),
    insert: db.prepare(
      `INSERT INTO model_versions (camera_id, model, version, folder, created_at, created_at_ms, accepted, record)
       VALUES (@cameraId, @model, @version, @folder, @createdAt, @createdAtMs, @accepted, @record)`,
    ),
    top: db.prepare<[string, string], { seq: number; version_id: number | null }>(
      'SELECT seq, version_id FROM model_live WHERE camera_id = ? AND model = ? ORDER BY seq DESC LIMIT 1',
    ),
    push: db.prepare<[string, string, number | null]>('INSERT INTO model_live (camera_id, model, version_id) VALUES (?, ?, ?)'),
    pop: db.prepare<[number]>('DELETE FROM model_live WHERE seq = ?'),
    last: db.prepare<[string, string], { at: number | null }>(
      'SELECT MAX(created_at_ms) AS at FROM model_versions WHERE camera_id = ? AND model = ?',
    ),
  }));

  const liveId = (cameraId: string, model: string): number | null => guard(dbPath, () => q.top.get(cameraId, model)?.version_id ?? null);

  function fromRow(r: VersionRow, live = liveId(r.camera_id, r.model)): ModelVersion {
    return {
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
      live: live === r.id,
    };
  }

  const get = (id: number): ModelVersion | undefined => {
    const row = guard(dbPath, () => q.get.get(id));
    return row && fromRow(row);
  };

  const live = (cameraId: string, model: string): ModelVersion | undefined => {
    assertCameraId(cameraId);
    assertModel(model);
    const id = liveId(cameraId, model);
    return id === null ? undefined : get(id);
  };

  /** `<model>-<version>`, or with `-2`, `-3`… when an earlier adaptation from the same base took it. */
  function freeFolder(cameraId: string, model: string, version: string): string {
    const dir = resolveInside(layout.models, cameraId);
    for (let n = 1; ; n++) {
      const name = n === 1 ? `${model}-${version}` : `${model}-${version}-${n}`;
      const full = resolveInside(dir, name);
      if (!existsSync(full) && !q.folderTaken.get(relative(layout.root, full))) return full;
    }
  }

  return {
    async list(cameraId, model) {
      assertCameraId(cameraId);
      if (model !== undefined) assertModel(model);
      const rows = guard(dbPath, () => (model === undefined ? q.list.all(cameraId) : q.listOf.all(cameraId, model)));
      return rows.map((r) => fromRow(r));
    },
    get: async (id) => get(id),
    live: async (cameraId, model) => live(cameraId, model),
    liveFolder: async (cameraId, model) => live(cameraId, model)?.folder,
    async add(stagedFolder, input) {
      assertCameraId(input.cameraId);
      assertModel(input.model);
      if (!VERSION_PATTERN.test(input.version)) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `version ${quote(input.version)}`);
      if (dirname(stagedFolder) !== layout.staging || !existsSync(stagedFolder)) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${basename(stagedFolder)} is not a folder in staging`);
      }
      if (!guard(dbPath, () => q.camera.get(input.cameraId))) {
        discardStaged(layout, stagedFolder);
        throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${input.cameraId}`);
      }
      const to = freeFolder(input.cameraId, input.model, input.version);
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
      const { lastInsertRowid } = guard(dbPath, () =>
        q.insert.run({
          ...input,
          folder: relative(layout.root, to),
          createdAt: new Date(at).toISOString(),
          createdAtMs: at,
          accepted: input.accepted ? 1 : 0,
          record: JSON.stringify(input.record),
        }),
      );
      return get(Number(lastInsertRowid)) as ModelVersion;
    },
    async setLive(cameraId, model, versionId) {
      assertCameraId(cameraId);
      assertModel(model);
      return guard(dbPath, () =>
        db.transaction(() => {
          if (versionId !== null) {
            const v = q.get.get(versionId);
            if (!v || v.camera_id !== cameraId || v.model !== model) {
              throw vigilError('VIGIL_ERR_NOT_FOUND', `version ${versionId} of ${model} on camera ${cameraId}`);
            }
          } else if (!q.camera.get(cameraId)) throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${cameraId}`);
          if (liveId(cameraId, model) !== versionId) q.push.run(cameraId, model, versionId);
          return versionId === null ? undefined : get(versionId);
        })(),
      );
    },
    async rollback(cameraId, model) {
      assertCameraId(cameraId);
      assertModel(model);
      return guard(dbPath, () =>
        db.transaction(() => {
          const top = q.top.get(cameraId, model);
          if (!top || top.version_id === null) {
            throw vigilError('VIGIL_ERR_CONFLICT', `camera ${cameraId} runs the shipped ${model} already: nothing to roll back`);
          }
          q.pop.run(top.seq);
          return live(cameraId, model);
        })(),
      );
    },
    async lastAdaptedAtMs(cameraId, model) {
      return guard(dbPath, () => q.last.get(cameraId, model)?.at ?? 0);
    },
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
