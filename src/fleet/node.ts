/**
 * A vigil server as one node of a fleet (docs/fleet.md): its Redis connections, its place in
 * the camera placement (a worker), its part of the live fan-out (a worker publishes its
 * cameras' messages, an API node delivers everyone else's to its clients) and of the upload
 * queue (every node adds, a worker labels).
 */
import { hostname, networkInterfaces } from 'node:os';
import type { Redis } from 'ioredis';
import { log } from '../log.js';
import { maskUrl } from '../sinks/options.js';
import type { FleetConfig } from '../server/config-sections.js';
import type { CameraStatus } from '../server/protocol.js';
import type { StoreKind } from '../store/store.js';
import { createCoordinator, type Coordinator } from './coordinator.js';
import type { Member, Role } from './members.js';
import { connectRedis } from './redis.js';
import { createJobStream, type JobHandlers, type JobStream } from './job-stream.js';
import { createRelay, type RelayedMessage, type Relay } from './relay.js';

/** `GET /api/fleet`: every live node, and who runs each camera. */
export interface FleetView {
  /** This node's id. */
  node: string;
  nodes: Array<Member & { cameras: string[] }>;
  /** Each camera of the fleet and the node holding its lease (null: none now, e.g. just after its worker died). */
  cameras: Array<{ cameraId: string; node: string | null }>;
}

export interface FleetNode {
  readonly id: string;
  readonly roles: readonly Role[];
  /** Sends one of this node's camera or clip messages to the API nodes (fire and forget). */
  relay(msg: RelayedMessage): void;
  /** The fleet's upload queue: any node adds, a worker node given `jobs` also runs them. */
  readonly jobs: JobStream;
  /** The latest status the camera's worker published, when another node runs it. */
  remoteStatus(cameraId: string): CameraStatus | undefined;
  view(): Promise<FleetView>;
  /** The node holding a camera's lease now and where its API answers; undefined when none holds it. */
  locate(cameraId: string): Promise<{ node: string; url?: string } | undefined>;
  /** Gives up every camera (stopped, leases released), leaves the fleet, closes the connections. */
  close(): Promise<void>;
}

/**
 * @property config the `fleet` settings
 * @property host / port where this node serves: the default node id and the URL it advertises
 * @property schema the store schema this build reads and writes (nodes of one fleet agree on it)
 * @property [store='sqlite'] the kind of store this node keeps (nodes of one fleet agree on it)
 * @property cameras the fleet's cameras (every node reads the same list), read every placement tick
 * @property run / halt start and stop one of them here, as the placement says
 * @property deliver hand a message another node published to this node's clients
 * @property [jobs] run the upload queue's jobs here (a worker node)
 */
export interface FleetNodeOptions {
  config: FleetConfig;
  host: string;
  port: number;
  schema: number;
  store?: StoreKind;
  cameras: () => Promise<readonly string[]> | readonly string[];
  run: (cameraId: string) => Promise<void>;
  halt: (cameraId: string) => Promise<void>;
  deliver: (msg: RelayedMessage) => void;
  /** What a worker runs of the upload queue's jobs; none: this node only adds to it. */
  jobs?: JobHandlers;
  /** The statuses of the cameras this node runs, sent every {@link REFRESH_MS} for the API nodes' lists. */
  statuses: () => CameraStatus[];
}

/** How stale a remote camera's counts in `/api/cameras` may be. */
export const REFRESH_MS = 2000;

/**
 * The URL the other nodes reach this one's API at: `fleet.url`, else the bound address (a
 * wildcard bind advertises the machine's first external IPv4 address, an IP literal the
 * other nodes' Host check takes).
 */
export function advertisedUrl(config: FleetConfig, host: string, port: number): string {
  if (config.url) return config.url.replace(/\/$/, '');
  let name = host;
  if (host === '0.0.0.0' || host === '::') {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    name = external?.address ?? hostname();
  }
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}

export const rolesOf = (role: FleetConfig['role']): Role[] => (role === 'all' ? ['worker', 'api'] : [role]);

