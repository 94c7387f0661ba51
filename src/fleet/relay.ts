/**
 * Live fan-out across the fleet: a worker publishes each of its cameras' messages (labels,
 * segments, statuses) and its upload jobs' progress on one Redis pub/sub channel, and every API
 * node hands what the other nodes published to its own WebSocket hub. Pub/sub is fire and forget on purpose: a label
 * is worth something for the few hundred ms it is current, so one published while Redis is away
 * is counted and dropped, never queued to arrive late. What must not be lost (events) is kept
 * by the store, not by this channel.
 */
import type { Redis } from 'ioredis';
import { log as defaultLog } from '../log.js';
import type { CameraStatus, ServerMessage } from '../server/protocol.js';

/** A camera's live messages, whoever runs it. */
export type CameraMessage = Extract<ServerMessage, { type: 'label' | 'segment' | 'status' }>;

/**
 * The messages that travel: a camera's live ones, an upload's `clip` messages (any worker
 * may label a clip uploaded to an API node, see job-stream.ts; they are few, at most one per
 * percent of a clip), and `event` messages, which the server relays only when the fleet shares
 * its store (PostgreSQL): on per-node SQLite an API node told of an event could not serve its
 * page or snapshot. Adaptation jobs' messages stay with their node.
 */
export type RelayedMessage = CameraMessage | Extract<ServerMessage, { type: 'clip' | 'event' }>;

const RELAYED = new Set<string>(['label', 'segment', 'status', 'clip', 'event']);

/**
 * A segment's `update` (its end moved on by a frame) goes out at most this often per camera and
 * model, the latest winning: every frame makes one, and they were half the channel's messages
 * (`npm run bench:fleet`). Its `start` and `end` always go, and an update still waiting when
 * they come is dropped, so none arrives after the end it preceded.
 */
export const SEGMENT_UPDATE_MS = 500;

export const isRelayedMessage = (msg: ServerMessage): msg is RelayedMessage => RELAYED.has(msg.type);

/**
 * @property redis the node's command connection (publishes)
 * @property [subscriber] a second connection given over to SUBSCRIBE (ioredis resubscribes it
 *   after a reconnect); none: this node only publishes (a worker without the api role)
 * @property nodeId messages this node published are not delivered back to it
 * @property deliver called with each message another node published
 */
export interface RelayOptions {
  redis: Redis;
  subscriber?: Redis;
  nodeId: string;
  prefix?: string;
  deliver: (msg: RelayedMessage, from: string) => void;
  log?: { warn(msg: string): void };
  /**
   * How long another node's last status of a camera stands [staleMs=5000]: a node that dies
   * sends no more, and its cameras should not look live elsewhere until their new worker speaks.
   */
  staleMs?: number;
}

export interface Relay {
  /** Sends a camera or clip message to the other nodes; returns at once. */
  publish(msg: RelayedMessage): void;
  /**
   * Sends a running camera's counts (frames, drops, lag) for the other nodes' `/api/cameras`
   * without waking their clients: a status message goes to clients only when the state changes.
   */
  refresh(status: CameraStatus): void;
  /** The latest status another node published for a camera, and which node; none once older than `staleMs`. */
  status(cameraId: string): { node: string; status: CameraStatus } | undefined;
  /** Messages published and those dropped because Redis could not take them. */
  counts(): { published: number; dropped: number; received: number; malformed: number };
  close(): Promise<void>;
}

/** What goes on the channel: the sender and the message, as the hub would send it; `q`: a refresh, not delivered. */
interface Envelope {
  n: string;
  m: RelayedMessage;
  q?: 1;
}

function parse(raw: string): Envelope | undefined {
  try {
    const e = JSON.parse(raw) as Envelope;
    if (typeof e?.n !== 'string' || typeof e.m !== 'object' || e.m === null) return undefined;
    if (!RELAYED.has(e.m.type)) return undefined;
    if (typeof (e.m.type === 'clip' ? e.m.clipId : e.m.cameraId) !== 'string') return undefined;
    return e;
  } catch {
    return undefined;
  }
}

export async function createRelay(o: RelayOptions): Promise<Relay> {
  const channel = `${o.prefix ?? 'vigil'}:live`;
  const log = o.log ?? defaultLog;
  const staleMs = o.staleMs ?? 5000;
  const statuses = new Map<string, { node: string; status: CameraStatus; at: number }>();
  const counts = { published: 0, dropped: 0, received: 0, malformed: 0 };
  let failing = false;
  /** camera\0model → the latest segment update waiting for its turn, and when the last one went. */
  const waiting = new Map<string, { msg: CameraMessage; timer: NodeJS.Timeout }>();
  const lastUpdate = new Map<string, number>();

  const onMessage = (ch: string, raw: string) => {
    if (ch !== channel) return;
    const e = parse(raw);
    // Another version's message, or a stray publisher: Redis is trusted, its content is still checked.
    if (!e) {
      counts.malformed += 1;
      return;
    }
    if (e.n === o.nodeId) return;
    counts.received += 1;
    if (e.m.type === 'status') {
      const { type: _, ...status } = e.m;
      statuses.set(e.m.cameraId, { node: e.n, status, at: performance.now() });
    }
    if (!e.q) o.deliver(e.m, e.n);
  };

  function send(e: Envelope): void {
    o.redis.publish(channel, JSON.stringify(e)).then(
      () => {
        counts.published += 1;
        failing = false;
      },
      (err: Error) => {
        counts.dropped += 1;
        if (!failing) log.warn(`fleet ${o.nodeId}: live messages are dropped while Redis cannot take them: ${err.message}`);
        failing = true;
      },
    );
  }
  if (o.subscriber) {
    o.subscriber.on('message', onMessage);
    await o.subscriber.subscribe(channel);
  }

  function publish(msg: RelayedMessage): void {
    if (msg.type !== 'segment') return send({ n: o.nodeId, m: msg });
    const key = `${msg.cameraId}\u0000${msg.model}`;
    if (msg.event !== 'update') {
      clearTimeout(waiting.get(key)?.timer);
      waiting.delete(key);
      return send({ n: o.nodeId, m: msg });
    }
    const queued = waiting.get(key);
    if (queued) {
      queued.msg = msg;
      return;
    }
    const due = (lastUpdate.get(key) ?? Number.NEGATIVE_INFINITY) + SEGMENT_UPDATE_MS - performance.now();
    const go = (m: CameraMessage) => {
      lastUpdate.set(key, performance.now());
      send({ n: o.nodeId, m });
    };
    if (due <= 0) return go(msg);
    const entry = {
      msg,
      timer: setTimeout(() => {
        waiting.delete(key);
        go(entry.msg);
      }, due),
    };
    entry.timer.unref();
    waiting.set(key, entry);
  }

  return {
    publish,
    refresh: (status) => send({ n: o.nodeId, m: { type: 'status', ...status }, q: 1 }),
    status(cameraId) {
      const last = statuses.get(cameraId);
      if (!last || performance.now() - last.at > staleMs) return undefined;
      return { node: last.node, status: last.status };
    },
    counts: () => ({ ...counts }),
    async close() {
      for (const w of waiting.values()) clearTimeout(w.timer);
      waiting.clear();
      if (!o.subscriber) return;
      o.subscriber.off('message', onMessage);
      await o.subscriber.unsubscribe(channel).catch(() => {});
    },
  };
}
