import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { freePort } from './mosquitto.js';

/**
 * Debian's server binaries, of the newest major version installed (`postgresql` is 15 on
 * bookworm, 17 on trixie); they are not on PATH. Falls back to 15's folder so a missing install
 * fails with that path named.
 */
function serverBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0] ?? '15';
  return join(root, newest, 'bin');
}

export const POSTGRES_BIN = serverBin();
const INITDB = join(POSTGRES_BIN, 'initdb');
const POSTGRES = join(POSTGRES_BIN, 'postgres');

/**
 * A real PostgreSQL on a free loopback port, its cluster in a temp dir, superuser `postgres`
 * with trust auth, and a database `vigil` (what {@link url} names).
 */
export interface PostgresServer {
  url: string;
  port: number;
  /** Starts it (again, on the same port and data dir: unlike the Redis helper, the data is kept). */
  start(): Promise<void>;
  /**
   * Fast shutdown (SIGINT: open sessions are ended, not waited for), and waits for it to exit;
   * `smart`: SIGTERM first, which lets sessions finish, then fast after 2 s.
   */
  stop(options?: { smart?: boolean }): Promise<void>;
  /** Stops it (smart, then fast: every pool should be ended by then) and removes its folder. */
  dispose(): Promise<void>;
}

/**
 * PostgreSQL refuses to run as root, so as root (a CI container) initdb and postgres run as
 * Debian's `postgres` user through runuser; as anyone else, as themselves.
 */
function asServerUser(): { wrap(cmd: string, args: string[]): [string, string[]]; chown(path: string): void } {
  if (process.getuid?.() !== 0) return { wrap: (cmd, args) => [cmd, args], chown: () => undefined };
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error('running as root, PostgreSQL needs the `postgres` user, which is missing: apt-get install postgresql');
  }
  return { wrap: (cmd, args) => ['runuser', ['-u', 'postgres', '--', cmd, ...args]], chown: (path) => chownSync(path, uid, gid) };
}

/**
 * A parent folder for the cluster that the `postgres` user can reach: every ancestor must be
 * searchable by others (a TMPDIR under /root is not), else /tmp.
 */
function reachableTmpdir(): string {
  const traversable = (dir: string): boolean => {
    for (let d = dir; ; d = dirname(d)) {
      if ((statSync(d).mode & 0o001) === 0) return false;
      if (d === dirname(d)) return true;
    }
  };
  return process.getuid?.() !== 0 || traversable(tmpdir()) ? tmpdir() : '/tmp';
}

/** Runs a command to completion, rejecting with its output when it fails. */
function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((done, fail) => {
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.once('error', fail);
    p.once('exit', (code) => (code === 0 ? done() : fail(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${output}`))));
  });
}

/** Answers true once the server accepts a session (a listening socket alone may still be starting up). */
async function accepting(port: number): Promise<boolean> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Fails loudly (rather than skipping) when PostgreSQL is not installed: the store's PostgreSQL
 * tests are worth nothing if they silently do not run.
 * @param [port] default: a free one
 */
export async function startPostgres(options: { port?: number } = {}): Promise<PostgresServer> {
  for (const bin of [INITDB, POSTGRES]) if (!existsSync(bin)) throw new Error(`${bin} is missing: apt-get install postgresql`);
  const user = asServerUser();
  const dir = mkdtempSync(join(reachableTmpdir(), 'vigil-pg-'));
  const data = join(dir, 'data');
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let created = false;
  const server: PostgresServer = {
    url: `postgres://postgres@127.0.0.1:${port}/vigil`,
    port,
    async start() {
      // Durability off: a test cluster is thrown away, and fsync dominates its run time. The
      // socket goes in the temp dir, not /var/run/postgresql (which may not exist, or be another cluster's).
      const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'];
      args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
      const [cmd, argv] = user.wrap(POSTGRES, args);
      const p = spawn(cmd, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      child = p;
      let output = '';
      p.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      p.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      const until = Date.now() + 20_000;
      while (!(await accepting(port))) {
        if (p.exitCode !== null || p.signalCode !== null || Date.now() > until) {
          await server.stop();
          throw new Error(`postgres did not start on ${port}: ${output}`);
        }
        await new Promise((done) => setTimeout(done, 50));
      }
      if (!created) {
        const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
        await admin.connect();
        await admin.query('CREATE DATABASE vigil').finally(() => admin.end());
        created = true;
      }
    },
    async stop({ smart = false } = {}) {
      const p = child;
      child = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((done) => p.once('exit', done));
      // Signal the postmaster itself: through runuser, `p` is runuser, which would answer a
      // signal by killing postgres outright. SIGTERM would be a smart shutdown, which waits
      // for every open session (a test's pool) to end.
      const pidFile = join(data, 'postmaster.pid');
      const postmaster = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : NaN;
      const signal = (sig: NodeJS.Signals) =>
        Number.isInteger(postmaster) && postmaster > 0 ? process.kill(postmaster, sig) : p.kill('SIGKILL');
      // Smart first when asked: the test's pools have been ended, but a connection still
      // closing would get "terminating connection due to administrator command" from a fast
      // shutdown, with no listener left to take it (an uncaught error in the test run).
      let fast: NodeJS.Timeout | undefined;
      if (smart) {
        signal('SIGTERM');
        fast = setTimeout(() => signal('SIGINT'), 2000);
      } else signal('SIGINT');
      const late = setTimeout(() => p.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(fast);
      clearTimeout(late);
    },
    async dispose() {
      await server.stop({ smart: true });
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    user.chown(dir);
    const [cmd, argv] = user.wrap(INITDB, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    await run(cmd, argv, dir);
    await server.start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return server;
}
