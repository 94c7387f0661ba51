/**
 * Who is in the fleet. Each node writes a heartbeat `<prefix>:member:<id>` (its record as JSON,
 * with an expiry) and its id in the set `<prefix>:members`; a node that stops beating drops out
 * when its key expires, with nobody having to notice it died. Listing is one Lua round trip that
 * also prunes ids whose heartbeat is gone.
 *
 * Nodes of one fleet must speak one protocol (key layout, lease semantics): a node refuses to
 * join when a live member advertises another, rather than run beside it and double-book cameras;
 * likewise for the store schema they were built for, and the kind of store they keep (SQLite
 * per node, or one PostgreSQL).
 * Bump {@link FLEET_PROTOCOL} whenever what nodes write to Redis, or how they read it, changes.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { vigilError } from '../errors.js';
import type { StoreKind } from '../store/store.js';

/** The version of what fleet nodes write to Redis and expect of each other. */
export const FLEET_PROTOCOL = 1;

export type Role = 'worker' | 'api';

/** A node as it advertises itself. */
export interface Member {
  id: string;
  roles: Role[];
  /** The most cameras it will hold. */
  capacity: number;
  /** Its {@link FLEET_PROTOCOL}. */
  protocol: number;
  /** The version of the store schema it was built for. */
  schema: number;
  /**
   * Where its store keeps rows: `sqlite` (a store per node, the cameras the config file's) or
   * `postgres` (one store for the fleet). Absent from members of before: `sqlite`.
   */
  store?: StoreKind;
  /** Cameras it holds now. */
  load: number;
  startedAtMs: number;
  /** Wall clock of its latest heartbeat. */
  lastSeenMs: number;
  host: string;
  pid: number;
  /** Where its API answers for the other nodes (an API node fetches a camera's preview from its worker). */
  url?: string;
}

/** What a node says about itself; the rest of {@link Member} is filled in. */
export type MemberInfo = Pick<Member, 'id' | 'roles' | 'capacity' | 'schema'> &
  Partial<Pick<Member, 'startedAtMs' | 'host' | 'pid' | 'url' | 'store'>>;

export interface Members {
  /**
   * Refuses with VIGIL_ERR_FLEET when a live member speaks another protocol, was built for
   * another store schema, or keeps its store in another kind (each named), and otherwise
   * writes the first heartbeat.
   */
  join(load?: number): Promise<void>;
  /** Rewrites the heartbeat with a fresh expiry and the current load. */
  beat(load: number): Promise<void>;
  /** The live members (this node included once it beat), by id. */
  list(): Promise<Member[]>;
  /** Removes this node's heartbeat (a clean stop). */
  leave(): Promise<void>;
}

/** KEYS[1] = the id set, ARGV[1] = the member key prefix. The live records; ids without one are pruned. */
const LIST = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('GET', ARGV[1] .. id)
  if v then
    out[#out + 1] = v
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out`;

interface MemberCommands {
  vigilMembers(setKey: string, memberPrefix: string): Promise<string[]>;
}

/**
 * @property ttlMs a heartbeat's lifetime: beat more often than this
 * @property [prefix='vigil'] the fleet's key prefix
 * @property [protocol=FLEET_PROTOCOL] what this node advertises (another value only to test a mixed fleet)
 */
export interface MembersOptions {
  redis: Redis;
  self: MemberInfo;
  ttlMs: number;
  prefix?: string;
  protocol?: number;
}

function parse(json: string): Member | undefined {
  try {
    const m = JSON.parse(json) as Member;
    return typeof m.id === 'string' && typeof m.protocol === 'number' ? m : undefined;
  } catch {
    return undefined;
  }
}

export function createMembers(o: MembersOptions): Members {
  const prefix = o.prefix ?? 'vigil';
  const setKey = `${prefix}:members`;
  const memberPrefix = `${prefix}:member:`;
  const protocol = o.protocol ?? FLEET_PROTOCOL;
  const self = o.self;
  const startedAtMs = self.startedAtMs ?? Date.now();
  o.redis.defineCommand('vigilMembers', { numberOfKeys: 1, lua: LIST });
  const scripts = o.redis as unknown as MemberCommands;

  const record = (load: number): Member => ({
    id: self.id,
    roles: [...self.roles],
    capacity: self.capacity,
    protocol,
    schema: self.schema,
    store: self.store ?? 'sqlite',
    load,
    startedAtMs,
    lastSeenMs: Date.now(),
    host: self.host ?? hostname(),
    pid: self.pid ?? process.pid,
    ...(self.url ? { url: self.url } : {}),
  });

  const members: Members = {
    async join(load = 0) {
      const others = (await members.list()).filter((m) => m.id !== self.id);
      const other = others.find((m) => m.protocol !== protocol);
      if (other) {
        throw vigilError(
          'VIGIL_ERR_FLEET',
          `node ${self.id} speaks fleet protocol ${protocol} but live member ${other.id} (${other.host} pid ${other.pid}) ` +
            `speaks protocol ${other.protocol}; upgrade or stop one side`,
        );
      }
      // One shared store: a node built for another schema would read or write rows it does not understand.
      const stale = others.find((m) => m.schema !== self.schema);
      if (stale) {
        throw vigilError(
          'VIGIL_ERR_FLEET',
          `node ${self.id} is built for store schema ${self.schema} but live member ${stale.id} (${stale.host} pid ${stale.pid}) ` +
            `is built for schema ${stale.schema}; run one vigil version across the fleet`,
        );
      }
      // SQLite nodes each run the config file's cameras from their own store; PostgreSQL nodes
      // share one and let the API change it: side by side they would disagree on the cameras.
      const kind = self.store ?? 'sqlite';
      const apart = others.find((m) => (m.store ?? 'sqlite') !== kind);
      if (apart) {
        throw vigilError(
          'VIGIL_ERR_FLEET',
          `node ${self.id} keeps its store in ${kind} but live member ${apart.id} (${apart.host} pid ${apart.pid}) ` +
            `keeps it in ${apart.store ?? 'sqlite'}; run every node with --postgres, or none`,
        );
      }
      await members.beat(load);
    },
    async beat(load) {
      await o.redis
        .multi()
        .set(memberPrefix + self.id, JSON.stringify(record(load)), 'PX', o.ttlMs)
        .sadd(setKey, self.id)
        .exec();
    },
    async list() {
      const raw = await scripts.vigilMembers(setKey, memberPrefix);
      return raw
        .map(parse)
        .filter((m): m is Member => m !== undefined)
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
    async leave() {
      await o.redis
        .multi()
        .del(memberPrefix + self.id)
        .srem(setKey, self.id)
        .exec();
    },
  };
  return members;
}
