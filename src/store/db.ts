import Database from 'better-sqlite3';
import { isVigilError, vigilError, type VigilError } from '../errors.js';

export type Db = Database.Database;

/**
 * What each sink (MQTT, a webhook) still has to send, oldest first (src/store/outbox.ts).
 * AUTOINCREMENT so a seq is never reused after its row is sent: order per sink is seq order.
 */
const OUTBOX_MIGRATION = `
  CREATE TABLE outbox (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    sink               TEXT NOT NULL,
    payload            TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    last_error         TEXT
  ) STRICT;
  CREATE INDEX outbox_by_sink ON outbox (sink, seq);
  `;

/**
 * The schema, one step per version, applied in order by `PRAGMA user_version`, each in a
 * transaction with its version bump. Two tables do not need a migration library; append a
 * step to change the schema, never edit a shipped one.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE cameras (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    source     TEXT NOT NULL,
    model      TEXT NOT NULL,
    fps        REAL,
    loop       INTEGER NOT NULL,
    record     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) STRICT;
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
    bytes         INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    started_at_ms REAL,
    duration_ms   REAL,
    timeline      TEXT
  ) STRICT;
  CREATE INDEX clips_by_camera ON clips (camera_id, id);
  CREATE INDEX clips_by_kind ON clips (kind, created_at);
  `,
  OUTBOX_MIGRATION,
  // Events (src/events): seq orders them newest first and is the list's cursor; camera_id has
  // no foreign key, as an event outlives its camera; a clip removed by retention unlinks.
  `
  CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    camera_id     TEXT NOT NULL,
    model         TEXT NOT NULL,
    label         TEXT NOT NULL,
    start_ms      REAL NOT NULL,
    end_ms        REAL NOT NULL,
    started_at_ms REAL NOT NULL,
    ended_at_ms   REAL NOT NULL,
    peak          REAL NOT NULL,
    mean          REAL NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('active', 'ended')),
    snapshot      INTEGER NOT NULL DEFAULT 0,
    clip_id       TEXT REFERENCES clips(id) ON DELETE SET NULL,
    review        TEXT NOT NULL DEFAULT 'unreviewed' CHECK (review IN ('unreviewed', 'confirmed', 'false_alarm')),
    review_note   TEXT,
    review_by     TEXT,
    review_at_ms  REAL
  ) STRICT;
  CREATE INDEX events_by_camera ON events (camera_id, seq);
  CREATE INDEX events_by_start ON events (started_at_ms);
  CREATE INDEX events_by_clip ON events (clip_id);
  `,
  // Several models per camera (one decode feeds them all): models is a JSON list, model stays
  // its first, as recordings label with it.
  `
  ALTER TABLE cameras ADD COLUMN models TEXT NOT NULL DEFAULT '[]';
  UPDATE cameras SET models = json_array(model);
  `,
  // Models adapted to a camera from its reviews (src/store/model-versions.ts): each version's
  // folder under <dataDir>/models/<camera>/, and a stack of which one went live when, so a
  // rollback returns to the one before. An empty stack means the shipped model is live.
  `
  CREATE TABLE model_versions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    camera_id     TEXT NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
    model         TEXT NOT NULL,
    version       TEXT NOT NULL,
    folder        TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    created_at_ms REAL NOT NULL,
    accepted      INTEGER NOT NULL,
    record        TEXT NOT NULL
  ) STRICT;
  CREATE INDEX model_versions_by_camera ON model_versions (camera_id, model, id);
  CREATE TABLE model_live (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    camera_id  TEXT NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
    model      TEXT NOT NULL,
    version_id INTEGER REFERENCES model_versions(id) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX model_live_by_camera ON model_live (camera_id, model, seq);
  `,
  // Which node wrote a clip (a fleet on PostgreSQL shares the clips table; see pg/reconcile.ts):
  // null for a single server's and for clips from before.
  `
  ALTER TABLE clips ADD COLUMN node TEXT;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Turns anything a database or file operation throws into VIGIL_ERR_STORE naming `path`;
 * vigil's own errors pass through unchanged.
 */
export function storeError(path: string, e: unknown): VigilError {
  if (isVigilError(e)) return e;
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  const hint =
    code === 'SQLITE_BUSY'
      ? ' (is another vigil server using this data directory?)'
      : code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
        ? ' (move the file away to start with an empty store)'
        : '';
  return vigilError('VIGIL_ERR_STORE', `${path}: ${message}${hint}`, e);
}

/** Runs `fn`, rethrowing its failures as {@link storeError}s. */
export function guard<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw storeError(path, e);
  }
}

/**
 * Opens (creating if absent) and migrates the database. The connection holds an exclusive
 * lock until closed, so a second server on the same data directory fails here with
 * VIGIL_ERR_STORE instead of reconciling away the first one's files.
 * @throws VIGIL_ERR_STORE for a locked, corrupt or newer-than-this-code database
 */
export function openDatabase(path: string): Db {
  let db: Db | undefined;
  try {
    // A short wait rides out a restart whose old process is still closing; a second
    // server on the same directory fails soon after (see SQLITE_BUSY in storeError).
    db = new Database(path, { timeout: 1000 });
    // EXCLUSIVE before the first access also keeps WAL off shared memory (no -shm file).
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL cannot corrupt the file; a power cut may lose the last commits,
    // which reconcile turns back into a consistent state (see reconcile.ts).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, path);
    return db;
  } catch (e) {
    db?.close();
    throw storeError(path, e);
  }
}

function migrate(db: Db, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw vigilError('VIGIL_ERR_STORE', `${path}: schema version ${version} is newer than this vigil understands (${SCHEMA_VERSION})`);
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
