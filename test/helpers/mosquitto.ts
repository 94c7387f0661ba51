import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { userInfo, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';

export const MOSQUITTO = '/usr/sbin/mosquitto';

/** A real mosquitto on a free loopback port with its own config in a temp folder. */
export interface Broker {
  url: string;
  port: number;
  /** Starts it (again, on the same port and data). */
  start(): Promise<void>;
  /** SIGTERM, and waits for it to exit (with persistence on, it saves its state first). */
  stop(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

/** A loopback port nothing listens on (just now). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
  const port = (s.address() as { port: number }).port;
  await new Promise((done) => s.close(done));
  return port;
}

function accepting(port: number): Promise<boolean> {
  return new Promise((done) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      done(true);
    });
    c.once('error', () => done(false));
  });
}

/**
 * @param [port] default: a free one
 * @param [persistence=false] keep sessions and retained messages across a stop/start (what a
 *   subscriber with a persistent session needs to get what was published while it reconnected)
 */
export async function startBroker(options: { persistence?: boolean; port?: number } = {}): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mosquitto-'));
  const port = options.port ?? (await freePort());
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      // As root, mosquitto would switch to the `mosquitto` user, who cannot write this folder.
      `user ${userInfo().username}`,
      options.persistence ? `persistence true\npersistence_location ${dir}/` : 'persistence false',
      'log_dest none',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  const broker: Broker = {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async start() {
      const p = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = p;
      let stderr = '';
      p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const until = Date.now() + 10_000;
      while (!(await accepting(port))) {
        if (p.exitCode !== null || Date.now() > until) throw new Error(`mosquitto did not start: ${stderr}`);
        await new Promise((done) => setTimeout(done, 50));
      }
    },
    async stop() {
      const p = child;
      child = undefined;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((done) => p.once('exit', done));
      p.kill('SIGTERM');
      await exited;
    },
    async dispose() {
      await broker.stop();
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}

/** One message as a subscriber saw it. */
export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
  qos: number;
  /** The broker's DUP flag: a QoS 1 redelivery of a message it sent before. */
  dup: boolean;
}

/** A test subscriber that keeps everything it receives and can wait for a match. */
export interface Subscriber {
  client: MqttClient;
  received: Received[];
  /** Resolves with the first message (already received or future) that matches. */
  next(match: (m: Received) => boolean, timeoutMs?: number): Promise<Received>;
  close(): Promise<void>;
}

export async function subscribe(url: string, topics: string[], options: { clientId?: string; clean?: boolean } = {}): Promise<Subscriber> {
  const client = await connectAsync(url, {
    clientId: options.clientId,
    clean: options.clean ?? true,
    reconnectPeriod: 100,
  });
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    received.push({ topic, payload, retain: packet.retain, qos: packet.qos, dup: packet.dup });
    for (const w of waiters) w();
  });
  await client.subscribeAsync(topics, { qos: 1 });
  return {
    client,
    received,
    next(match, timeoutMs = 15_000) {
      return new Promise((done, fail) => {
        let seen = 0;
        const check = () => {
          for (; seen < received.length; seen++) {
            if (match(received[seen])) {
              waiters.delete(check);
              clearTimeout(timer);
              done(received[seen]);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          fail(new Error(`no matching message within ${timeoutMs} ms; got ${received.map((m) => m.topic).join(', ')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => client.endAsync(true),
  };
}
