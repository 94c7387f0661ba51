import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { vigilError } from '../errors.js';
import { resolveFfmpeg, type BinaryInfo } from './ffmpeg.js';
import type { ProbeInfo, SourceInput } from './types.js';

/** What a source is: a local file, a network URL, or a byte stream piped into ffmpeg. */
export type SourceKind = 'file' | 'url' | 'stream';

export interface ProbeOptions {
  signal?: AbortSignal;
  /** Whole-probe budget and network I/O timeout, in ms [timeoutMs=10000]. */
  timeoutMs?: number;
}

const URL_SCHEMES = new Set(['rtsp', 'rtsps', 'http', 'https']);
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Checks a source before ffmpeg sees it, so the common mistakes get precise errors.
 * Strings with `scheme://` are URLs (rtsp, rtsps, http, https); other strings are paths
 * and must name a non-empty regular file.
 * @throws VIGIL_ERR_SOURCE_SCHEME, VIGIL_ERR_SOURCE_NOT_FOUND, VIGIL_ERR_SOURCE_NOT_FILE,
 *   VIGIL_ERR_SOURCE_EMPTY, VIGIL_ERR_INVALID_ARGUMENT
 */
export function classifySource(input: SourceInput): SourceKind {
  if (typeof input !== 'string') {
    if (input && typeof input.pipe === 'function') return 'stream';
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'source must be a file path, a URL or a readable stream');
  }
  if (input === '') throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'source is an empty string');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(input)?.[1].toLowerCase();
  if (scheme !== undefined) {
    if (!URL_SCHEMES.has(scheme)) throw vigilError('VIGIL_ERR_SOURCE_SCHEME', displaySource(input));
    return 'url';
  }
  let stat;
  try {
    stat = statSync(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw vigilError('VIGIL_ERR_SOURCE_NOT_FOUND', input);
    throw vigilError('VIGIL_ERR_SOURCE_INVALID', `${input} (${code})`, e);
  }
  if (!stat.isFile()) throw vigilError('VIGIL_ERR_SOURCE_NOT_FILE', input);
  if (stat.size === 0) throw vigilError('VIGIL_ERR_SOURCE_EMPTY', input);
  return 'file';
}

/**
 * A source (or any text naming it, such as an ffmpeg message) as it may appear in errors
 * and logs: URL passwords become `***`, e.g. `rtsp://admin:***@cam/1`.
 */
export function displaySource(input: SourceInput): string {
  if (typeof input !== 'string') return '<stream>';
  return input.replace(/([a-z][a-z0-9+.-]*:\/\/[^/@:\s]*):[^/@\s]*@/gi, '$1:***@');
}

/**
 * The `-i` argument and the input options for a classified source. Files go through the
 * `file:` protocol so names with a colon or a leading dash are not taken as URLs or options.
 */
export function inputArgs(input: string, kind: 'file' | 'url', binary: BinaryInfo, timeoutMs: number): string[] {
  if (kind === 'file') return ['-i', `file:${resolve(input)}`];
  const us = String(Math.round(timeoutMs * 1000));
  // The npm static builds cannot resolve host names (see hostLookupCrash), not even this one.
  const url = input.replace(/^([a-z]+:\/\/(?:[^/@]*@)?)localhost(?=[:/?]|$)/i, '$1127.0.0.1');
  return /^rtsps?:/i.test(url)
    ? // RTSP over TCP: UDP through NAT or a firewall often yields nothing at all.
      ['-rtsp_transport', 'tcp', `-${binary.rtspTimeoutOption}`, us, '-i', url]
    : ['-rw_timeout', us, '-i', url];
}

/**
 * Explains a segfault on a URL with a host name: statically linked glibc (the npm ffmpeg and
 * ffprobe builds) crashes in getaddrinfo unless nscd runs. `undefined` for other crashes.
 */
export function hostLookupCrash(input: string, signal: string | null | undefined): string | undefined {
  if (signal !== 'SIGSEGV') return undefined;
  const host = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/@]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(input)?.[1] ?? '';
  if (host === '' || isIP(host.replace(/^\[|\]$/g, '')) !== 0) return undefined;
  return (
    `ffmpeg crashed looking up ${host}: static ffmpeg builds cannot resolve host names without nscd; ` +
    'use an IP address, or set VIGIL_FFMPEG and VIGIL_FFPROBE to a system ffmpeg'
  );
}

