import type { WebSocket } from 'ws';
import { asVigilError, vigilError, type VigilError } from '../errors.js';
import { log } from '../log.js';
import { parseClientMessage, PROTOCOL_VERSION, type CameraStatus, type ClientMessage, type ServerMessage } from './protocol.js';

/** Routes server messages to the WebSocket clients subscribed to them. */
export interface Hub {
  /** Takes over a connected socket: hello, subscriptions, heartbeat, flow control. */
  attach(ws: WebSocket): void;
  /** Camera messages go to that camera's subscribers, `clip` messages to clip subscribers, `event` messages also to event subscribers. */
  publish(msg: ServerMessage): void;
  readonly clients: number;
  /** Camera ids held in client subscriptions, all clients together (`*` counts none). */
  readonly subscriptions: number;
  /** Closes every client (1001, going away) and stops the heartbeat. */
  close(): void;
}

export interface HubOptions {
  heartbeatMs: number;
  /** Queued messages per client before it is dropped as too slow. */
  maxQueue: number;
  /** Current status of every camera, for `hello` and new subscriptions. */
  cameras(): CameraStatus[];
}

/**
 * Sends in flight per client before further messages wait in its queue: a client that reads
 * slowly stops acknowledging, so its messages queue here, where labels coalesce.
 */
const MAX_IN_FLIGHT = 8;

/**
 * Ids of cameras that do not exist a client may hold, so it can subscribe before it creates
 * the camera; ids of existing cameras are always taken (bounded by the cameras).
 */
export const MAX_PENDING_CAMERAS = 64;

interface Entry {
  data: string;
  key?: string;
}

interface Client {
  ws: WebSocket;
  /** `*`, or camera id → whether that camera existed when last looked (a deleted one is let go). */
  cameras: Map<string, boolean> | '*';
  clips: boolean;
  /** Every camera's `event` messages, without its labels (an events list, an unreviewed count). */
  events: boolean;
  queue: Entry[];
  /** Queued entries that a newer message of the same key replaces (latest label wins). */
  keyed: Map<string, Entry>;
  inFlight: number;
  alive: boolean;
}

/**
 * A slow client never slows the others: every publish is serialised once, then each client
 * sends from its own queue as its socket acknowledges. Per-frame labels and segment updates
 * coalesce per camera (a slow client sees the latest, not all); segment starts and ends,
 * statuses and clip messages never coalesce, and a client whose queue still passes
 * `maxQueue` is closed with VIGIL_ERR_SLOW_CLIENT.
 */
