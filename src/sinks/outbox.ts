import { asVigilError, type VigilError } from '../errors.js';
import { log } from '../log.js';
import type { OutboxRepo } from '../store/index.js';

/** Something that sends one outbox payload: an MQTT client, a webhook. */
export interface Sender {
  /** Stable across restarts: the outbox rows are keyed by it. */
  readonly name: string;
  /**
   * Sends one payload; resolves once the far side has it (MQTT PUBACK, an HTTP 2xx). A
   * rejection is retried with backoff, unless it is marked {@link permanent}.
   */
  deliver(payload: unknown): Promise<void>;
}

const PERMANENT = Symbol('vigil.sink.permanent');

/** Marks a failure that retrying cannot fix (a webhook answering 400): the row is dropped and counted. */
export function permanent(e: VigilError): VigilError {
  return Object.assign(e, { [PERMANENT]: true });
}

function isPermanent(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[PERMANENT] === true;
}

export interface DeliveryStats {
  /** Rows waiting, the one being sent included. */
  queued: number;
  /** Rows given up since the server started: pushed out by the bound, or refused for good. */
  dropped: number;
  /** The last failure, cleared by the next success. */
  lastError: VigilError | null;
}

/** One sink's queue: enqueue is an insert, sending runs on its own, in order. */
export interface Delivery {
  /**
   * Adds a payload (an insert: never waits on the sink). Payloads are stored in call order,
   * each insert waiting for the one before. @throws VIGIL_ERR_STORE (rejects)
   */
  enqueue(payload: unknown): Promise<void>;
  /**
   * Retries at once, without waiting out the backoff (the sink says it is back). On a shared
   * outbox the row's own next attempt still holds: it is the fleet's, not this node's.
   */
  kick(): void;
  stats(): DeliveryStats;
  /** Takes no further row; resolves when the one being sent (if any) has settled. */
  stop(): Promise<void>;
}

/**
 * @property [maxRows=10000] rows kept per sink; past it the oldest are dropped, counted and logged
 * @property [minBackoffMs=1000] first retry delay, doubled per failed attempt
 * @property [maxBackoffMs=60000] longest retry delay
 */
export interface DeliveryOptions {
  repo: OutboxRepo;
  sender: Sender;
  maxRows?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  now?: () => number;
  /**
   * A shared outbox only (one with `claim`): how long a row taken for sending is this node's
   * before another may send it [claimMs=30000]. Longer than any sender's timeout (the webhook's
   * is 5 s, MQTT's acknowledgement wait 10 s), so a slow send is not sent twice.
   */
  claimMs?: number;
  /**
   * A shared outbox only: how often a node looks again while the sink has rows it cannot take
   * (held by another node, or not due) [pollMs=1000]. So rows a dead node held, or another
   * node's rows while that node's sink is down, are sent from here.
   */
  pollMs?: number;
}

/**
 * Delivers one sink's outbox rows oldest first, one at a time, so the far side sees them in
 * order; a failure holds the queue (order over throughput) and is retried with exponential
 * backoff. What is left at a stop is sent after the next start.
 *
 * On an outbox several nodes share (a fleet on PostgreSQL), every node runs this for each sink,
 * and each row goes out once: a node sends only the rows it `claim`s, which keeps the sink's
 * order across nodes too (no claim returns a row while an older one is held). The backoff then
 * lives in the row (its next attempt), not in this node, so any node retries it when it is due;
 * `queued` counts the whole fleet's rows for the sink, as read at the end of each round.
 */
export async function createDelivery(o: DeliveryOptions): Promise<Delivery> {
  const { repo, sender } = o;
  const maxRows = o.maxRows ?? 10_000;
  const minBackoffMs = o.minBackoffMs ?? 1000;
  const maxBackoffMs = o.maxBackoffMs ?? 60_000;
  const now = o.now ?? Date.now;
  const claimMs = o.claimMs ?? 30_000;
  const pollMs = o.pollMs ?? 1000;
  // Bound once: the repo's own method, called as one.
  const claim = repo.claim?.bind(repo);
  let queued = await repo.count(sender.name);
  let dropped = 0;
  let lastError: VigilError | null = null;
  let notBefore = 0;
  let timer: NodeJS.Timeout | undefined;
  let pumping: Promise<void> | undefined;
  let stopped = false;
  let again = false;
  // Inserts one after another: a row's seq is its place in the sink's order.
  let adding: Promise<void> = Promise.resolve();
  // Handed to enqueue and not stored yet: counted as queued, so stats() says so at once.
  let inserting = 0;

  const backoff = (attempts: number) => Math.min(maxBackoffMs, minBackoffMs * 2 ** Math.min(30, attempts - 1));

  const drop = (n: number, why: string) => {
    dropped += n;
    log.warn(`sink ${sender.name}: dropped ${n} message(s) (${why}); ${dropped} dropped since start`);
  };

  const later = (ms: number) => {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(wake, ms);
  };

  async function pump(): Promise<void> {
    while (!stopped) {
      const row = claim ? await claim(sender.name, now(), claimMs) : await repo.head(sender.name);
      if (!row) {
        if (claim) {
          // Nothing this node may take now; rows left (held elsewhere, or waiting out a backoff) are looked at again.
          queued = await repo.count(sender.name);
          if (queued > 0) later(pollMs);
        }
        return;
      }
      const wait = notBefore - now();
      if (!claim && wait > 0) {
        later(wait);
        return;
      }
      try {
        await sender.deliver(row.payload);
        await repo.remove(row.seq);
        queued = Math.max(0, queued - 1);
        lastError = null;
      } catch (e) {
        const err = asVigilError(e, 'VIGIL_ERR_SINK');
        lastError = err;
        if (isPermanent(e)) {
          await repo.remove(row.seq);
          queued = Math.max(0, queued - 1);
          drop(1, err.message);
        } else {
          notBefore = now() + backoff(row.attempts + 1);
          await repo.failed(row.seq, notBefore, `${err.code}: ${err.message}`);
          if (claim) {
            // The row says when it is due again. This node looks a poll after that: a node
            // whose sink works gets the first pick, rather than this one winning every race.
            later(notBefore - now() + pollMs);
            return;
          }
        }
      }
    }
  }

  function wake(): void {
    if (stopped) return;
    // A row added while the loop is winding down (it saw none) must not wait for the next one.
    if (pumping) {
      again = true;
      return;
    }
    again = false;
    pumping = pump()
      .catch((e: unknown) => {
        // The store failing (closed, disk full): nothing to retry against; the next enqueue wakes it again.
        lastError = asVigilError(e, 'VIGIL_ERR_STORE');
        log.warn(`sink ${sender.name}: ${lastError.message}`);
      })
      .finally(() => {
        pumping = undefined;
        if (again) wake();
      });
  }

  if (queued > 0) queueMicrotask(wake);

  return {
    enqueue(payload) {
      const at = now();
      inserting += 1;
      const added = adding.then(async () => {
        try {
          await repo.add(sender.name, payload, at);
        } finally {
          inserting -= 1;
        }
        queued += 1;
        if (queued > maxRows) {
          const n = await repo.dropOldest(sender.name, queued - maxRows);
          queued -= n;
          drop(n, `outbox over ${maxRows}`);
        }
        wake();
      });
      adding = added.catch(() => undefined);
      return added;
    },
    kick() {
      notBefore = 0;
      clearTimeout(timer);
      wake();
    },
    stats: () => ({ queued: queued + inserting, dropped, lastError }),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      // Rows still being inserted are kept for the next start: the store must not close under them.
      await adding;
      await pumping;
    },
  };
}
