import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { resolveFfmpeg } from '../../src/video/ffmpeg.js';

const exec = promisify(execFile);

/** Absolute path of a clip in `fixtures/` (see fixtures/README.md). */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
}

export interface ClipSpec {
  width: number;
  height: number;
  fps: number;
  durationS: number;
  /**
   * What the frames show [pattern='bar']: `bar` = a white bar {@link BAR_WIDTH} px wide, full
   * height, on black, its left edge at {@link barX}; `white` = all white; `corner` = black with
   * a white top-left quarter (to see rotation); `testsrc2` = ffmpeg's test card.
   */
  pattern?: 'bar' | 'white' | 'corner' | 'testsrc2';
  /** [format='mp4'] mp4 is h264 with the moov at the end (like the fixtures); webm is VP8. */
  format?: 'mp4' | 'webm';
  /** Put the moov first, so a cut copy still decodes up to the cut [faststart=false]. */
  faststart?: boolean;
  /** Rotation metadata written on remux (`-metadata:s:v:0 rotate=`) [rotate=0]. */
  rotate?: number;
}

export const BAR_WIDTH = 20;

/** The clip (`faststart.mp4`) whose first half is {@link BadInputs.cutMidway}. */
export const FASTSTART: ClipSpec = { width: 160, height: 120, fps: 30, durationS: 4, faststart: true };

/** Left edge of the bar at time `tMs`: it sweeps left to right over the clip's duration. */
export function barX(tMs: number, spec: Pick<ClipSpec, 'width' | 'durationS'>): number {
  return Math.floor((tMs / 1000) * barSpeed(spec));
}

function barSpeed(spec: Pick<ClipSpec, 'width' | 'durationS'>): number {
  return (spec.width - BAR_WIDTH) / spec.durationS;
}

/** A temp folder of generated clips and broken inputs; `remove()` when done. */
export interface ClipDir {
  readonly dir: string;
  /** Encodes a synthetic clip with the resolved ffmpeg; cached by name. */
  clip(name: string, spec: ClipSpec): Promise<string>;
  /** Inputs that must fail, each with a known reason. */
  bad(): Promise<BadInputs>;
  remove(): Promise<void>;
}

export interface BadInputs {
  missing: string;
  directory: string;
  empty: string;
  /** A text file named .mp4. */
  text: string;
  /** The first half of a real fixture: its moov (at the end) is gone. */
  truncated: string;
  /** The first half of {@link FASTSTART}'s bytes: the frames before the cut still decode. */
  cutMidway: string;
  /** An audio-only m4a. */
  audioOnly: string;
}