/**
 * Connects to Redis (VIGIL_ERR_FLEET naming it when unreachable), joins the fleet (refused,
 * named, when a live node speaks another protocol or schema) and starts taking cameras.
 */
export async function joinFleet(o: FleetNodeOptions): Promise<FleetNode> {
  const id = o.config.nodeId ?? `${hostname()}:${o.port}`;
  const roles = rolesOf(o.config.role);
  const prefix = o.config.prefix;
  const opened: Redis[] = [];
  const quit = () => Promise.all(opened.map((r) => r.quit().catch(() => r.disconnect())));
  let relay: Relay | undefined;
  let coordinator: Coordinator | undefined;
  let jobs: JobStream | undefined;
  try {
    const redis = await connectRedis(o.config.redis, { name: id });
    opened.push(redis);
    // SUBSCRIBE takes a connection over: the API role needs its own.
    const subscriber = roles.includes('api') ? await connectRedis(o.config.redis, { name: `${id}/live` }) : undefined;
    if (subscriber) opened.push(subscriber);
    // A status outlives two refreshes and a half: a dead worker's cameras stop looking live about as their leases expire.
    relay = await createRelay({ redis, subscriber, nodeId: id, prefix, deliver: (msg) => o.deliver(msg), staleMs: 2.5 * REFRESH_MS });
    // XREADGROUP BLOCK holds its connection: a worker reads the queue on its own.
    const consume = o.jobs && roles.includes('worker');
    const reader = consume ? await connectRedis(o.config.redis, { name: `${id}/jobs` }) : undefined;
    if (reader) opened.push(reader);
    jobs = await createJobStream({ redis, reader, consumer: id, prefix, handlers: consume ? o.jobs : undefined });
    coordinator = createCoordinator({
      redis,
      nodeId: id,
      roles,
      capacity: o.config.capacity,
      schema: o.schema,
      store: o.store,
      url: advertisedUrl(o.config, o.host, o.port),
      ttlMs: o.config.leaseMs,
      prefix,
      cameras: o.cameras,
      onTake: (cameraId) => o.run(cameraId),
      onDrop: (cameraId) => o.halt(cameraId),
    });
    await coordinator.start();
  } catch (e) {
    coordinator?.halt();
    await jobs?.close();
    await relay?.close();
    await quit();
    throw e;
  }
  log.info(`fleet: node ${id} (${roles.join(', ')}) joined at ${maskUrl(o.config.redis)}`);
  const live = relay;
  const placed = coordinator;
  const queue = jobs;
  const refresh = setInterval(() => {
    const mine = new Set(placed.held());
    for (const s of o.statuses()) if (mine.has(s.cameraId)) live.refresh(s);
  }, REFRESH_MS);
  refresh.unref();

  let closing: Promise<void> | undefined;
  return {
    id,
    roles,
    relay: (msg) => live.publish(msg),
    jobs: queue,
    remoteStatus: (cameraId) => live.status(cameraId)?.status,
    async view() {
      const [members, holders, cameraIds] = await Promise.all([placed.members(), placed.holders(), o.cameras()]);
      return {
        node: id,
        nodes: members.map((m) => ({ ...m, cameras: [...holders].filter(([, h]) => h === m.id).map(([c]) => c) })),
        cameras: cameraIds.map((cameraId) => ({ cameraId, node: holders.get(cameraId) ?? null })),
      };
    },
    async locate(cameraId) {
      // One lease read, not the fleet's: this runs per preview request.
      const [members, holders] = await Promise.all([placed.members(), placed.holders([cameraId])]);
      const node = holders.get(cameraId);
      if (node === undefined) return undefined;
      return { node, url: members.find((m) => m.id === node)?.url };
    },
    close() {
      closing ??= (async () => {
        clearInterval(refresh);
        // The running upload job first, while the store and Redis are there to hand it back.
        await queue.close();
        await placed.stop();
        await live.close();
        await quit();
      })();
      return closing;
    },
  };
}
