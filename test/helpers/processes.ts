import { readdirSync, readFileSync } from 'node:fs';

/**
 * The ffmpeg processes this test process has spawned and that are still alive (zombies not
 * counted), read from /proc: what a leak test counts after a race or a failure.
 */
export function ffmpegChildren(parent: number = process.pid): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const [state, ppid] = stat.slice(close + 2).split(' ');
    if (Number(ppid) === parent && state !== 'Z' && comm.includes('ffmpeg')) found.push(Number(name));
  }
  return found;
}

/** Polls until `ffmpegChildren()` is down to `count` (or the time is up); returns the last count. */
export async function settleFfmpeg(count = 0, timeoutMs = 10_000): Promise<number[]> {
  const until = Date.now() + timeoutMs;
  let now = ffmpegChildren();
  while (now.length > count && Date.now() < until) {
    await new Promise((done) => setTimeout(done, 100));
    now = ffmpegChildren();
  }
  return now;
}
