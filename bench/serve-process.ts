import { spawn, type ChildProcess } from 'node:child_process';

/** A `vigil serve` the bench started in its own process, serving at `url`. */
export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** Settles when the process has exited (however it ended). */
  exited: Promise<unknown>;
  /** SIGTERM (a clean stop) unless it has exited already; resolves once it has. */
  stop(): Promise<void>;
}

/**
 * `vigil serve` from the sources (`-q`, `--port 0` expected among `args`), as an operator runs
 * it: the bench's clients do not share its CPU, and its threads can be told apart in /proc.
 * Resolves with the URL it prints once it serves; rejects if it exits first.
 */
export async function startServe(args: readonly string[], what = 'vigil serve'): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  const url = await new Promise<string>((done, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /serving (http:\/\/\S+?)\/ /.exec(out);
      if (m) done(m[1]);
    });
    void exited.then(() => fail(new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before serving`)));
  });
  return {
    url,
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
