import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { isVigilError, VigilError } from '../../src/errors.js';
import { openDatabase, SCHEMA_VERSION } from '../../src/store/db.js';
import { connectPostgres } from '../../src/store/pg/connect.js';
import { migratePostgres, PG_SCHEMA_VERSION } from '../../src/store/pg/schema.js';
import { rejection } from '../helpers/errors.js';
import { freePort } from '../helpers/mosquitto.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

/** Table → its columns in order, with whether each may hold NULL: what both stores must agree on. */
type Shape = Record<string, { name: string; nullable: boolean }[]>;

/** A fresh SQLite store's shape, read from the database the real openDatabase migrated. */
function sqliteShape(): { tables: Shape; indexes: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-store-'));
  const db = openDatabase(join(dir, 'vigil.db'));
  try {
    const names = (type: string) =>
      (
        db.prepare(`SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' ORDER BY name`).all(type) as {
          name: string;
        }[]
      ).map((r) => r.name);
    const tables: Shape = {};
    for (const table of names('table')) {
      // A STRICT table's PRIMARY KEY is NOT NULL even where table_info says notnull = 0.
      const columns = db.pragma(`table_info(${table})`) as { name: string; notnull: number; pk: number }[];
      tables[table] = columns.map((c) => ({ name: c.name, nullable: c.notnull === 0 && c.pk === 0 }));
    }
    return { tables, indexes: names('index') };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgresShape(pool: pg.Pool): Promise<{ tables: Shape; indexes: string[] }> {
  const { rows } = await pool.query<{ table_name: string; column_name: string; is_nullable: string }>(
    `SELECT table_name, column_name, is_nullable FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name <> 'schema_version' ORDER BY table_name, ordinal_position`,
  );
  const tables: Shape = {};
  for (const r of rows) (tables[r.table_name] ??= []).push({ name: r.column_name, nullable: r.is_nullable === 'YES' });
  // Primary keys and UNIQUE columns have an index in both, named by each database its own way.
  const indexes = await pool.query<{ indexname: string }>(
    `SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key' ORDER BY indexname`,
  );
  return { tables, indexes: indexes.rows.map((r) => r.indexname) };
}

async function versions(pool: pg.Pool): Promise<number[]> {
  return (await pool.query<{ version: number }>('SELECT version FROM schema_version ORDER BY version')).rows.map((r) => r.version);
}

const all = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('store: PostgreSQL schema', () => {
  let server: PostgresServer;
  let pool: pg.Pool;
  const warnings: string[] = [];
  const log = { warn: (msg: string) => void warnings.push(msg) };

  before(async () => {
    server = await startPostgres();
    pool = await connectPostgres(server.url, { log });
  });
  after(async () => {
    await pool?.end();
    await server?.dispose();
  });
  beforeEach(() => pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public'));

  it('migrates an empty database to the tables, columns and indexes the SQLite store has', async () => {
    expect(await migratePostgres(pool)).to.equal(PG_SCHEMA_VERSION);
    expect(await versions(pool)).to.deep.equal(all(PG_SCHEMA_VERSION));
    const sqlite = sqliteShape();
    const postgres = await postgresShape(pool);
    expect(Object.keys(postgres.tables).sort()).to.deep.equal(Object.keys(sqlite.tables).sort());
    for (const [table, columns] of Object.entries(sqlite.tables)) expect(postgres.tables[table], table).to.deep.equal(columns);
    expect(postgres.indexes).to.deep.equal(sqlite.indexes);
    // Step for step, as src/store/pg/schema.ts promises.
    expect(PG_SCHEMA_VERSION).to.equal(SCHEMA_VERSION);
  });

  it('keeps the constraints: checks, foreign keys and their ON DELETE, identity seqs that are never reused', async () => {
    await migratePostgres(pool);
    const now = new Date().toISOString();
    await pool.query(
      `INSERT INTO cameras (id, name, source, model, loop, record, created_at, updated_at) VALUES ('hall', 'Hall', '/x.mp4', 'fight', 0, '{}', $1, $1)`,
      [now],
    );
    expect((await pool.query('SELECT models FROM cameras')).rows[0].models).to.equal('[]');
    const clip = `INSERT INTO clips (id, camera_id, kind, name, status, ext, mime, bytes, created_at)
      VALUES ($1, 'hall', $2, 'c', 'ready', 'mp4', 'video/mp4', $3, $4)`;
    await pool.query(clip, ['c1', 'recording', 2 ** 40, now]);
    expect((await pool.query('SELECT bytes FROM clips')).rows[0].bytes).to.equal(2 ** 40);
    const bad = await pool.query(clip, ['c2', 'stream', 1, now]).catch((e: { code?: string }) => e);
    expect((bad as { code?: string }).code).to.equal('23514'); // check_violation
    const event = `INSERT INTO events (id, camera_id, model, label, start_ms, end_ms, started_at_ms, ended_at_ms, peak, mean, state, clip_id)
      VALUES ($1, 'hall', 'fight', 'fight', 0, 1, 0, 1, 0.9, 0.8, 'ended', 'c1') RETURNING seq`;
    const first = (await pool.query<{ seq: number }>(event, ['e1'])).rows[0].seq;
    await pool.query('DELETE FROM events');
    expect((await pool.query<{ seq: number }>(event, ['e2'])).rows[0].seq).to.equal(first + 1);
    await pool.query('DELETE FROM clips');
    expect((await pool.query('SELECT clip_id, review FROM events')).rows).to.deep.equal([{ clip_id: null, review: 'unreviewed' }]);
    const version = await pool.query<{ id: number }>(
      `INSERT INTO model_versions (camera_id, model, version, folder, created_at, created_at_ms, accepted, record)
        VALUES ('hall', 'fight', '1.1.0', '/m', $1, 1, 1, '{}') RETURNING id`,
      [now],
    );
    await pool.query(`INSERT INTO model_live (camera_id, model, version_id) VALUES ('hall', 'fight', $1)`, [version.rows[0].id]);
    await pool.query('DELETE FROM cameras');
    expect((await pool.query('SELECT count(*)::int AS n FROM model_live')).rows[0].n).to.equal(0);
    expect((await pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n).to.equal(1); // an event outlives its camera
  });

  it('migrating again is a no-op that keeps the data', async () => {
    await migratePostgres(pool);
    await pool.query(`INSERT INTO outbox (sink, payload, next_attempt_at_ms) VALUES ('mqtt', '{}', $1)`, [Date.now()]);
    expect(await migratePostgres(pool)).to.equal(0);
    expect(await versions(pool)).to.deep.equal(all(PG_SCHEMA_VERSION));
    expect((await pool.query('SELECT sink FROM outbox')).rows).to.deep.equal([{ sink: 'mqtt' }]);
  });

  it('two nodes migrating at once both succeed, and each step is applied once', async () => {
    const a = await connectPostgres(server.url, { log });
    const b = await connectPostgres(server.url.replace(/^postgres:/, 'postgresql:'), { log });
    try {
      const applied = await Promise.all([migratePostgres(a), migratePostgres(b), migratePostgres(a), migratePostgres(b)]);
      expect(applied.reduce((x, y) => x + y, 0)).to.equal(PG_SCHEMA_VERSION);
      expect(await versions(pool)).to.deep.equal(all(PG_SCHEMA_VERSION));
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('refuses a database whose schema is newer than this code, with VIGIL_ERR_STORE saying to upgrade', async () => {
    await migratePostgres(pool);
    await pool.query('INSERT INTO schema_version (version) VALUES ($1)', [PG_SCHEMA_VERSION + 2]);
    const e = await rejection(migratePostgres(pool));
    expect(isVigilError(e, 'VIGIL_ERR_STORE')).to.equal(true);
    expect(e.message).to.equal(
      `storage failed: PostgreSQL database vigil has schema version ${PG_SCHEMA_VERSION + 2}, ` +
        `newer than this vigil understands (${PG_SCHEMA_VERSION}): upgrade vigil`,
    );
    // Refused before touching anything, and the pool's connection is still usable.
    expect(await versions(pool)).to.deep.equal([...all(PG_SCHEMA_VERSION), PG_SCHEMA_VERSION + 2]);
  });

  it('keeps the data across a server restart, and a pool whose idle connections died logs it and carries on', async () => {
    await migratePostgres(pool);
    await pool.query(`INSERT INTO outbox (sink, payload, next_attempt_at_ms) VALUES ('webhook', '{"a":1}', 5)`);
    warnings.length = 0;
    await server.stop();
    await server.start();
    expect(warnings.length).to.be.above(0);
    expect(warnings[0]).to.match(
      new RegExp(`^PostgreSQL at postgres://postgres@127\\.0\\.0\\.1:${server.port}/vigil: idle connection lost: `),
    );
    expect((await pool.query('SELECT sink, payload, next_attempt_at_ms FROM outbox')).rows).to.deep.equal([
      { sink: 'webhook', payload: '{"a":1}', next_attempt_at_ms: 5 },
    ]);
    expect(await migratePostgres(pool)).to.equal(0);
  });
});

describe('store: PostgreSQL connection', () => {
  it('rejects at once with VIGIL_ERR_STORE naming PostgreSQL and the URL (no password) when the server is unreachable', async () => {
    const port = await freePort();
    const started = Date.now();
    const e = await rejection(connectPostgres(`postgres://vigil:s3cret@127.0.0.1:${port}/vigil?password=s3cret`));
    expect(Date.now() - started).to.be.below(3000);
    expect(e).to.be.instanceOf(VigilError);
    expect(isVigilError(e, 'VIGIL_ERR_STORE')).to.equal(true);
    expect(e.message).to.match(
      new RegExp(
        `^storage failed: cannot reach PostgreSQL at postgres://vigil:\\*\\*\\*@127\\.0\\.0\\.1:${port}/vigil\\?password=\\*\\*\\*: .*ECONNREFUSED`,
      ),
    );
    expect(e.message).to.not.contain('s3cret');
  });

  it('refuses a URL that is not postgres:// or postgresql:// with VIGIL_ERR_CONFIG', async () => {
    const e = await rejection(connectPostgres('mysql://root:pw@127.0.0.1:3306/vigil'));
    expect(isVigilError(e, 'VIGIL_ERR_CONFIG')).to.equal(true);
    expect(e.message).to.equal(
      'bad configuration: PostgreSQL URL must start with postgres:// or postgresql://: mysql://root:***@127.0.0.1:3306/vigil',
    );
    expect(isVigilError(await rejection(connectPostgres('not a url')), 'VIGIL_ERR_CONFIG')).to.equal(true);
  });
});
