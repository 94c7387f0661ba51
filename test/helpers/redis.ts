import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './mosquitto.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

/** A real redis-server on a free loopback port, its working folder in a temp dir, nothing persisted. */
export interface RedisServer {
  url: string;
  port: number;
  /** Starts it (again, on the same port; with nothing persisted it starts empty). */
  start(): Promise<void>;
  /** SIGTERM, and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

/** Answers true once the server replies +PONG to an inline PING (a listening socket alone may still be loading). */
function pong(port: number): Promise<boolean> {
  return new Promise((done) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    let reply = '';
    const finish = (ok: boolean) => {
      c.destroy();
      done(ok);
    };
    c.setTimeout(1000, () => finish(false));
    c.once('connect', () => c.write('PING\r\n'));
    c.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    c.once('error', () => finish(false));
  });
}

/**
 * Fails loudly (rather than skipping) when redis-server is not installed: the fleet tests are
 * worth nothing if they silently do not run.
 * @param [port] default: a free one
 */
export async function startRedis(options: { port?: number } = {}): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} is missing: apt-get install redis-server`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-redis-'));
  const port = options.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
  let child: ChildProcess | undefined;
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      const p = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = p;
      let output = '';
      p.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      p.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      const until = Date.now() + 10_000;
      while (!(await pong(port))) {
        if (p.exitCode !== null || Date.now() > until) {
          p.kill('SIGKILL');
          throw new Error(`redis-server did not start on ${port}: ${output}`);
        }
        await new Promise((done) => setTimeout(done, 25));
      }
    },
    async stop() {
      const p = child;
      child = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((done) => p.once('exit', done));
      p.kill('SIGTERM');
      await exited;
    },
    async dispose() {
      await server.stop();
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
