/**
 * The store's repo tests, once per backend: SQLite (a fresh data directory per test) and
 * PostgreSQL (one real server per file, from test/helpers/postgres.ts, a fresh schema and data
 * directory per test). PostgreSQL is not skipped when missing: its tests fail, as they must in CI.
 * @example
 * for (const backend of storeBackends()) describe(`store cameras (${backend.name})`, () => {
 *   const stores = backend.stores();
 *   it('...', async () => { const store = await stores.open(); ... });
 * });
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPgStore, openStore, type Store, type StoreKind } from '../../src/store/index.js';
import { startPostgres, type PostgresServer } from './postgres.js';

/** @property [now] the store's clock @property [nodeId='node-a' on PostgreSQL, null on SQLite] */
export interface BackendStoreOptions {
  now?: () => number;
  nodeId?: string;
}

export interface BackendStores {
  /** The data directory of the current test. */
  dir(): string;
  /** Where a store opened with `nodeId` stages its files. */
  stagingDir(nodeId?: string): string;
  /** Opens a store on the current test's data directory (and database); closed after the test. */
  open(options?: BackendStoreOptions): Promise<Store>;
  /** The current test's database URL (PostgreSQL only). */
  url(): string;
}

export interface StoreBackend {
  readonly name: StoreKind;
  /** Call inside a `describe`: its hooks give each test a fresh store. */
  stores(): BackendStores;
}

const DEFAULT_NODE = 'node-a';

function sqlite(): StoreBackend {
  return {
    name: 'sqlite',
    stores() {
      const dirs = tempDirs();
      return {
        dir: () => dirs.dir(),
        stagingDir: () => join(dirs.dir(), 'staging'),
        // A rejection, as openPgStore fails, rather than a throw.
        open: (o = {}) => Promise.resolve().then(() => dirs.track(openStore(dirs.dir(), { now: o.now, nodeId: o.nodeId ?? null }))),
        url: () => {
          throw new Error('a SQLite store has no URL');
        },
      };
    },
  };
}

function postgres(): StoreBackend {
  return {
    name: 'postgres',
    stores() {
      let server: PostgresServer | undefined;
      let admin: pg.Pool | undefined;
      const dirs = tempDirs();
      before(async () => {
        server = await startPostgres();
        admin = new pg.Pool({ connectionString: server.url, max: 1 });
      });
      after(async () => {
        await admin?.end();
        await server?.dispose();
      });
      // Each test on an empty schema; the first open migrates it.
      beforeEach(async () => void (await admin!.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public')));
      return {
        dir: () => dirs.dir(),
        stagingDir: (nodeId = DEFAULT_NODE) => join(dirs.dir(), 'staging', nodeId),
        open: async (o = {}) =>
          dirs.track(await openPgStore({ url: server!.url, dataDir: dirs.dir(), nodeId: o.nodeId ?? DEFAULT_NODE, now: o.now })),
        url: () => server!.url,
      };
    },
  };
}

/** A fresh data directory per test; every store opened on it is closed, and the directory deleted, after it. */
function tempDirs(): { dir(): string; track(s: Store): Store } {
  let dir = '';
  const opened: Store[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    track: (s) => (opened.push(s), s),
  };
}

/** Both backends, SQLite first. */
export function storeBackends(): StoreBackend[] {
  return [sqlite(), postgres()];
}