/**
 * Reads a file's or URL's video stream parameters with ffprobe.
 * @param [opts.timeoutMs=10000] ffprobe is killed after this long (DNS lookups ignore
 *   ffmpeg's own I/O timeouts).
 * @throws the errors of {@link classifySource}; VIGIL_ERR_SOURCE_INVALID (file ffprobe cannot
 *   read), VIGIL_ERR_SOURCE_UNREACHABLE (URL that fails or times out),
 *   VIGIL_ERR_SOURCE_NO_VIDEO, VIGIL_ERR_ABORTED.
 * @example
 * await probe('fixtures/fight-fi150.mp4')
 * // { durationS: 2.020136, fps: 25, width: 352, height: 240, codec: 'h264', rotation: 0, frames: 50 }
 */
export async function probe(source: string, opts: ProbeOptions = {}): Promise<ProbeInfo> {
  const kind = classifySource(source);
  if (kind === 'stream') throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'probe takes a file path or URL');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { ffprobe } = await resolveFfmpeg();
  const inArgs = inputArgs(source, kind, ffprobe, timeoutMs);
  const name = inArgs[inArgs.length - 1];
  const args = ['-v', 'error', '-of', 'json', '-show_streams', '-show_format', ...inArgs];

  const shown = displaySource(source);
  const failed = kind === 'url' ? 'VIGIL_ERR_SOURCE_UNREACHABLE' : 'VIGIL_ERR_SOURCE_INVALID';
  let stdout: string;
  try {
    stdout = await run(ffprobe.path, args, timeoutMs, opts.signal);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { killed?: boolean; stderr?: string; signal?: string };
    if (opts.signal?.aborted) throw vigilError('VIGIL_ERR_ABORTED', `probing ${shown}`, opts.signal.reason);
    if (err.killed) throw vigilError(failed, `${shown} (timed out after ${timeoutMs / 1000} s)`);
    const crash = kind === 'url' ? hostLookupCrash(source, err.signal) : undefined;
    const last = crash ?? ((err.stderr ?? '').trim().split('\n').pop()?.trim() || `ffprobe failed (${err.signal ?? err.code})`);
    const reason = displaySource(last.startsWith(`${name}: `) ? last.slice(name.length + 2) : last);
    throw vigilError(failed, `${shown} (${reason})`);
  }
  return parse(stdout, shown, /^rtsps?:/i.test(source));
}

function run(file: string, args: string[], timeoutMs: number, signal?: AbortSignal): Promise<string> {
  return new Promise((done, fail) => {
    // execFile kills on timeout/abort and reports only after the process is gone: no zombies.
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', signal, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (!error) return done(stdout);
      // An Error: @types/node types it through Omit<>, which hides that from the lint.
      const failure: Error & { stderr: string } = Object.assign(error, { stderr });
      fail(failure);
    });
  });
}

interface RawStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  duration?: string;
  tags?: { rotate?: string };
  side_data_list?: Array<{ rotation?: number }>;
  disposition?: { attached_pic?: number };
}

function parse(json: string, shown: string, live: boolean): ProbeInfo {
  const out = JSON.parse(json) as { streams?: RawStream[]; format?: { duration?: string } };
  // Cover art in an mp4/mp3 is a one-frame "video" stream; it is not video.
  const v = out.streams?.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!v || !v.width || !v.height) throw vigilError('VIGIL_ERR_SOURCE_NO_VIDEO', shown);
  const duration = Number(out.format?.duration ?? v.duration);
  const frames = Number(v.nb_frames);
  return {
    durationS: !live && Number.isFinite(duration) && duration > 0 ? duration : null,
    fps: rate(v.avg_frame_rate) ?? rate(v.r_frame_rate),
    width: v.width,
    height: v.height,
    codec: v.codec_name ?? 'unknown',
    rotation: rotation(v),
    frames: Number.isInteger(frames) && frames > 0 ? frames : null,
  };
}

function rate(r: string | undefined): number | null {
  const [n, d] = (r ?? '').split('/').map(Number);
  return n > 0 && d > 0 ? n / d : null;
}

/** Clockwise degrees. Old ffprobe reports a `rotate` tag (clockwise); newer ones only the
 * display matrix, whose `rotation` is counter-clockwise. */
function rotation(v: RawStream): number {
  const tag = Number(v.tags?.rotate);
  const matrix = v.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  const cw = Number.isFinite(tag) && v.tags?.rotate !== undefined ? tag : matrix !== undefined ? -matrix : 0;
  return (((Math.round(cw / 90) * 90) % 360) + 360) % 360;
}
