import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveFfmpeg } from '../src/video/ffmpeg.js';

const DIR = join(process.cwd(), '.cache', 'bench');

/**
 * A bench clip made once with ffmpeg and kept in `.cache/bench/<name>`: `input` are the
 * arguments that say what to encode (inputs and filters); every clip is h264 (veryfast,
 * yuv420p) without audio, as cameras send.
 */
export async function benchClip(name: string, input: readonly string[]): Promise<string> {
  const out = join(DIR, name);
  if (existsSync(out)) return out;
  mkdirSync(DIR, { recursive: true });
  const { ffmpeg } = await resolveFfmpeg();
  const args = ['-v', 'error', '-y', ...input, '-an', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', out];
  const r = spawnSync(ffmpeg.path, args);
  if (r.status !== 0) throw new Error(`ffmpeg could not build the bench clip ${name}: ${r.stderr.toString()}`);
  return out;
}

/** 60 s of `fixtures/fight-fi002.mp4` looped: `.cache/bench/loop-60s.mp4`. */
export const sixtySecondClip = () => benchClip('loop-60s.mp4', ['-stream_loop', '-1', '-i', 'fixtures/fight-fi002.mp4', '-t', '60']);

/** 4.5 s of the demo clip's motion, then its last frame held for 20 s: a mostly still scene. */
export const quietClip = () => benchClip('quiet.mp4', ['-i', 'fixtures/demo.mp4', '-vf', 'tpad=stop_mode=clone:stop_duration=20']);
