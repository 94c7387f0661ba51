/**
 * One node's part in the fleet: every interval it beats its heartbeat, renews all its leases in
 * one round trip, reads the fleet and the leases, and takes or gives up cameras as
 * {@link place} says. The caller runs the cameras: `onTake` starts one, `onDrop` stops it.
 *
 * Safety comes from counting down locally. A lease is good until `ttlMs` after the renewal
 * that last succeeded was *sent* (Redis set its expiry later than that, so the local deadline
 * never outlives the one in Redis). When Redis cannot be reached, held cameras keep running
 * only until that deadline and are then dropped as lost, so another node can only take a
 * camera after this one stopped it; a renewal that fails its compare-and-set (the lease
 * expired and someone else holds it) drops the camera at once. A camera given up voluntarily
 * is stopped first and released after, for the same reason.
 */
import type { Redis } from 'ioredis';
import { asVigilError } from '../errors.js';
import { log as defaultLog } from '../log.js';
import type { StoreKind } from '../store/store.js';
import { createLeaseStore } from './leases.js';
import { createMembers, FLEET_PROTOCOL, type Member, type Role } from './members.js';
import { place, type Worker } from './placement.js';

export type DropReason = 'released' | 'lost';

export interface CoordinatorLog {
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

/**
 * @property redis a connected client (see connectRedis); the coordinator does not close it
 * @property nodeId unique in the fleet, and stable across restarts if it should get its leases back
 * @property [roles=['worker']] only workers hold cameras
 * @property [capacity=Infinity] the most cameras this node holds
 * @property [schema=0] the store schema version it advertises
 * @property [store='sqlite'] the kind of store it keeps (see Member.store)
 * @property [url] where its API answers for the other nodes
 * @property [ttlMs=5000] lease and heartbeat lifetime: a dead node's cameras move after about this
 * @property [intervalMs=ttlMs/3] how often it renews and rebalances
 * @property [prefix='vigil'] the fleet's key prefix
 * @property [maxReleasePerTick=1] how fast an over-share node hands cameras to a newcomer
 * @property cameras the cameras the fleet should run (read every tick)
 * @property onTake start running a camera (awaited; an error is logged and the camera counts as held)
 * @property onDrop stop running it (awaited before the lease is released; an error is logged)
 */
export interface CoordinatorOptions {
  redis: Redis;
  nodeId: string;
  roles?: Role[];
  capacity?: number;
  schema?: number;
  store?: StoreKind;
  url?: string;
  ttlMs?: number;
  intervalMs?: number;
  prefix?: string;
  maxReleasePerTick?: number;
  cameras: () => Promise<readonly string[]> | readonly string[];
  onTake: (cameraId: string) => unknown;
  onDrop: (cameraId: string, reason: DropReason) => unknown;
  log?: CoordinatorLog;
}

export interface Coordinator {
  /**
   * Joins (VIGIL_ERR_FLEET if a live member speaks another protocol); cameras are taken from the
   * next tick on, once the others had an interval to see this node.
   */
  start(): Promise<void>;
  /** Stops the loop, drops every camera ('released'), releases their leases and leaves the fleet. */
  stop(): Promise<void>;
  /**
   * Stops the loop at once and gives up nothing: no onDrop, leases and heartbeat left to expire.
   * What the fleet sees when a process dies; for a process that must exit now, and for tests.
   */
  halt(): void;
  /** The cameras this node runs now, by id. */
  held(): string[];
  members(): Promise<Member[]>;
  /** Who holds each of the fleet's cameras (or of `cameraIds`) now, as Redis says (unheld ones absent). */
  holders(cameraIds?: readonly string[]): Promise<Map<string, string>>;
}

export function createCoordinator(o: CoordinatorOptions): Coordinator {
  const ttlMs = o.ttlMs ?? 5000;
  const intervalMs = o.intervalMs ?? Math.max(1, Math.floor(ttlMs / 3));
  const roles = o.roles ?? ['worker'];
  const capacity = o.capacity ?? Number.POSITIVE_INFINITY;
  const log = o.log ?? defaultLog;
  const leases = createLeaseStore(o.redis, o.prefix);
  // JSON has no Infinity: advertise "unbounded" as the largest safe integer.
  const advertised = Number.isFinite(capacity) ? capacity : Number.MAX_SAFE_INTEGER;
  const members = createMembers({
    redis: o.redis,
    prefix: o.prefix,
    ttlMs,
    self: { id: o.nodeId, roles, capacity: advertised, schema: o.schema ?? 0, store: o.store, url: o.url },
  });
  /** camera id → monotonic time its lease runs out here. */
  const held = new Map<string, number>();
  let loop: NodeJS.Timeout | undefined;
  let expiry: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let active = false;
  let redisUp = true;
  /** Whether the fleet has had an interval to see this node since it (re)joined. */
  let settled = false;
  const now = () => performance.now();

  async function callback(what: string, fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (e) {
      log.warn(`fleet ${o.nodeId}: ${what} failed: ${asVigilError(e).message}`);
    }
  }

  async function take(cameraId: string, sentAt: number): Promise<void> {
    held.set(cameraId, sentAt + ttlMs);
    log.debug(`fleet ${o.nodeId}: took ${cameraId}`);
    await callback(`onTake(${cameraId})`, () => o.onTake(cameraId));
  }

  async function drop(cameraId: string, reason: DropReason): Promise<void> {
    if (!held.delete(cameraId)) return;
    log.debug(`fleet ${o.nodeId}: dropped ${cameraId} (${reason})`);
    await callback(`onDrop(${cameraId})`, () => o.onDrop(cameraId, reason));
  }

  /** Drops what ran out, and sets the timer for the next one to run out. */
  function armExpiry(): void {
    if (expiry) clearTimeout(expiry);
    expiry = undefined;
    if (!active || held.size === 0) return;
    const first = Math.min(...held.values());
    expiry = setTimeout(() => void expire(), Math.max(0, first - now()));
    expiry.unref();
  }

  async function expire(): Promise<void> {
    const t = now();
    for (const [id, until] of [...held]) {
      if (until <= t) {
        log.warn(
          `fleet ${o.nodeId}: lease of ${id} ran out before a renewal succeeded (Redis unreachable, or this process stalled); stopping it`,
        );
        await drop(id, 'lost');
      }
    }
    armExpiry();
  }

  async function tick(): Promise<void> {
    let cameras: readonly string[];
    try {
      cameras = await o.cameras();
    } catch (e) {
      log.warn(`fleet ${o.nodeId}: cannot list cameras: ${asVigilError(e).message}`);
      cameras = [...held.keys()];
    }
    const sentAt = now();
    let renewed: string[];
    try {
      await members.beat(held.size);
      const mine = [...held.keys()];
      renewed = await leases.renewAll(mine, o.nodeId, ttlMs);
      // A lease gone from Redis rather than taken (an empty Redis after a restart) is nobody's:
      // while its local deadline holds, this node takes it back with SET NX and keeps the camera
      // running; one another node took meanwhile fails that, and is lost below.
      const gone = mine.filter((id) => !renewed.includes(id) && (held.get(id) ?? 0) > sentAt);
      if (gone.length > 0) renewed = [...renewed, ...(await leases.acquireAll(gone, o.nodeId, ttlMs))];
      // A camera dropped by the expiry timer while this renewal was in flight stays dropped.
      for (const id of renewed) if (held.has(id)) held.set(id, sentAt + ttlMs);
      const kept = new Set(renewed);
      for (const id of mine) {
        if (kept.has(id)) continue;
        log.warn(`fleet ${o.nodeId}: lost the lease of ${id}; stopping it`);
        await drop(id, 'lost');
      }
      armExpiry();
      if (!active) return;
      if (!settled) {
        // The first tick after (re)joining only announces us: the other nodes beat within an
        // interval too, and placing before seeing them would grab everything and hand it back
        // one camera a tick (a cold fleet start, or every node at once after Redis restarted).
        settled = true;
        if (!redisUp) log.info(`fleet ${o.nodeId}: Redis is reachable again`);
        redisUp = true;
        return;
      }

      const [live, holders] = await Promise.all([members.list(), leases.holders(cameras)]);
      if (!redisUp) log.info(`fleet ${o.nodeId}: Redis is reachable again`);
      redisUp = true;
      // Leases Redis says are ours but that we do not run (a renewal that landed after we gave up,
      // a restart under the same id) are offered as free and taken back by compare-and-set.
      const orphans = new Set([...holders].filter(([c, h]) => h === o.nodeId && !held.has(c)).map(([c]) => c));
      for (const c of orphans) holders.delete(c);
      const workers: Worker[] = live
        .filter((m) => m.protocol === FLEET_PROTOCOL && m.roles.includes('worker') && m.id !== o.nodeId)
        .map((m) => ({ id: m.id, capacity: m.capacity }));
      // Ourselves as we are now, not as our last heartbeat said.
      if (roles.includes('worker')) workers.push({ id: o.nodeId, capacity: advertised });
      const plan = place({ self: o.nodeId, workers, cameras, holders, maxReleasePerTick: o.maxReleasePerTick });

      for (const id of plan.release) {
        if (!held.has(id)) continue;
        await drop(id, 'released');
        await leases.release(id, o.nodeId);
      }
      if (!active || plan.acquire.length === 0) return;
      const takeAt = now();
      const adopt = plan.acquire.filter((c) => orphans.has(c));
      const fresh = plan.acquire.filter((c) => !orphans.has(c));
      const [adopted, taken] = await Promise.all([leases.renewAll(adopt, o.nodeId, ttlMs), leases.acquireAll(fresh, o.nodeId, ttlMs)]);
      for (const id of [...adopted, ...taken]) {
        if (!active) {
          await leases.release(id, o.nodeId);
          continue;
        }
        await take(id, takeAt);
      }
      armExpiry();
    } catch (e) {
      if (redisUp)
        log.warn(`fleet ${o.nodeId}: Redis unreachable (${asVigilError(e).message}); held cameras run until their leases would expire`);
      redisUp = false;
      settled = false;
      armExpiry();
    }
  }

  function schedule(): void {
    loop = setTimeout(() => {
      // A tick still waiting on Redis is not doubled; the expiry timer keeps the deadlines meanwhile.
      if (running || !active) return schedule();
      running = tick().finally(() => (running = undefined));
      schedule();
    }, intervalMs);
    loop.unref();
  }

  function halt(): void {
    active = false;
    if (loop) clearTimeout(loop);
    if (expiry) clearTimeout(expiry);
    loop = expiry = undefined;
  }

  return {
    async start() {
      if (active) return;
      await members.join(0);
      active = true;
      running = tick().finally(() => (running = undefined));
      await running;
      if (active) schedule();
    },
    async stop() {
      halt();
      await running;
      const mine = [...held.keys()];
      for (const id of mine) await drop(id, 'released');
      try {
        await leases.releaseAll(mine, o.nodeId);
        await members.leave();
      } catch (e) {
        log.warn(`fleet ${o.nodeId}: could not release its leases (they expire in ${ttlMs} ms): ${asVigilError(e).message}`);
      }
    },
    halt() {
      halt();
      held.clear();
    },
    held: () => [...held.keys()].sort(),
    members: () => members.list(),
    holders: async (cameraIds) => leases.holders(cameraIds ?? (await o.cameras())),
  };
}
