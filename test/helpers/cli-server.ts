import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI (`npm test` builds it first, through `pretest`). */
export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

/** `vigil serve` as its own process, on port 0 over a fresh data folder: what an operator runs. */
export interface CliServer {
  child: ChildProcess;
  url: string;
  dataDir: string;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then waits for the exit (SIGKILL after `timeoutMs`); removes the data folder. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startCliServer(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<CliServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-cli-'));
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data', dataDir, '--no-demo', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal })),
  );
  const url = await new Promise<string>((done, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`vigil serve did not start within 60 s; stderr:\n${err}`)), 60_000);
    child.stdout?.on('data', (d) => {
      out += d;
      const m = /serving (http:\/\/\S+?)\/ /.exec(out);
      if (m) {
        clearTimeout(timer);
        done(m[1]);
      }
    });
    void exited.then((e) => {
      clearTimeout(timer);
      fail(new Error(`vigil serve exited (${e.code ?? e.signal}) before serving; stderr:\n${err}`));
    });
  });
  return {
    child,
    url,
    dataDir,
    stderr: () => err,
    exited,
    async stop(timeoutMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(kill);
      await rm(dataDir, { recursive: true, force: true });
      return result;
    },
  };
}
