/**
 * The outbox of a PostgreSQL store: {@link OutboxRepo}'s results, plus what a fleet needs when
 * more than one node may deliver the same sink: {@link PgOutboxRepo.claim}.
 *
 * Ordering. A sink sends its rows in seq order, and `head`/`claim` trust that no row with a
 * lower seq can still appear. An identity seq is handed out when a row is inserted, not when it
 * commits: two nodes adding to one sink could commit seq 8 before seq 7, and a deliverer that
 * saw 8 as the head would send it before 7. SQLite, with one writer, never has that gap. So
 * `add` takes a per-sink transaction-level advisory lock before inserting and holds it to its
 * commit: adds to one sink are serialised, each seq is drawn after the previous add committed,
 * and what a reader sees of a sink is always a prefix of its seq order. Adds to different
 * sinks do not wait for each other.
 */
import type pg from 'pg';
import type { OutboxRepo, OutboxRow } from '../outbox.js';
import { pgGuard, transaction } from './query.js';

export interface PgOutboxRepo extends OutboxRepo {
  /**
   * Takes the sink's oldest row for delivery when it is due (`nextAttemptAtMs <= nowMs`) and no
   * other node holds it, leasing it until `nowMs + leaseMs`: until then no claim (by any
   * node) returns it, and none returns a later row of the sink either, which keeps the sink in
   * order. Follow with `remove` (sent) or `failed` (which sets its next attempt); a node that
   * dies holding it lets the lease run out, and the row is sent again (at least once, as after a
   * crash with SQLite).
   * @returns the row with its lease end as `nextAttemptAtMs`; undefined when the sink has
   *   nothing due, or its head is held by another node
   */
  claim(sink: string, nowMs: number, leaseMs: number): Promise<OutboxRow | undefined>;
}

interface Row {
  seq: number;
  sink: string;
  payload: string;
  attempts: number;
  next_attempt_at_ms: number;
  last_error: string | null;
}

// The SQLite module maps its rows inline in `head`; these few lines are copied rather than
// exported from it, to leave that file alone while it is being made async.
function rowOf(row: Row): OutboxRow {
  return {
    seq: row.seq,
    sink: row.sink,
    payload: JSON.parse(row.payload) as unknown,
    attempts: row.attempts,
    nextAttemptAtMs: row.next_attempt_at_ms,
    lastError: row.last_error,
  };
}

/** The advisory-lock class of outbox adds (the two-key form: the migration lock uses the one-key form). */
const ADD_LOCK_CLASS = 0x6f757478; // "outx"

export function createPgOutboxRepo(pool: pg.Pool): PgOutboxRepo {
  return {
    add: (sink, payload, nowMs) =>
      transaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ADD_LOCK_CLASS, sink]);
        const { rows } = await client.query<{ seq: number }>(
          'INSERT INTO outbox (sink, payload, next_attempt_at_ms) VALUES ($1, $2, $3) RETURNING seq',
          [sink, JSON.stringify(payload), Math.round(nowMs)],
        );
        return rows[0].seq;
      }),

    async head(sink) {
      const { rows } = await pgGuard(() => pool.query<Row>('SELECT * FROM outbox WHERE sink = $1 ORDER BY seq LIMIT 1', [sink]));
      return rows[0] && rowOf(rows[0]);
    },

    async claim(sink, nowMs, leaseMs) {
      // The head by seq first, then its lock: `ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED`
      // would skip a head another node is claiming and hand out the row after it. SKIP LOCKED
      // makes that other node's claim an immediate "nothing" instead of a wait; once it has
      // committed, the lease is in the row, and the recheck of `next_attempt_at_ms <= $2` on
      // the locked row's new version leaves it out. One statement, so no transaction is needed.
      const { rows } = await pgGuard(() =>
        pool.query<Row>(
          `UPDATE outbox SET next_attempt_at_ms = $3
           WHERE seq = (
             SELECT seq FROM outbox
             WHERE seq = (SELECT min(seq) FROM outbox WHERE sink = $1) AND next_attempt_at_ms <= $2
             FOR UPDATE SKIP LOCKED)
           RETURNING *`,
          [sink, Math.round(nowMs), Math.round(nowMs + leaseMs)],
        ),
      );
      return rows[0] && rowOf(rows[0]);
    },

    remove: async (seq) => void (await pgGuard(() => pool.query('DELETE FROM outbox WHERE seq = $1', [seq]))),

    failed: async (seq, nextAttemptAtMs, error) =>
      void (await pgGuard(() =>
        pool.query('UPDATE outbox SET attempts = attempts + 1, next_attempt_at_ms = $2, last_error = $3 WHERE seq = $1', [
          seq,
          Math.round(nextAttemptAtMs),
          error,
        ]),
      )),

    async count(sink) {
      const { rows } = await pgGuard(() => pool.query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox WHERE sink = $1', [sink]));
      return rows[0].n;
    },

    async dropOldest(sink, n) {
      // SQLite reads a negative LIMIT as none; PostgreSQL refuses one, and reads NULL as none.
      const { rowCount } = await pgGuard(() =>
        pool.query('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE sink = $1 ORDER BY seq LIMIT $2)', [
          sink,
          n < 0 ? null : n,
        ]),
      );
      return rowCount ?? 0;
    },

    // One statement: atomic, as SQLite's transaction over the sinks is.
    async removeOtherSinks(keep) {
      const { rowCount } = await pgGuard(() => pool.query('DELETE FROM outbox WHERE sink <> ALL($1::text[])', [[...keep]]));
      return rowCount ?? 0;
    },
  };
}
