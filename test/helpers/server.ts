import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startServer, type ServerInput, type VigilServer } from '../../src/server/app.js';
import type { ServerMessage } from '../../src/server/protocol.js';
import type { JsonAnswer } from './json.js';

/** A real server on port 0 over a fresh data folder; `stop()` closes it and removes the folder. */
export interface TestServer {
  server: VigilServer;
  dataDir: string;
  url: string;
  /** `fetch` against the server, JSON in and out; it may be passed on detached (`patches(t.api)`). */
  api(
    this: void,
    path: string,
    init?: { method?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: JsonAnswer; headers: Headers }>;
  /** Restarts on the same data folder (persistence, crash recovery). */
  restart(overrides?: ServerInput): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestServer(config: ServerInput = {}): Promise<TestServer> {
  const dataDir = config.dataDir ?? (await mkdtemp(join(tmpdir(), 'vigil-server-')));
  const base = { port: 0, demo: false, ...config, dataDir };
  let server = await startServer(base);
  const t: TestServer = {
    get server() {
      return server;
    },
    dataDir,
    get url() {
      return server.url;
    },
    async api(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      let body: string | Uint8Array | undefined;
      if (init.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = typeof init.body === 'string' || init.body instanceof Uint8Array ? init.body : JSON.stringify(init.body);
      }
      const res = await fetch(server.url + path, { method: init.method ?? 'GET', headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON (VTT, video): the text
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async restart(overrides = {}) {
      await server.close();
      server = await startServer({ ...base, ...overrides });
    },
    async stop() {
      await server.close();
      if (config.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

/** A WebSocket client that keeps every message and can wait for one. */
export interface TestClient {
  ws: WebSocket;
  messages: ServerMessage[];
  send(msg: unknown): void;
  /** Resolves with the first message (already received or future) that matches. */
  next<T extends ServerMessage['type']>(
    type: T,
    match?: (m: Extract<ServerMessage, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<ServerMessage, { type: T }>>;
  /** Resolves when the socket closes, with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export async function connect(url: string): Promise<TestClient> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'));
  const messages: ServerMessage[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (d) => {
    // binaryType is the default 'nodebuffer', so each message arrives as one Buffer.
    messages.push(JSON.parse((d as Buffer).toString()) as ServerMessage);
    for (const w of waiters) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((done) =>
    ws.on('close', (code, reason) => done({ code, reason: reason.toString() })),
  );
  await new Promise<void>((done, fail) => {
    ws.once('open', done);
    ws.once('error', fail);
  });
  return {
    ws,
    messages,
    closed,
    send: (msg) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
    next(type, match = () => true, timeoutMs = 20_000) {
      return new Promise((done, fail) => {
        let seen = 0;
        const check = () => {
          for (; seen < messages.length; seen++) {
            const m = messages[seen];
            if (m.type === type && match(m as never)) {
              waiters.delete(check);
              clearTimeout(timer);
              done(m as never);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          fail(new Error(`no ${type} message within ${timeoutMs} ms; got ${messages.map((m) => m.type).join(',')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => ws.close(),
  };
}
