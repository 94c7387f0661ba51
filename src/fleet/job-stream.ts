/**
 * The fleet's shared upload queue: one Redis stream (`<prefix>:jobs`) read by the consumer
 * group `workers`, so any worker takes the next clip and each entry goes to one of them.
 *
 * An entry lives until its job is done: XREADGROUP hands it to a worker (it is then pending,
 * owned by that worker), the worker runs it, then XACK and XDEL remove it. The stream therefore
 * holds only jobs not done yet, and needs no trimming. A worker keeps its running entry fresh
 * (XCLAIM JUSTID to itself every stall bound / 3) so a long clip is not mistaken for a stalled
 * one; a worker that dies stops doing so, and after the stall bound another worker's XAUTOCLAIM
 * takes the entry over and labels the clip again. An entry handed out more than `maxDeliveries`
 * times is poison (every worker that took it died or lost Redis mid-way): it is acked and the
 * job abandoned, rather than taken up forever.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { log as defaultLog } from '../log.js';

export const GROUP = 'workers';

/** One stream entry as a job. `deliveries`: how many times Redis has handed it out, this time included. */
export interface StreamJob {
  id: string;
  clipId: string;
  model: string;
  deliveries: number;
}

/** Why a running job's signal fired: this node closes, or another worker took the entry over. */
export type StopReason = 'close' | 'lost';

export interface JobHandlers {
  /**
   * Runs a job. `done` (labelled, failed, or nothing to do) acks and deletes the entry;
   * `cancelled` (after the signal fired) hands it back to the group at once; a throw leaves it
   * pending, taken up again after the stall bound (and counted as a delivery).
   */
  run(job: StreamJob, signal: AbortSignal): Promise<'done' | 'cancelled'>;
  /** A poison job (delivered more than maxDeliveries times): called once, then the entry is acked. */
  abandon(job: StreamJob): Promise<void>;
}

/**
 * @property redis the node's command connection (XADD, XACK, XAUTOCLAIM, ...)
 * @property [reader] a connection for the blocking XREADGROUP alone (a blocked connection
 *   answers nothing else); none: this node only adds (an API node)
 * @property consumer this node's name in the group (its node id)
 * @property [prefix=vigil] key prefix
 * @property [handlers] what the consumer runs; needed with a reader
 * @property [stallMs=30000] an entry whose worker has not touched it for this long is taken over
 * @property [maxDeliveries=3] the most times a job runs; one handed out again after that is abandoned
 * @property [blockMs=1000] one XREADGROUP's BLOCK; below the reader's command timeout (2 s by default)
 */
export interface JobStreamOptions {
  redis: Redis;
  reader?: Redis;
  consumer: string;
  prefix?: string;
  handlers?: JobHandlers;
  stallMs?: number;
  maxDeliveries?: number;
  blockMs?: number;
  log?: { warn(msg: string): void };
}

export interface JobStreamCounts {
  added: number;
  /** Jobs run to `done` and acked here. */
  done: number;
  /** Stalled entries this node took over from another worker (or from itself). */
  claimed: number;
  abandoned: number;
  /** Entries without a clip id and a model: acked and dropped. */
  malformed: number;
}

export interface JobStream {
  /** Appends a job; resolves with its entry id. */
  add(clipId: string, model: string): Promise<string>;
  /** Which of these clips have an entry in the stream (waiting or running somewhere). */
  queued(clipIds: readonly string[]): Promise<Set<string>>;
  /**
   * Entries not handed to a worker yet: XLEN less XPENDING's count (done entries are deleted,
   * so the stream holds only waiting and running ones), as last read. It is read again after
   * each add and each job, and on each call (the call answers the value before that read).
   */
  waiting(): number;
  counts(): JobStreamCounts;
  /** Stops reading; a running job is cancelled and its entry handed back. Resolves once it has. */
  close(): Promise<void>;
}

/**
 * Runs XCLAIM on an entry only while this consumer still owns it: a worker whose Redis was away
 * for longer than the stall bound must not take back an entry another worker now runs.
 * KEYS[1] stream; ARGV group, id, consumer, then XCLAIM's options.
 */
