/**
 * The PostgreSQL store's connection pool. At start, an unreachable server is a coded error at
 * once (VIGIL_ERR_STORE naming PostgreSQL and the URL, password masked), so a misconfigured
 * node says so instead of hanging; once started, a connection lost while idle (a server restart,
 * a failover) is one logged line and the pool opens a fresh one on the next query.
 */
import pg from 'pg';
import { vigilError } from '../../errors.js';
import { log } from '../../log.js';
import { maskUrl } from '../../sinks/options.js';

/**
 * @property [connectTimeoutMs=2000] how long a connection may take before it fails (at start too)
 * @property [max=10] the most connections this node holds open
 * @property [log] where a lost idle connection is reported (default: vigil's log)
 */
export interface PostgresConnectOptions {
  connectTimeoutMs?: number;
  max?: number;
  log?: { warn(msg: string): void };
}

/** The URL as it may be shown: the password masked, in the user info and in a `?password=` (which pg also reads). */
export function maskPostgresUrl(url: string): string {
  const shown = maskUrl(url);
  try {
    const u = new URL(shown);
    if (!u.searchParams.has('password')) return shown;
    u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    return shown;
  }
}

/**
 * BIGINT (int8) comes back from pg as a string by default, since it may exceed 2^53. vigil's
 * BIGINT columns (identity seqs, byte counts, epoch milliseconds) stay far below that, and the
 * repositories share their row mapping with SQLite, which returns numbers: parse them as numbers,
 * for this pool only (pg.types.setTypeParser would change it for every pg user in the process).
 */
const INT8_OID = 20;
function getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === INT8_OID && format !== 'binary') return Number;
  return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
}
const TYPES: pg.CustomTypesConfig = { getTypeParser };

/**
 * What went wrong, in words. A host name with both an IPv4 and an IPv6 address (localhost)
 * fails as an AggregateError whose own message is empty: its attempts say it instead.
 */
function reason(e: unknown): string {
  if (e instanceof AggregateError && !e.message) return e.errors.map(reason).join('; ');
  return e instanceof Error ? e.message : String(e);
}

/**
 * Opens a pool and checks one connection works. The caller owns the pool: `end()` it when done.
 * @throws VIGIL_ERR_CONFIG for a URL that is not postgres:// or postgresql://
 * @throws VIGIL_ERR_STORE when the server cannot be reached or refuses the session
 */
export async function connectPostgres(url: string, options: PostgresConnectOptions = {}): Promise<pg.Pool> {
  const shown = maskPostgresUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw vigilError('VIGIL_ERR_CONFIG', `PostgreSQL URL is not a URL: ${shown}`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw vigilError('VIGIL_ERR_CONFIG', `PostgreSQL URL must start with postgres:// or postgresql://: ${shown}`);
  }
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
    max: options.max ?? 10,
    types: TYPES,
  });
  // Without a listener, an idle client's error (the server restarted under it) is an
  // 'error' event nobody handles, which ends the process. The pool has already dropped it.
  pool.on('error', (e: Error) => (options.log ?? log).warn(`PostgreSQL at ${shown}: idle connection lost: ${e.message}`));
  try {
    await pool.query('SELECT 1');
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw vigilError('VIGIL_ERR_STORE', `cannot reach PostgreSQL at ${shown}: ${reason(e)}`, e);
  }
  return pool;
}
