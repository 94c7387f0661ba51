/**
 * The store of a fleet: the rows in one PostgreSQL database every node shares, the files under
 * a data directory every node mounts at the same path (a shared volume):
 *
 * ```
 * <dataDir>/clips/, snapshots/, models/   shared, as in a single server's data directory
 * <dataDir>/staging/<nodeId>/             this node's files being written; wiped when it opens
 * ```
 *
 * The same {@link Store} as SQLite's, with what a shared store changes: the open repairs only
 * what is this node's (see reconcile.ts here), retention takes turns across nodes (retention.ts
 * here), and active events are not ended at open (the camera's next taker ends them).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { vigilError } from '../../errors.js';
import { storeError } from '../db.js';
import { createClipIdGenerator } from '../ids.js';
import { layoutOf, resolveInside, type Layout } from '../paths.js';
import { discardStaged, newStagingPath, stageStream } from '../staging.js';
import type { Store } from '../store.js';
import { createPgCameraRepo } from './cameras.js';
import { createPgClipRepo } from './clips.js';
import { connectPostgres, type PostgresConnectOptions } from './connect.js';
import { createPgEventRepo } from './events.js';
import { createPgModelVersionRepo } from './model-versions.js';
import { createPgOutboxRepo } from './outbox.js';
import { reconcilePg } from './reconcile.js';
import { applyPgRetention } from './retention.js';
import { migratePostgres } from './schema.js';

/** A node id as a fleet's config takes it (fleetSchema.nodeId), so it is also one safe folder name. */
const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/**
 * @property url `postgres://user:password@host:port/database`
 * @property dataDir the shared volume's mount (the same path on every node)
 * @property nodeId this node's id: names its staging folder and is stored with its clips
 * @property [now=Date.now] the clock for createdAt, ids and retention (tests inject one)
 * @property [connect] pool settings (see connectPostgres)
 */
export interface PgStoreOptions {
  url: string;
  dataDir: string;
  nodeId: string;
  now?: () => number;
  connect?: PostgresConnectOptions;
}

/** A node's view of the shared data directory: everything shared, staging its own. */
export function nodeLayout(dataDir: string, nodeId: string): Layout {
  const shared = layoutOf(dataDir);
  return { ...shared, staging: resolveInside(join(shared.root, 'staging'), nodeId) };
}

/**
 * Connects (VIGIL_ERR_STORE naming PostgreSQL, the password masked, when unreachable), migrates
 * the schema (concurrent migrators take turns), and repairs what this node left behind.
 * @throws VIGIL_ERR_INVALID_ARGUMENT for a bad dataDir or nodeId; VIGIL_ERR_CONFIG for a URL
 *   that is not postgres://; VIGIL_ERR_STORE when the server, the schema or the directory cannot be used
 * @example
 * const store = await openPgStore({ url: 'postgres://vigil@db/vigil', dataDir: '/mnt/vigil', nodeId: 'node-a' });
 * await store.cameras.create({ id: 'hall', source: 'rtsp://10.0.0.5/stream', model: 'fight' });
 * await store.close();
 */
export async function openPgStore(options: PgStoreOptions): Promise<Store> {
  const { dataDir, nodeId } = options;
  if (typeof dataDir !== 'string' || dataDir === '' || dataDir.includes('\0')) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'dataDir must be a non-empty path');
  }
  if (typeof nodeId !== 'string' || !NODE_ID_PATTERN.test(nodeId)) {
    throw vigilError(
      'VIGIL_ERR_INVALID_ARGUMENT',
      'nodeId must be letters, digits, . _ : - (at most 100), starting with a letter or digit',
    );
  }
  const now = options.now ?? Date.now;
  const layout = nodeLayout(dataDir, nodeId);
  try {
    mkdirSync(layout.staging, { recursive: true });
  } catch (e) {
    throw storeError(layout.root, e);
  }
  const pool = await connectPostgres(options.url, options.connect);
  let reconciled;
  try {
    await migratePostgres(pool);
    reconciled = await reconcilePg(pool, layout, nodeId, now()).catch((e: unknown) => {
      throw storeError(layout.root, e);
    });
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  const cameras = createPgCameraRepo(pool, now);
  const models = createPgModelVersionRepo(pool, layout, now);
  let closing: Promise<void> | undefined;

  return {
    kind: 'postgres',
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
    clips: createPgClipRepo(pool, layout, now, createClipIdGenerator(now), nodeId),
    events: createPgEventRepo(pool, layout, now),
    models,
    outbox: createPgOutboxRepo(pool),
    reconciled,
    stage: (input, stageOptions) => stageStream(layout, input, stageOptions),
    stagingPath: (ext) => newStagingPath(layout, ext),
    discard: (stagedPath) => discardStaged(layout, stagedPath),
    applyRetention: (policy) => applyPgRetention(pool, layout, now, policy),
    close() {
      // pool.end() waits for checked-out clients; a second call would reject.
      closing ??= pool.end().catch(() => undefined);
      return closing;
    },
  };
}