export async function createClipDir(): Promise<ClipDir> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-clips-'));
  const made = new Map<string, Promise<string>>();
  let bad: Promise<BadInputs> | undefined;
  const clip = (name: string, spec: ClipSpec) => {
    if (!made.has(name)) made.set(name, encode(join(dir, name), spec));
    return made.get(name)!;
  };
  return {
    dir,
    clip,
    bad: () => (bad ??= makeBad(dir, clip)),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

async function ffmpeg(args: string[]): Promise<void> {
  const { ffmpeg } = await resolveFfmpeg();
  await exec(ffmpeg.path, ['-y', '-nostdin', '-hide_banner', '-loglevel', 'error', ...args]);
}

async function encode(out: string, spec: ClipSpec): Promise<string> {
  const { width: w, height: h, fps, durationS: d } = spec;
  const size = `${w}x${h}`;
  const graphs = {
    bar:
      `color=c=black:s=${size}:r=${fps}:d=${d}[bg];color=c=white:s=${BAR_WIDTH}x${h}:r=${fps}[bar];` +
      `[bg][bar]overlay=x='floor(t*${barSpeed(spec)})':y=0:shortest=1[out0]`,
    white: `color=c=white:s=${size}:r=${fps}:d=${d}`,
    corner: `color=c=black:s=${size}:r=${fps}:d=${d},drawbox=x=0:y=0:w=${w / 2}:h=${h / 2}:color=white:t=fill`,
    testsrc2: `testsrc2=s=${size}:r=${fps}:d=${d}`,
  };
  const codec =
    spec.format === 'webm'
      ? ['-c:v', 'libvpx', '-pix_fmt', 'yuv420p', '-b:v', '1M', '-deadline', 'realtime', '-cpu-used', '8']
      : ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', ...(spec.faststart ? ['-movflags', '+faststart'] : [])];
  const plain = spec.rotate ? `${out}.plain.${spec.format ?? 'mp4'}` : out;
  await ffmpeg(['-f', 'lavfi', '-i', graphs[spec.pattern ?? 'bar'], ...codec, '-f', spec.format ?? 'mp4', plain]);
  if (spec.rotate) {
    await ffmpeg(['-i', plain, '-c', 'copy', '-metadata:s:v:0', `rotate=${spec.rotate}`, '-f', 'mp4', out]);
  }
  return out;
}

/** A red square on a left-to-right grey gradient, one position per frame. */
export interface MovingBoxSpec {
  /** Square frame side in px. */
  size: number;
  fps: number;
  box: number;
  y: number;
  /** The square's left edge in frame n (the clip has `xs.length` frames). */
  xs: readonly number[];
}

/**
 * Encodes one frame per entry of `spec.xs`. The gradient makes the position visible to a
 * CNN whose features are pooled over space (on black, a square looks nearly the same
 * anywhere). Clips whose `xs` are permutations of each other hold the same frames.
 */
export async function movingBoxClip(out: string, spec: MovingBoxSpec): Promise<string> {
  const { size, fps, box, y, xs } = spec;
  const x = xs.reduceRight((rest, v, n) => `if(eq(n\\,${n})\\,${v}\\,${rest})`, '0');
  const graph =
    `color=c=gray:s=${size}x${size}:r=${fps}:d=${xs.length / fps},geq=lum='X*255/W':cb=128:cr=128[bg];` +
    `color=c=red:s=${box}x${box}:r=${fps}[box];[bg][box]overlay=x='${x}':y=${y}:shortest=1`;
  await ffmpeg(['-f', 'lavfi', '-i', graph, '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', out]);
  return out;
}

async function makeBad(dir: string, clip: ClipDir['clip']): Promise<BadInputs> {
  const at = (name: string) => join(dir, name);
  await mkdir(at('folder.mp4'));
  await writeFile(at('empty.mp4'), '');
  await writeFile(at('text.mp4'), 'this is a text file, not a video\n');
  const real = await readFile(fixture('fight-fi150.mp4'));
  await writeFile(at('truncated.mp4'), real.subarray(0, real.length >> 1));
  const whole = await readFile(await clip('faststart.mp4', FASTSTART));
  await writeFile(at('cut-midway.mp4'), whole.subarray(0, whole.length >> 1));
  await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:a', 'aac', at('audio-only.m4a')]);
  return {
    missing: at('missing.mp4'),
    directory: at('folder.mp4'),
    empty: at('empty.mp4'),
    text: at('text.mp4'),
    truncated: at('truncated.mp4'),
    cutMidway: at('cut-midway.mp4'),
    audioOnly: at('audio-only.m4a'),
  };
}

/** A TCP server on 127.0.0.1 that accepts connections and never answers (a hung camera). */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: () =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  };
}

/** Serves one file over http on 127.0.0.1 with byte ranges (ffmpeg seeks to an mp4's moov). */
export async function serveFile(path: string): Promise<{ url: string; close(): Promise<void> }> {
  const body = await readFile(path);
  const server = createHttpServer((req, res) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m && m[2] ? Number(m[2]) : body.length - 1;
    res.writeHead(m ? 206 : 200, {
      'content-type': 'video/mp4',
      'accept-ranges': 'bytes',
      'content-length': end - start + 1,
      ...(m ? { 'content-range': `bytes ${start}-${end}/${body.length}` } : {}),
    });
    res.end(body.subarray(start, end + 1));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/clip.mp4`,
    close: () => new Promise<void>((done) => (server.closeAllConnections(), server.close(() => done()))),
  };
}

/** Whether a process exists (a zombie counts: it has not been reaped). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
