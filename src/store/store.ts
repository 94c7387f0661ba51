/* eslint-disable @typescript-eslint/require-await -- SQLite answers synchronously; the methods are async for the interface a PostgreSQL store shares */
import { mkdirSync } from 'node:fs';
import { vigilError } from '../errors.js';
import { createCameraRepo, type CameraRepo } from './cameras.js';
import { createClipRepo, type ClipRepo } from './clips.js';
import { guard, openDatabase, storeError, type Db } from './db.js';
import { createEventRepo, type EventRepo } from './events.js';
import { createClipIdGenerator } from './ids.js';
import { createModelVersionRepo, type ModelVersionRepo } from './model-versions.js';
import { createOutboxRepo, type OutboxRepo } from './outbox.js';
import { layoutOf } from './paths.js';
import { reconcile, type ReconcileReport } from './reconcile.js';
import { applyRetention, type RetentionPolicy } from './retention.js';
import { discardStaged, newStagingPath, stageStream, type StageOptions } from './staging.js';

/**
 * The live service's persistent state under one data directory:
 *
 * ```
 * <dataDir>/vigil.db        cameras and clips (SQLite, WAL, held exclusively while open)
 * <dataDir>/clips/<id>.<ext> complete clip videos, one per clip row
 * <dataDir>/snapshots/<eventId>.jpg an event's snapshot, one per event row that has one
 * <dataDir>/models/<camera>/<model>-<version>/ a model adapted to a camera, one per version row
 * <dataDir>/staging/        files being written (uploads, recording segments, snapshots); wiped on open
 * ```
 *
 * Every method that reads or writes the database returns a promise, so a PostgreSQL store
 * (issue 18) can stand behind the same interface. The SQLite store's bodies still run
 * synchronously (better-sqlite3 queries take microseconds, and one connection serialises the
 * writes of the single server process); only where bytes move (stage, adopt) do they wait.
 * `stagingPath`, `discard`, `close` and `models.removeFolders` touch no database and stay
 * synchronous.
 */
export interface Store {
  /** Where the rows live: `sqlite` (`<dataDir>/vigil.db`, one server) or `postgres` (shared by a fleet, see pg/store.ts). */
  readonly kind: StoreKind;
  /** Absolute data directory. */
  readonly dataDir: string;
  readonly cameras: CameraRepo;
  readonly clips: ClipRepo;
  readonly events: EventRepo;
  /** Models adapted to each camera from its reviews, and which one each camera runs. */
  readonly models: ModelVersionRepo;
  /** What each sink still has to send (src/sinks/outbox.ts delivers it). */
  readonly outbox: OutboxRepo;
  /** What the open repaired (see {@link reconcile}). */
  readonly reconciled: ReconcileReport;
  /**
   * Streams `input` to a new file under `<dataDir>/staging`, enforcing `maxBytes` while
   * streaming (the partial file is deleted on any failure). Hand the result to
   * `clips.adopt`, or to {@link Store.discard}. `input` is never destroyed: on failure it is
   * unpiped and left paused for the caller.
   * @throws VIGIL_ERR_TOO_LARGE; VIGIL_ERR_ABORTED; VIGIL_ERR_STORE; VIGIL_ERR_INVALID_ARGUMENT for a bad ext/maxBytes
   */
  stage(input: NodeJS.ReadableStream, options: StageOptions): Promise<{ path: string; bytes: number }>;
  /**
   * A fresh path `<dataDir>/staging/<16 hex>.<ext>` for another writer (ffmpeg recording a
   * segment); nothing is created. A leading dot in `ext` is dropped; `''` gives a bare name.
   */
  stagingPath(ext: string): string;
  /** Deletes a staged file or folder that will not be adopted. @throws VIGIL_ERR_INVALID_ARGUMENT outside staging */
  discard(stagedPath: string): void;
  /**
   * Removes recordings (never uploads) older than `maxAgeMs`, then the oldest until all
   * recordings total at most `maxBytes`; clips being labelled are spared.
   * @returns the removed clip ids, oldest first
   */
  applyRetention(policy: RetentionPolicy): Promise<string[]>;
  /**
   * Closes the database (SQLite: releasing its lock; PostgreSQL: ending the pool once its
   * queries are done). Later calls fail with VIGIL_ERR_STORE; a second close does nothing.
   */
  close(): Promise<void>;
}

export type StoreKind = 'sqlite' | 'postgres';

/**
 * @property [now=Date.now] the clock for createdAt, ids and retention (tests inject one)
 * @property [nodeId=null] stored with each clip this store adopts (`ClipRecord.node`)
 */
export interface StoreOptions {
  now?: () => number;
  nodeId?: string | null;
}

/**
 * Creates the data directory if needed, opens and migrates the database, and reconciles it
 * with the files (see {@link reconcile}).
 * @throws VIGIL_ERR_STORE naming the path when the directory or database cannot be used
 *   (not writable, locked by another server, not a database, newer schema)
 * @example
 * const store = openStore('vigil-data');
 * const cam = await store.cameras.create({ name: 'Hall', source: 'rtsp://10.0.0.5/stream', model: 'fight' });
 * const { path } = await store.stage(req, { maxBytes: 512 * 2 ** 20, ext: 'mp4' });
 * const clip = await store.clips.adopt(path, { kind: 'upload', name: 'hall.mp4' });
 */
export function openStore(dataDir: string, options: StoreOptions = {}): Store {
  if (typeof dataDir !== 'string' || dataDir === '' || dataDir.includes('\0')) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'dataDir must be a non-empty path');
  }
  const now = options.now ?? Date.now;
  const layout = layoutOf(dataDir);
  try {
    mkdirSync(layout.root, { recursive: true });
  } catch (e) {
    throw storeError(layout.root, e);
  }
  const db: Db = openDatabase(layout.db);
  let reconciled: ReconcileReport;
  try {
    reconciled = guard(layout.db, () => reconcile(db, layout));
  } catch (e) {
    db.close();
    throw e;
  }
  const nextClipId = createClipIdGenerator(now);
  const cameras = createCameraRepo(db, layout.db, now);
  const models = createModelVersionRepo(db, layout, now);

  return {
    kind: 'sqlite',
    dataDir: layout.root,
    cameras: {
      ...cameras,
      // The row first (its versions go with it by the foreign key), then their folders.
      async remove(id) {
        const removed = await cameras.remove(id);
        models.removeFolders(id);
        return removed;
      },
    },
    clips: createClipRepo(db, layout, now, nextClipId, options.nodeId ?? null),
    events: createEventRepo(db, layout, now),
    models,
    outbox: createOutboxRepo(db, layout.db),
    reconciled,
    stage: (input, stageOptions) => stageStream(layout, input, stageOptions),
    stagingPath: (ext) => newStagingPath(layout, ext),
    discard: (stagedPath) => discardStaged(layout, stagedPath),
    applyRetention: async (policy) => guard(layout.db, () => applyRetention(db, layout, now, policy)),
    async close() {
      if (db.open) db.close();
    },
  };
}