export function createHub(options: HubOptions): Hub {
  const clients = new Set<Client>();

  const heartbeat = setInterval(() => {
    // With the heartbeat, not per publish: a deleted camera's id leaves every subscription.
    if ([...clients].some((c) => c.cameras !== '*' && c.cameras.size > 0)) {
      const known = new Set(options.cameras().map((s) => s.cameraId));
      for (const c of clients) prune(c, known);
    }
    for (const c of clients) {
      if (!c.alive) {
        log.info('dropping a WebSocket client that missed a heartbeat');
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, options.heartbeatMs);
  heartbeat.unref();

  function flush(c: Client): void {
    while (c.inFlight < MAX_IN_FLIGHT && c.queue.length > 0) {
      const e = c.queue.shift() as Entry;
      if (e.key !== undefined) c.keyed.delete(e.key);
      c.inFlight += 1;
      c.ws.send(e.data, () => {
        c.inFlight -= 1;
        flush(c);
      });
    }
  }

  function enqueue(c: Client, data: string, key?: string): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    const queued = key === undefined ? undefined : c.keyed.get(key);
    if (queued) {
      queued.data = data;
      return;
    }
    const e: Entry = { data, key };
    c.queue.push(e);
    // A message that does not coalesce fences the queued ones: a later label must not jump
    // ahead of a segment end by replacing a label queued before it.
    if (key !== undefined) c.keyed.set(key, e);
    else c.keyed.clear();
    if (c.queue.length > options.maxQueue) {
      fail(c, vigilError('VIGIL_ERR_SLOW_CLIENT', `more than ${options.maxQueue} messages waiting`));
      return;
    }
    flush(c);
  }

  function send(c: Client, msg: ServerMessage): void {
    enqueue(c, JSON.stringify(msg));
  }

  function fail(c: Client, e: VigilError): void {
    log.info(`closing a WebSocket client: ${e.code}`);
    c.queue.length = 0;
    c.keyed.clear();
    // The close frame carries the code; the reason is capped at 123 bytes by the protocol.
    c.ws.close(e.wsClose, `${e.code}`);
    clients.delete(c);
  }

  function wants(c: Client, cameraId: string): boolean {
    return c.cameras === '*' || c.cameras.has(cameraId);
  }

  /** Marks the ids whose camera exists and drops those whose camera existed and is gone. */
  function prune(c: Client, known: { has(id: string): boolean }): void {
    if (c.cameras === '*') return;
    for (const [id, existed] of c.cameras) {
      if (known.has(id)) c.cameras.set(id, true);
      else if (existed) c.cameras.delete(id);
    }
  }

  /**
   * Applies a subscribe or unsubscribe. The answer names only what this message asked for,
   * never the whole subscription, and statuses go only for cameras it newly covers: what a
   * client gets back is bounded by what it sent, however often it sends.
   */
  function subscription(c: Client, msg: ClientMessage): void {
    const statuses = options.cameras();
    const known = new Map(statuses.map((s) => [s.cameraId, s]));
    prune(c, known);
    const sub = msg.type === 'subscribe';
    const took: string[] = [];
    const added: CameraStatus[] = [];
    let asked = 0;
    let refused = 0;
    if (msg.cameras === '*') {
      if (sub && c.cameras !== '*') for (const s of statuses) if (!c.cameras.has(s.cameraId)) added.push(s);
      c.cameras = sub ? '*' : new Map();
    } else if (msg.cameras) {
      if (c.cameras === '*' && !sub) c.cameras = new Map(statuses.map((s) => [s.cameraId, true]));
      if (c.cameras !== '*') {
        const ids = new Set(msg.cameras);
        asked = ids.size;
        if (sub) {
          let pending = 0;
          for (const existed of c.cameras.values()) if (!existed) pending += 1;
          for (const id of ids) {
            const s = known.get(id);
            if (c.cameras.has(id)) took.push(id);
            else if (s) {
              c.cameras.set(id, true);
              took.push(id);
              added.push(s);
            } else if (pending < MAX_PENDING_CAMERAS) {
              c.cameras.set(id, false);
              pending += 1;
              took.push(id);
            } else refused += 1;
          }
        } else for (const id of ids) c.cameras.delete(id);
      }
    }
    if (msg.clips !== undefined) c.clips = sub ? msg.clips : c.clips && !msg.clips;
    if (msg.events !== undefined) c.events = sub ? msg.events : c.events && !msg.events;
    send(c, { type: 'subscribed', cameras: c.cameras === '*' ? ['*'] : took, clips: c.clips, events: c.events });
    if (refused > 0) {
      const err = vigilError(
        'VIGIL_ERR_NOT_FOUND',
        `${refused} of the ${asked} camera ids name no camera and were not subscribed ` +
          `(a client may wait for at most ${MAX_PENDING_CAMERAS} cameras that do not exist)`,
      );
      send(c, { type: 'error', code: err.code, message: err.message });
    }
    // A subscriber learns where each camera stands without waiting for a change.
    for (const s of added) send(c, { type: 'status', ...s });
  }

  return {
    get clients() {
      return clients.size;
    },
    get subscriptions() {
      let n = 0;
      for (const c of clients) if (c.cameras !== '*') n += c.cameras.size;
      return n;
    },
    attach(ws) {
      const c: Client = { ws, cameras: new Map(), clips: false, events: false, queue: [], keyed: new Map(), inFlight: 0, alive: true };
      clients.add(c);
      ws.on('pong', () => (c.alive = true));
      ws.on('close', () => clients.delete(c));
      ws.on('error', () => clients.delete(c));
      ws.on('message', (data, isBinary) => {
        try {
          if (isBinary) throw vigilError('VIGIL_ERR_MESSAGE', 'binary messages are only for /api/cameras/:id/ingest');
          // The socket's binaryType is ws's default, 'nodebuffer': a text message arrives as one Buffer.
          subscription(c, parseClientMessage((data as Buffer).toString()));
        } catch (e) {
          const err = asVigilError(e, 'VIGIL_ERR_MESSAGE');
          send(c, { type: 'error', code: err.code, message: err.message });
        }
      });
      send(c, { type: 'hello', protocol: PROTOCOL_VERSION, server: 'vigil', cameras: options.cameras() });
    },
    publish(msg) {
      let data: string | undefined;
      let key: string | undefined;
      for (const c of clients) {
        const to = msg.type === 'clip' ? c.clips : 'cameraId' in msg && ((msg.type === 'event' && c.events) || wants(c, msg.cameraId));
        if (!to) continue;
        if (data === undefined) {
          data = JSON.stringify(msg);
          // Per model: a camera's two models stream two lines of labels, neither replaces the other.
          if (msg.type === 'label') key = `label:${msg.cameraId}:${msg.model}`;
          else if (msg.type === 'segment' && msg.event === 'update') key = `update:${msg.cameraId}:${msg.model}`;
          else if (msg.type === 'event' && msg.change === 'update') key = `event:${msg.event.id}`;
          else if (msg.type === 'clip' && msg.status === 'processing') key = `clip:${msg.clipId}`;
          // Epochs of one job: a slow client sees the latest; its end never coalesces.
          else if (msg.type === 'adapt' && msg.state === 'running') key = `adapt:${msg.job}`;
        }
        enqueue(c, data, key);
      }
    },
    close() {
      clearInterval(heartbeat);
      for (const c of clients) c.ws.close(1001, 'server shutting down');
      clients.clear();
    },
  };
}
