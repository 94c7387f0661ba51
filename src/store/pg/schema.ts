/**
 * The PostgreSQL store's schema: the SQLite schema of src/store/db.ts, step for step (step N
 * here is step N there), so the two can be read side by side and a test compares their tables
 * and columns. Types are mapped, not redesigned:
 * - REAL → DOUBLE PRECISION (SQLite's REAL is 8 bytes; PostgreSQL's REAL is 4);
 * - integers that count bytes or epoch milliseconds → BIGINT; small counts and 0/1 flags stay
 *   INTEGER, which the repositories read as the numbers SQLite gives them;
 * - INTEGER PRIMARY KEY AUTOINCREMENT → BIGINT identity: like AUTOINCREMENT, a sequence never
 *   hands out a number twice, even after its row is deleted;
 * - timestamps the repositories keep as ISO text, and JSON documents (a timeline, a model
 *   list, an adaptation record), stay TEXT: the repositories already serialise them, nothing
 *   queries inside them, and TEXT gives back exactly what was written (JSONB would reorder
 *   keys and reformat numbers).
 * Append a step to change the schema, never edit a shipped one, and keep SQLite in step.
 */
import type pg from 'pg';
import { isVigilError, vigilError } from '../../errors.js';

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE cameras (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    source     TEXT NOT NULL,
    model      TEXT NOT NULL,
    fps        DOUBLE PRECISION,
    loop       INTEGER NOT NULL,
    record     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE clips (
    id            TEXT PRIMARY KEY,
    camera_id     TEXT REFERENCES cameras(id) ON DELETE SET NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('upload', 'recording')),
    name          TEXT NOT NULL,
    model         TEXT,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    error_code    TEXT,
    error_message TEXT,
    ext           TEXT NOT NULL,
    mime          TEXT NOT NULL,
    bytes         BIGINT NOT NULL,
    created_at    TEXT NOT NULL,
    started_at_ms DOUBLE PRECISION,
    duration_ms   DOUBLE PRECISION,
    timeline      TEXT
  );
  CREATE INDEX clips_by_camera ON clips (camera_id, id);
  CREATE INDEX clips_by_kind ON clips (kind, created_at);
  `,
  `
  CREATE TABLE outbox (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sink               TEXT NOT NULL,
    payload            TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT NOT NULL,
    last_error         TEXT
  );
  CREATE INDEX outbox_by_sink ON outbox (sink, seq);
  `,
  `
  CREATE TABLE events (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    camera_id     TEXT NOT NULL,
    model         TEXT NOT NULL,
    label         TEXT NOT NULL,
    start_ms      DOUBLE PRECISION NOT NULL,
    end_ms        DOUBLE PRECISION NOT NULL,
    started_at_ms DOUBLE PRECISION NOT NULL,
    ended_at_ms   DOUBLE PRECISION NOT NULL,
    peak          DOUBLE PRECISION NOT NULL,
    mean          DOUBLE PRECISION NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('active', 'ended')),
    snapshot      INTEGER NOT NULL DEFAULT 0,
    clip_id       TEXT REFERENCES clips(id) ON DELETE SET NULL,
    review        TEXT NOT NULL DEFAULT 'unreviewed' CHECK (review IN ('unreviewed', 'confirmed', 'false_alarm')),
    review_note   TEXT,
    review_by     TEXT,
    review_at_ms  DOUBLE PRECISION
  );
  CREATE INDEX events_by_camera ON events (camera_id, seq);
  CREATE INDEX events_by_start ON events (started_at_ms);
  CREATE INDEX events_by_clip ON events (clip_id);
  `,
  `
  ALTER TABLE cameras ADD COLUMN models TEXT NOT NULL DEFAULT '[]';
  UPDATE cameras SET models = json_build_array(model)::text;
  `,
  `
  CREATE TABLE model_versions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id     TEXT NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
    model         TEXT NOT NULL,
    version       TEXT NOT NULL,
    folder        TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    created_at_ms DOUBLE PRECISION NOT NULL,
    accepted      INTEGER NOT NULL,
    record        TEXT NOT NULL
  );
  CREATE INDEX model_versions_by_camera ON model_versions (camera_id, model, id);
  CREATE TABLE model_live (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id  TEXT NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
    model      TEXT NOT NULL,
    version_id BIGINT REFERENCES model_versions(id) ON DELETE CASCADE
  );
  CREATE INDEX model_live_by_camera ON model_live (camera_id, model, seq);
  `,
  `
  ALTER TABLE clips ADD COLUMN node TEXT;
  `,
];

/** The schema version this code writes and understands. */
export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The key of the transaction-level advisory lock that serialises migrators: two nodes starting
 * at once would otherwise both see version N and both apply step N+1. Any constant works as
 * long as nothing else in the database uses it; this one is "vigi" in ASCII.
 */
const MIGRATION_LOCK = 0x76696769;

/** One row per applied step: the current version is the highest, and a step applied twice would break the key. */
const SCHEMA_VERSION_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
  )`;

/**
 * Brings the database to {@link PG_SCHEMA_VERSION}, one transaction per step with its version
 * row, each under the migration lock and re-reading the version under it, so concurrent
 * migrators apply every step once and all succeed. Returns how many steps this call applied.
 * @throws VIGIL_ERR_STORE when the database's schema is newer than this code, or a step fails
 */
export async function migratePostgres(pool: pg.Pool): Promise<number> {
  const client = await pool.connect().catch((e: unknown) => {
    throw vigilError(
      'VIGIL_ERR_STORE',
      `PostgreSQL: cannot connect to migrate the schema: ${e instanceof Error ? e.message : String(e)}`,
      e,
    );
  });
  let applied = 0;
  let broken: Error | undefined;
  try {
    for (;;) {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        await client.query(SCHEMA_VERSION_TABLE);
        const { rows } = await client.query<{ version: number; db: string }>(
          'SELECT coalesce(max(version), 0) AS version, current_database() AS db FROM schema_version',
        );
        const { version, db } = rows[0];
        if (version > PG_SCHEMA_VERSION) {
          throw vigilError(
            'VIGIL_ERR_STORE',
            `PostgreSQL database ${db} has schema version ${version}, newer than this vigil understands (${PG_SCHEMA_VERSION}): upgrade vigil`,
          );
        }
        if (version === PG_SCHEMA_VERSION) {
          await client.query('COMMIT');
          return applied;
        }
        await client.query(MIGRATIONS[version]).catch((e: unknown) => {
          const why = e instanceof Error ? e.message : String(e);
          throw vigilError('VIGIL_ERR_STORE', `PostgreSQL database ${db}: migrating to schema version ${version + 1} failed: ${why}`, e);
        });
        await client.query('INSERT INTO schema_version (version) VALUES ($1)', [version + 1]);
        await client.query('COMMIT');
        applied++;
      } catch (e) {
        await client.query('ROLLBACK').catch((lost: Error) => (broken = lost));
        throw e;
      }
    }
  } catch (e) {
    if (isVigilError(e)) throw e;
    throw vigilError('VIGIL_ERR_STORE', `PostgreSQL: migrating the schema failed: ${e instanceof Error ? e.message : String(e)}`, e);
  } finally {
    // A connection that could not even roll back is not handed to the next user.
    client.release(broken);
  }
}
