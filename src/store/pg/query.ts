/**
 * What the PostgreSQL repositories share: their failures as VIGIL_ERR_STORE naming PostgreSQL
 * (as src/store/db.ts `guard` names the SQLite file), and transactions on one pooled client.
 */
import type pg from 'pg';
import { isVigilError, vigilError, type VigilError } from '../../errors.js';

/** SQLSTATE unique_violation: a duplicate key, which each repo turns into its own error. */
export const UNIQUE_VIOLATION = '23505';

export function sqlState(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** What went wrong, in words: a refused connection to a dual-stack host is an AggregateError without a message of its own. */
function reason(e: unknown): string {
  if (e instanceof AggregateError && !e.message) return e.errors.map(reason).join('; ');
  return e instanceof Error ? e.message : String(e);
}

/** Anything pg throws (a lost connection, a failed statement) as VIGIL_ERR_STORE naming PostgreSQL; vigil's own errors pass. */
export function pgStoreError(e: unknown): VigilError {
  if (isVigilError(e)) return e;
  const state = sqlState(e);
  const detail = state && /^[0-9A-Z]{5}$/.test(state) ? ` (SQLSTATE ${state})` : '';
  return vigilError('VIGIL_ERR_STORE', `PostgreSQL: ${reason(e)}${detail}`, e);
}

/**
 * Runs `fn`, rethrowing its failures as {@link pgStoreError}s; a unique violation becomes
 * `onDuplicate()` when given, the error the SQLite repo gives for the same case.
 */
export async function pgGuard<T>(fn: () => Promise<T>, onDuplicate?: () => VigilError): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (onDuplicate && sqlState(e) === UNIQUE_VIOLATION) throw onDuplicate();
    throw pgStoreError(e);
  }
}

/**
 * Runs `fn` in a transaction on one client of the pool: committed when it resolves, rolled
 * back when it throws (its error rethrown as {@link pgGuard} would). A client that could not
 * roll back is destroyed rather than handed to the next caller mid-transaction.
 */
export function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, onDuplicate?: () => VigilError): Promise<T> {
  return pgGuard(async () => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch((lost: Error) => (broken = lost));
      throw e;
    } finally {
      client.release(broken);
    }
  }, onDuplicate);
}

/**
 * The WHERE clause (or '') and its parameters, `$1` on, for the filters that have a value:
 * a SQLite module's `[key, condition]` list, each condition's `@key` made a positional
 * placeholder (`placeholder` may add to it, a collation say).
 */
export function whereOf<K extends string>(
  filters: readonly (readonly [K, string])[],
  values: Partial<Record<K, unknown>>,
  placeholder: (key: K, n: number) => string = (_, n) => `$${n}`,
): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  for (const [key, condition] of filters) {
    if (values[key] === undefined) continue;
    params.push(values[key]);
    conditions.push(condition.replace(`@${key}`, placeholder(key, params.length)));
  }
  return { where: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', params };
}