const CLAIM_IF_MINE = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], unpack(ARGV, 4))
return 1
`;

type Entry = [id: string, fields: string[]];

const ID = /^[A-Za-z0-9_.:-]{1,200}$/;

function parseEntry(id: string, fields: unknown, deliveries: number): StreamJob | undefined {
  if (!Array.isArray(fields)) return undefined;
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(String(fields[i]), String(fields[i + 1]));
  const clipId = f.get('clip');
  const model = f.get('model');
  if (!clipId || !model || !ID.test(clipId) || !ID.test(model)) return undefined;
  return { id, clipId, model, deliveries };
}

const isNoGroup = (e: unknown) => e instanceof Error && e.message.startsWith('NOGROUP');

export async function createJobStream(o: JobStreamOptions): Promise<JobStream> {
  const key = `${o.prefix ?? 'vigil'}:jobs`;
  const log = o.log ?? defaultLog;
  const stallMs = o.stallMs ?? 30_000;
  const maxDeliveries = o.maxDeliveries ?? 3;
  const blockMs = o.blockMs ?? 1000;
  // A free worker looks for stalled entries this often (and before each read once it is due).
  const claimEveryMs = Math.min(stallMs / 2, 5000);
  const counts: JobStreamCounts = { added: 0, done: 0, claimed: 0, abandoned: 0, malformed: 0 };
  const stopCtl = new AbortController();
  let current: AbortController | undefined;
  let waiting = 0;
  let refreshing: Promise<void> | undefined;
  let readerId: number | undefined;
  let failing = false;

  const refresh = (): Promise<void> =>
    (refreshing ??= (async () => {
      try {
        const [length, pending] = await Promise.all([
          o.redis.xlen(key),
          // No group yet (no worker has started): nothing is pending.
          o.redis.xpending(key, GROUP).then(
            (p) => Number(p[0] ?? 0),
            (e: unknown) => (isNoGroup(e) ? 0 : Promise.reject(e as Error)),
          ),
        ]);
        waiting = Math.max(0, length - pending);
      } catch {
        // Stays as last read; the loop or the next add says when Redis is away.
      } finally {
        refreshing = undefined;
      }
    })());

  async function ensureGroup(): Promise<void> {
    try {
      // From the stream's start, not `$`: jobs an API node added before any worker made the group are kept.
      await o.redis.xgroup('CREATE', key, GROUP, '0', 'MKSTREAM');
    } catch (e) {
      if (!(e instanceof Error && e.message.startsWith('BUSYGROUP'))) throw e;
    }
  }

  const claimIfMine = (id: string, ...options: Array<string | number>) =>
    o.redis.eval(CLAIM_IF_MINE, 1, key, GROUP, id, o.consumer, ...options).then((r) => r === 1);

  async function finish(id: string): Promise<void> {
    await o.redis.multi().xack(key, GROUP, id).xdel(key, id).exec();
  }

  /** A stalled entry, taken over, with its delivery count; undefined when none is due. */
  async function claimOne(): Promise<{ entry: Entry; deliveries: number } | undefined> {
    const reply = (await o.redis.xautoclaim(key, GROUP, o.consumer, stallMs, '0-0', 'COUNT', 1)) as [string, Array<Entry | null>];
    const entry = reply[1]?.[0];
    if (!entry) return undefined;
    const pending = (await o.redis.xpending(key, GROUP, entry[0], entry[0], 1)) as Array<[string, string, number, number]>;
    counts.claimed += 1;
    return { entry, deliveries: Number(pending[0]?.[3] ?? maxDeliveries + 1) };
  }

  async function readOne(reader: Redis): Promise<{ entry: Entry; deliveries: number } | undefined> {
    const reply = (await reader.xreadgroup('GROUP', GROUP, o.consumer, 'COUNT', 1, 'BLOCK', blockMs, 'STREAMS', key, '>')) as Array<
      [string, Entry[]]
    > | null;
    const entry = reply?.[0]?.[1]?.[0];
    return entry ? { entry, deliveries: 1 } : undefined;
  }

  async function handle(handlers: JobHandlers, [id, fields]: Entry, deliveries: number): Promise<void> {
    const job = parseEntry(id, fields, deliveries);
    if (!job) {
      counts.malformed += 1;
      log.warn(`fleet ${o.consumer}: upload queue entry ${id} names no clip and model; dropped`);
      await finish(id);
      return;
    }
    if (deliveries > maxDeliveries) {
      // A throw leaves the entry for the next try after the stall bound: the clip is not left pending with no entry.
      await handlers.abandon(job);
      counts.abandoned += 1;
      await finish(id);
      return;
    }
    const ctl = new AbortController();
    current = ctl;
    if (stopCtl.signal.aborted) ctl.abort('close' satisfies StopReason);
    const touch = setInterval(() => {
      claimIfMine(id, 'JUSTID').then(
        (mine) => mine || ctl.abort('lost' satisfies StopReason),
        // Redis away: keep labelling; should another worker take the entry meanwhile, the next touch says so.
        () => {},
      );
    }, stallMs / 3);
    let result: 'done' | 'cancelled' | 'threw';
    try {
      result = await handlers.run(job, ctl.signal);
    } catch (e) {
      log.warn(`fleet ${o.consumer}: upload job ${id} (clip ${job.clipId}): ${(e as Error).message}; retried after ${stallMs} ms`);
      result = 'threw';
    } finally {
      clearInterval(touch);
      current = undefined;
    }
    if (ctl.signal.reason === 'lost') return;
    if (result === 'done') {
      await finish(id);
      counts.done += 1;
    } else if (result === 'cancelled') {
      await handBack(id, deliveries);
    }
  }

  /**
   * Hands an entry back as if stalled already, so the next free worker takes it now rather than
   * after the stall bound; its count is put back, so a node's restart brings no job nearer poison.
   */
  async function handBack(id: string, deliveries: number): Promise<void> {
    await claimIfMine(id, 'IDLE', stallMs + 1, 'RETRYCOUNT', deliveries - 1, 'JUSTID');
  }

  async function consume(reader: Redis, handlers: JobHandlers): Promise<void> {
    let nextClaim = 0;
    let needGroup = false;
    while (!stopCtl.signal.aborted) {
      try {
        if (needGroup) {
          await ensureGroup();
          needGroup = false;
        }
        let got: { entry: Entry; deliveries: number } | undefined;
        if (performance.now() >= nextClaim) {
          got = await claimOne();
          if (!got) nextClaim = performance.now() + claimEveryMs;
        }
        got ??= await readOne(reader);
        failing = false;
        // Read just as close() came: not started, so given straight back.
        if (got && stopCtl.signal.aborted) await handBack(got.entry[0], got.deliveries);
        else if (got) {
          await handle(handlers, got.entry, got.deliveries);
          void refresh();
        }
      } catch (e) {
        if (stopCtl.signal.aborted) break;
        // A restarted, empty Redis has no group: make it again.
        if (isNoGroup(e)) needGroup = true;
        else if (!failing) log.warn(`fleet ${o.consumer}: upload queue: ${(e as Error).message}; retrying`);
        failing = !isNoGroup(e);
        await sleep(Math.min(500, blockMs), undefined, { signal: stopCtl.signal }).catch(() => {});
      }
    }
  }

  let consuming: Promise<void> | undefined;
  let onReady: (() => void) | undefined;
  if (o.reader) {
    if (!o.handlers) throw new Error('createJobStream: a reader needs handlers');
    const reader = o.reader;
    await ensureGroup();
    // close() unblocks the reader's XREADGROUP at once rather than waiting out its BLOCK; its id changes with each reconnect.
    const learnId = () => {
      reader.client('ID').then(
        (n) => (readerId = Number(n)),
        () => {},
      );
    };
    readerId = Number(await reader.client('ID'));
    onReady = learnId;
    reader.on('ready', onReady);
    consuming = consume(reader, o.handlers);
  }
  await refresh();

  let closing: Promise<void> | undefined;
  return {
    async add(clipId, model) {
      const id = await o.redis.xadd(key, '*', 'clip', clipId, 'model', model);
      counts.added += 1;
      void refresh();
      return id as string;
    },
    async queued(clipIds) {
      const wanted = new Set(clipIds);
      const found = new Set<string>();
      let start = '-';
      for (;;) {
        const page = (await o.redis.xrange(key, start, '+', 'COUNT', 500)) as Entry[];
        for (const [id, fields] of page) {
          const job = parseEntry(id, fields, 0);
          if (job && wanted.has(job.clipId)) found.add(job.clipId);
        }
        if (page.length < 500) return found;
        start = `(${page[page.length - 1][0]}`;
      }
    },
    waiting() {
      void refresh();
      return waiting;
    },
    counts: () => ({ ...counts }),
    close() {
      closing ??= (async () => {
        stopCtl.abort();
        current?.abort('close' satisfies StopReason);
        if (onReady) o.reader?.off('ready', onReady);
        if (readerId !== undefined) await o.redis.client('UNBLOCK', readerId).catch(() => {});
        await consuming;
        await refreshing;
      })();
      return closing;
    },
  };
}
