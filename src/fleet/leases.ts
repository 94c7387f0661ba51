/**
 * Camera leases in Redis: `<prefix>:lease:<cameraId>` holds the id of the one node running that
 * camera, with an expiry. Taking one is SET NX PX (only when nobody holds it); renewing and
 * releasing are compare-and-set Lua scripts, so a node whose lease expired and was taken by
 * another cannot extend or delete the new holder's lease: it learns it lost the camera
 * instead. The bulk forms do all of a node's cameras in one round trip, so renewing N cameras
 * every interval costs one request, not N.
 */
import type { Redis } from 'ioredis';

/** KEYS = the leases, ARGV = holder, ttl ms. Extends each lease still held by the holder; 1 or 0 per key. */
const RENEW = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out`;

/** KEYS = the leases, ARGV = holder. Deletes each lease still held by the holder; 1 or 0 per key. */
const RELEASE = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    out[i] = 1
  else
    out[i] = 0
  end
end
return out`;

/** The scripts as ioredis commands: EVALSHA, falling back to EVAL when Redis lost its script cache (a restart). */
interface LeaseCommands {
  vigilLeaseRenew(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  vigilLeaseRelease(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
}

export interface LeaseStore {
  /** Takes the lease if nobody holds it; true when `holder` now holds it. */
  acquire(cameraId: string, holder: string, ttlMs: number): Promise<boolean>;
  /** {@link acquire} for several cameras in one round trip: the ones taken. */
  acquireAll(cameraIds: readonly string[], holder: string, ttlMs: number): Promise<string[]>;
  /** Extends the lease if `holder` still holds it; false when it does not (expired, or someone else's). */
  renew(cameraId: string, holder: string, ttlMs: number): Promise<boolean>;
  /** {@link renew} for all of a node's cameras in one round trip: the ones still held (the rest are lost). */
  renewAll(cameraIds: readonly string[], holder: string, ttlMs: number): Promise<string[]>;
  /** Deletes the lease if `holder` holds it; false when it did not. */
  release(cameraId: string, holder: string): Promise<boolean>;
  /** {@link release} for several cameras in one round trip: the ones released. */
  releaseAll(cameraIds: readonly string[], holder: string): Promise<string[]>;
  /** Who holds the lease now, or null. */
  holderOf(cameraId: string): Promise<string | null>;
  /** {@link holderOf} for several cameras in one round trip (MGET): camera id → holder, unheld ones left out. */
  holders(cameraIds: readonly string[]): Promise<Map<string, string>>;
}

/** @param [prefix='vigil'] the fleet's key prefix (one Redis can host several fleets) */
export function createLeaseStore(redis: Redis, prefix = 'vigil'): LeaseStore {
  const key = (cameraId: string) => `${prefix}:lease:${cameraId}`;
  redis.defineCommand('vigilLeaseRenew', { lua: RENEW });
  redis.defineCommand('vigilLeaseRelease', { lua: RELEASE });
  const scripts = redis as unknown as LeaseCommands;
  const picked = (ids: readonly string[], flags: number[]) => ids.filter((_, i) => flags[i] === 1);

  const store: LeaseStore = {
    async acquire(cameraId, holder, ttlMs) {
      return (await redis.set(key(cameraId), holder, 'PX', ttlMs, 'NX')) === 'OK';
    },
    async acquireAll(cameraIds, holder, ttlMs) {
      if (cameraIds.length === 0) return [];
      const batch = redis.pipeline();
      for (const id of cameraIds) batch.set(key(id), holder, 'PX', ttlMs, 'NX');
      const replies = (await batch.exec()) ?? [];
      const taken: string[] = [];
      replies.forEach(([err, reply], i) => {
        if (err) throw err;
        if (reply === 'OK') taken.push(cameraIds[i]);
      });
      return taken;
    },
    async renew(cameraId, holder, ttlMs) {
      return (await store.renewAll([cameraId], holder, ttlMs)).length === 1;
    },
    async renewAll(cameraIds, holder, ttlMs) {
      if (cameraIds.length === 0) return [];
      return picked(cameraIds, await scripts.vigilLeaseRenew(cameraIds.length, ...cameraIds.map(key), holder, ttlMs));
    },
    async release(cameraId, holder) {
      return (await store.releaseAll([cameraId], holder)).length === 1;
    },
    async releaseAll(cameraIds, holder) {
      if (cameraIds.length === 0) return [];
      return picked(cameraIds, await scripts.vigilLeaseRelease(cameraIds.length, ...cameraIds.map(key), holder));
    },
    async holderOf(cameraId) {
      return redis.get(key(cameraId));
    },
    async holders(cameraIds) {
      const out = new Map<string, string>();
      if (cameraIds.length === 0) return out;
      const values = await redis.mget(cameraIds.map(key));
      values.forEach((v, i) => {
        if (v !== null) out.set(cameraIds[i], v);
      });
      return out;
    },
  };
  return store;
}
