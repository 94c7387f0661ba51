import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { asVigilError, vigilError, type VigilError } from '../errors.js';
import { log } from '../log.js';
import { checkToken } from './auth.js';
import type { CameraService } from './cameras.js';
import { errorBody } from './http.js';
import type { Hub } from './hub.js';
import { attachIngest } from './ingest.js';
import type { OriginGuard } from './origin-guard.js';

export interface UpgradeOptions {
  guard: OriginGuard;
  token: string | undefined;
  hub: Hub;
  cameras: CameraService;
  /** Largest message on `/ws` and on an ingest socket, in bytes. */
  wsMessageBytes: number;
  ingestMessageBytes: number;
}

/** The server's two WebSocket endpoints: `/ws` (the hub) and `/api/cameras/:id/ingest`. */
export interface UpgradeHandler {
  /** The `upgrade` listener of the HTTP server; never throws. */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Ends every ingest socket (the hub closes its own clients). */
  close(): void;
}

type Route = { kind: 'hub' } | { kind: 'ingest'; cameraId: string };

/**
 * Refuses before it accepts, as `ws` means `handleUpgrade` to be used: the path, `Host`,
 * `Origin`, token and (for ingest) the camera are checked on the bare request, and a
 * refusal is a plain HTTP answer with a coded JSON body on the socket. Only an accepted
 * request becomes a WebSocket, so no socket exists that could fail unheard while closing.
 */
export function createUpgradeHandler(o: UpgradeOptions): UpgradeHandler {
  const hubWss = new WebSocketServer({ noServer: true, maxPayload: o.wsMessageBytes });
  const ingestWss = new WebSocketServer({ noServer: true, maxPayload: o.ingestMessageBytes });

  async function accept(req: IncomingMessage): Promise<Route> {
    const route = routeOf(req.url ?? '/');
    o.guard.check(req);
    checkToken(req, o.token);
    if (route.kind === 'ingest') {
      const camera = await o.cameras.get(route.cameraId);
      if (camera.source !== 'webcam') throw vigilError('VIGIL_ERR_CONFLICT', `camera ${camera.id} is not a webcam`);
    }
    return route;
  }

  return {
    handle(req, socket, head) {
      // First, so a peer that resets mid-handshake is an event, never an uncaught error.
      socket.on('error', (e) => log.debug(`upgrade socket: ${e.message}`));
      accept(req).then(
        (route) => {
          // The camera is read from the store first: the peer may have gone meanwhile.
          if (socket.destroyed) return;
          const wss = route.kind === 'hub' ? hubWss : ingestWss;
          wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
            ws.on('error', (e) => log.debug(`WebSocket: ${e.message}`));
            if (route.kind === 'hub') o.hub.attach(ws);
            else attachIngest(ws, route.cameraId, o.cameras);
          });
        },
        (e: unknown) => refuse(socket, asVigilError(e)),
      );
    },
    close() {
      for (const ws of ingestWss.clients) ws.terminate();
    },
  };
}

/**
 * The endpoint a request URL names, read without `new URL`: a request target such as `//`
 * or `//a:b@` is not a valid relative URL, and throwing on it is how one request used to
 * end the process.
 * @throws VIGIL_ERR_NOT_FOUND, VIGIL_ERR_INVALID_ARGUMENT (a malformed percent-escape)
 */
export function routeOf(url: string): Route {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path === '/ws') return { kind: 'hub' };
  const ingest = /^\/api\/cameras\/([^/]+)\/ingest$/.exec(path);
  if (!ingest) throw vigilError('VIGIL_ERR_NOT_FOUND', 'WebSockets are at /ws and /api/cameras/:id/ingest');
  let cameraId: string;
  try {
    cameraId = decodeURIComponent(ingest[1]);
  } catch {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'camera id has a malformed percent-escape');
  }
  return { kind: 'ingest', cameraId };
}

/** A plain HTTP refusal on a socket that asked to upgrade. */
function refuse(socket: Duplex, e: VigilError): void {
  if (e.code === 'VIGIL_ERR_INTERNAL') log.error(`upgrade failed: ${(e.cause as Error)?.stack ?? e.message}`);
  const body = JSON.stringify(errorBody(e));
  const status = e.httpStatus;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
