import type { WebSocket } from 'ws';
import { asVigilError, vigilError, type VigilError } from '../errors.js';
import { log } from '../log.js';
import { parseClientMessage, PROTOCOL_VERSION, type CameraStatus, type ServerMessage } from './protocol.js';

/** Routes server messages to the WebSocket clients subscribed to them. */
export interface Hub {
  /** Takes over a connected socket: hello, subscriptions, heartbeat, flow control. */
  attach(ws: WebSocket): void;
  /** Camera messages go to that camera's subscribers, `clip` messages to clip subscribers. */
  publish(msg: ServerMessage): void;
  readonly clients: number;
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

interface Entry {
  data: string;
  key?: string;
}

interface Client {
  ws: WebSocket;
  cameras: Set<string> | '*';
  clips: boolean;
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

  return {
    get clients() {
      return clients.size;
    },
    attach(ws) {
      const c: Client = { ws, cameras: new Set(), clips: false, queue: [], keyed: new Map(), inFlight: 0, alive: true };
      clients.add(c);
      ws.on('pong', () => (c.alive = true));
      ws.on('close', () => clients.delete(c));
      ws.on('error', () => clients.delete(c));
      ws.on('message', (data, isBinary) => {
        try {
          if (isBinary) throw vigilError('VIGIL_ERR_MESSAGE', 'binary messages are only for /api/cameras/:id/ingest');
          const msg = parseClientMessage(data.toString());
          const sub = msg.type === 'subscribe';
          if (msg.cameras === '*') c.cameras = sub ? '*' : new Set();
          else if (msg.cameras) {
            if (c.cameras === '*') c.cameras = sub ? '*' : new Set(options.cameras().map((s) => s.cameraId));
            if (c.cameras !== '*') for (const id of msg.cameras) sub ? c.cameras.add(id) : c.cameras.delete(id);
          }
          if (msg.clips !== undefined) c.clips = sub ? msg.clips : c.clips && !msg.clips;
          send(c, { type: 'subscribed', cameras: c.cameras === '*' ? ['*'] : [...c.cameras], clips: c.clips });
          // A subscriber learns where each camera stands without waiting for a change.
          if (sub) for (const s of options.cameras()) if (wants(c, s.cameraId)) send(c, { type: 'status', ...s });
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
        const to = msg.type === 'clip' ? c.clips : 'cameraId' in msg && wants(c, msg.cameraId);
        if (!to) continue;
        if (data === undefined) {
          data = JSON.stringify(msg);
          if (msg.type === 'label') key = `label:${msg.cameraId}`;
          else if (msg.type === 'segment' && msg.event === 'update') key = `update:${msg.cameraId}`;
          else if (msg.type === 'clip' && msg.status === 'processing') key = `clip:${msg.clipId}`;
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
