import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { vigilError } from '../errors.js';
import { log } from '../log.js';

const exec = promisify(execFile);
const require = createRequire(import.meta.url);

/** Why a binary was chosen: the env override, a bundled npm package, or the system PATH. */
export type BinarySource =
  'VIGIL_FFMPEG' | 'VIGIL_FFPROBE' | 'ffmpeg-static' | '@ffmpeg-installer/ffmpeg' | '@ffprobe-installer/ffprobe' | 'PATH';

export interface BinaryInfo {
  readonly path: string;
  readonly source: BinarySource;
  /** From `-version`, e.g. `N-47683-g0e8eb07980-static` or `6.1.1`. */
  readonly version: string;
  /** Candidates tried before this one and why they were passed over. */
  readonly skipped: readonly string[];
  /** RTSP socket timeout option (µs): `stimeout` before ffmpeg 5, `timeout` since. */
  readonly rtspTimeoutOption: 'stimeout' | 'timeout';
}

export interface FfmpegInfo extends BinaryInfo {
  /** `-fps_mode` exists (ffmpeg ≥ 5.1); older builds only know `-vsync`. */
  readonly fpsMode: boolean;
}

export interface Binaries {
  readonly ffmpeg: FfmpegInfo;
  readonly ffprobe: BinaryInfo;
}

interface Candidate {
  readonly source: BinarySource;
  /** Returns the binary path, or throws when the package is not installed. */
  readonly locate: () => string;
}

const CHECK_TIMEOUT_MS = 10_000;

let memo: Promise<Binaries> | undefined;

/**
 * Resolves ffmpeg and ffprobe once per process (memoised). ffmpeg: `VIGIL_FFMPEG` →
 * `ffmpeg-static` → `@ffmpeg-installer/ffmpeg` → `ffmpeg` on PATH; ffprobe: `VIGIL_FFPROBE` →
 * `@ffprobe-installer/ffprobe` → `ffprobe` on PATH. A candidate counts only if its file
 * exists and `-version` runs.
 * @throws VIGIL_ERR_FFMPEG_NOT_FOUND when an env override is unusable or nothing runs.
 */
export function resolveFfmpeg(): Promise<Binaries> {
  if (!memo) {
    memo = findFfmpeg(process.env);
    memo.then(
      ({ ffmpeg, ffprobe }) => {
        log.info(`ffmpeg: ${ffmpeg.path} (${ffmpeg.source}${ffmpeg.skipped.length ? `; skipped ${ffmpeg.skipped.join('; ')}` : ''})`);
        log.info(`ffprobe: ${ffprobe.path} (${ffprobe.source})`);
      },
      () => {},
    );
    // A failure is not cached: the user may fix the env var and retry (e.g. `vigil doctor`).
    memo.catch(() => (memo = undefined));
  }
  return memo;
}

/** Like {@link resolveFfmpeg} but never cached, and with an explicit environment (tests). */
export async function findFfmpeg(env: NodeJS.ProcessEnv = process.env): Promise<Binaries> {
  const [ffmpeg, ffprobe] = await Promise.all([
    pick('ffmpeg', env.VIGIL_FFMPEG, 'VIGIL_FFMPEG', env.PATH, [
      { source: 'ffmpeg-static', locate: () => require('ffmpeg-static') as string },
      { source: '@ffmpeg-installer/ffmpeg', locate: () => (require('@ffmpeg-installer/ffmpeg') as { path: string }).path },
    ]),
    pick('ffprobe', env.VIGIL_FFPROBE, 'VIGIL_FFPROBE', env.PATH, [
      { source: '@ffprobe-installer/ffprobe', locate: () => (require('@ffprobe-installer/ffprobe') as { path: string }).path },
    ]),
  ]);
  // Feature flags come from the help text, not the version string: static builds report
  // git hashes (`N-47683-…`) rather than release numbers.
  const help = await output(ffmpeg.path, ['-hide_banner', '-h', 'full']);
  const probeHelp = await output(ffprobe.path, ['-hide_banner', '-h', 'demuxer=rtsp']);
  return {
    ffmpeg: { ...ffmpeg, rtspTimeoutOption: rtspOption(help), fpsMode: /^\s*-fps_mode\b/m.test(help) },
    ffprobe: { ...ffprobe, rtspTimeoutOption: rtspOption(probeHelp) },
  };
}

