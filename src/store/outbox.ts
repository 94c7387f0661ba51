/* eslint-disable @typescript-eslint/require-await -- SQLite answers synchronously; the methods are async for the interface a PostgreSQL store shares */
import { guard, type Db } from './db.js';

/** One message a sink still has to send. */
export interface OutboxRow {
  /** Global, increasing, never reused: a sink sends its rows in seq order. */
  seq: number;
  sink: string;
  /** The JSON the sink was handed. */
  payload: unknown;
  attempts: number;
  nextAttemptAtMs: number;
  lastError: string | null;
}

/**
 * The `outbox` table: rows are added from the labelling path and removed once their sink has
 * delivered them; what is left survives a restart. Every method returns a promise (see Store).
 */
export interface OutboxRepo {
  /** Adds a row; `payload` is stored as JSON. @returns its seq */
  add(sink: string, payload: unknown, nowMs: number): Promise<number>;
  /** The sink's oldest row, or undefined when it has nothing to send. */
  head(sink: string): Promise<OutboxRow | undefined>;
  /** Removes one row (sent, or given up); removing a row that is gone does nothing. */
  remove(seq: number): Promise<void>;
  /** Records a failed attempt. */
  failed(seq: number, nextAttemptAtMs: number, error: string): Promise<void>;
  count(sink: string): Promise<number>;
  /** Removes the sink's `n` oldest rows (the bound). @returns how many went */
  dropOldest(sink: string, n: number): Promise<number>;
  /** Removes the rows of every sink not in `keep` (sinks no longer configured). @returns how many went */
  removeOtherSinks(keep: readonly string[]): Promise<number>;
  /**
   * Only where several nodes share the outbox (PostgreSQL, see src/store/pg/outbox.ts): takes
   * the sink's head for `leaseMs` when it is due and no node holds it. Delivery uses it in place
   * of `head`, so each row is sent by one node of a fleet.
   */
  claim?(sink: string, nowMs: number, leaseMs: number): Promise<OutboxRow | undefined>;
}

interface Row {
  seq: number;
  sink: string;
  payload: string;
  attempts: number;
  next_attempt_at_ms: number;
  last_error: string | null;
}

export function createOutboxRepo(db: Db, dbPath: string): OutboxRepo {
  const q = guard(dbPath, () => ({
    add: db.prepare<[string, string, number]>('INSERT INTO outbox (sink, payload, next_attempt_at_ms) VALUES (?, ?, ?)'),
    head: db.prepare<[string], Row>('SELECT * FROM outbox WHERE sink = ? ORDER BY seq LIMIT 1'),
    remove: db.prepare<[number]>('DELETE FROM outbox WHERE seq = ?'),
    failed: db.prepare<[number, string, number]>(
      'UPDATE outbox SET attempts = attempts + 1, next_attempt_at_ms = ?, last_error = ? WHERE seq = ?',
    ),
    count: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM outbox WHERE sink = ?'),
    dropOldest: db.prepare<[string, string, number]>(
      'DELETE FROM outbox WHERE sink = ? AND seq IN (SELECT seq FROM outbox WHERE sink = ? ORDER BY seq LIMIT ?)',
    ),
    sinks: db.prepare<[], { sink: string }>('SELECT DISTINCT sink FROM outbox'),
    removeSink: db.prepare<[string]>('DELETE FROM outbox WHERE sink = ?'),
  }));
  return {
    add: async (sink, payload, nowMs) => guard(dbPath, () => Number(q.add.run(sink, JSON.stringify(payload), nowMs).lastInsertRowid)),
    async head(sink) {
      const row = guard(dbPath, () => q.head.get(sink));
      return (
        row && {
          seq: row.seq,
          sink: row.sink,
          payload: JSON.parse(row.payload) as unknown,
          attempts: row.attempts,
          nextAttemptAtMs: row.next_attempt_at_ms,
          lastError: row.last_error,
        }
      );
    },
    remove: async (seq) => void guard(dbPath, () => q.remove.run(seq)),
    failed: async (seq, nextAttemptAtMs, error) => void guard(dbPath, () => q.failed.run(Math.round(nextAttemptAtMs), error, seq)),
    count: async (sink) => guard(dbPath, () => q.count.get(sink)?.n ?? 0),
    dropOldest: async (sink, n) => guard(dbPath, () => q.dropOldest.run(sink, sink, n).changes),
    removeOtherSinks: async (keep) =>
      guard(dbPath, () =>
        db.transaction(() => {
          let removed = 0;
          for (const { sink } of q.sinks.all()) if (!keep.includes(sink)) removed += q.removeSink.run(sink).changes;
          return removed;
        })(),
      ),
  };
}