/** A few lines for `vigil doctor`: each binary's version, path, origin and quirks. */
export async function describeFfmpeg(): Promise<string> {
  const { ffmpeg, ffprobe } = await resolveFfmpeg();
  const line = (name: string, b: BinaryInfo) => [`${name} ${b.version} (${b.source}) ${b.path}`, ...b.skipped.map((s) => `  skipped ${s}`)];
  return [
    ...line('ffmpeg ', ffmpeg),
    `  frame timing: ${ffmpeg.fpsMode ? '-fps_mode passthrough' : '-vsync passthrough (no -fps_mode in this build)'}`,
    `  rtsp timeout: -${ffmpeg.rtspTimeoutOption}`,
    ...line('ffprobe', ffprobe),
  ].join('\n');
}

/** The output options that keep every filtered frame with its own timestamp. */
export function passthroughArgs(ffmpeg: FfmpegInfo): string[] {
  // rawvideo has no timestamps, so ffmpeg's default there is CFR: it would duplicate
  // frames to fill the gaps that sampling leaves. Passthrough writes each frame once.
  return ffmpeg.fpsMode ? ['-fps_mode', 'passthrough'] : ['-vsync', 'passthrough'];
}

type Found = Omit<BinaryInfo, 'rtspTimeoutOption'>;

async function pick(
  name: string,
  override: string | undefined,
  envName: 'VIGIL_FFMPEG' | 'VIGIL_FFPROBE',
  pathEnv: string | undefined,
  packages: Candidate[],
): Promise<Found> {
  if (override) {
    const checked = await check(override);
    if (typeof checked !== 'string') return { path: override, source: envName, version: checked.version, skipped: [] };
    throw vigilError('VIGIL_ERR_FFMPEG_NOT_FOUND', `${envName}=${override} (${checked})`);
  }
  const skipped: string[] = [];
  const candidates: Candidate[] = [...packages, { source: 'PATH', locate: () => onPath(name, pathEnv) }];
  for (const c of candidates) {
    let path: string;
    try {
      path = c.locate();
    } catch (e) {
      skipped.push(`${c.source}: ${whyMissing(e)}`);
      continue;
    }
    if (!path) {
      skipped.push(`${c.source}: no binary for ${process.platform}-${process.arch}`);
      continue;
    }
    const checked = await check(path);
    if (typeof checked !== 'string') return { path, source: c.source, version: checked.version, skipped };
    skipped.push(`${c.source}: ${path} ${checked}`);
  }
  throw vigilError('VIGIL_ERR_FFMPEG_NOT_FOUND', `${name} (tried ${skipped.join('; ')}; set ${envName})`);
}

/** `{version}` when the binary runs, else the reason it is unusable. */
async function check(path: string): Promise<{ version: string } | string> {
  try {
    if (!statSync(path).isFile()) return 'is not a file';
  } catch {
    // ffmpeg-static's install script downloads the binary; offline installs leave only the JS.
    return 'does not exist';
  }
  try {
    const text = await output(path, ['-version']);
    return { version: /version (\S+)/.exec(text)?.[1] ?? 'unknown' };
  } catch (e) {
    return `does not run (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
}

async function output(path: string, args: string[]): Promise<string> {
  const { stdout } = await exec(path, args, { timeout: CHECK_TIMEOUT_MS, maxBuffer: 32 << 20 });
  return stdout;
}

function onPath(name: string, pathEnv = ''): string {
  const file = process.platform === 'win32' ? `${name}.exe` : name;
  for (const dir of pathEnv.split(delimiter).filter(Boolean)) {
    const full = join(dir, file);
    try {
      accessSync(full, constants.X_OK);
      if (statSync(full).isFile()) return full;
    } catch {
      // not in this directory
    }
  }
  throw new Error('not on PATH');
}

function rtspOption(help: string): 'stimeout' | 'timeout' {
  return /^\s*-stimeout\b/m.test(help) ? 'stimeout' : 'timeout';
}

function whyMissing(e: unknown): string {
  if ((e as NodeJS.ErrnoException)?.code === 'MODULE_NOT_FOUND') return 'not installed';
  // @ffmpeg-installer throws a bare string when its platform package lacks the binary.
  return e instanceof Error ? e.message : String(e);
}
