import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { vigilError, type ErrorCode } from '../errors.js';
import { createFfmpegLog, type FfmpegLog } from './ffmpeg-log.js';
import { passthroughArgs, resolveFfmpeg, type FfmpegInfo } from './ffmpeg.js';
import { createFrameAssembler } from './frame-assembler.js';
import { classifySource, displaySource, hostLookupCrash, inputArgs, type SourceKind } from './probe.js';
import type { Frame, FrameOutput, FrameSource, FrameSourceOptions, SourceInput } from './types.js';

/** Counters for diagnostics and tests; they show that a slow consumer stalls ffmpeg. */
export interface DecodeStats {
  /** Frames ffmpeg has produced (announced on stderr). */
  readonly decoded: number;
  /** Frames cut from stdout. */
  readonly assembled: number;
  /** Frames handed to the consumer. */
  readonly yielded: number;
}

/** A {@link FrameSource} backed by one ffmpeg process. */
export interface FfmpegFrameSource extends FrameSource {
  /** ffmpeg's pid once started; it starts on the first `next()`, not on `openFrames()`. */
  readonly pid: number | undefined;
  readonly stats: DecodeStats;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

const DEFAULT_FPS = 8;
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Decodes a file, URL or byte stream into RGB24 frames sampled at `fps`, letterboxed into
 * `width`x`height`. Each frame keeps the source's own timestamp; a source slower than `fps`
 * yields its own frames, never duplicates. Bad paths and URL schemes throw here; ffmpeg's
 * failures reject the first `next()`. A stream input must be a streamable container
 * (webm/mkv, mpeg-ts, fragmented or faststart mp4).
 * @param options `width`, `height`; [options.fps=8], [options.realtime=false],
 *   [options.loop=false] (files only), [options.timeoutMs=10000], [options.onWarning],
 *   [options.signal]; see {@link FrameSourceOptions}.
 * @throws VIGIL_ERR_INVALID_ARGUMENT and the errors of `classifySource`; while iterating:
 *   VIGIL_ERR_SOURCE_INVALID, VIGIL_ERR_SOURCE_UNREACHABLE, VIGIL_ERR_SOURCE_NO_VIDEO,
 *   VIGIL_ERR_DECODE, VIGIL_ERR_ABORTED, VIGIL_ERR_FFMPEG_NOT_FOUND.
 * @example
 * for await (const f of openFrames('fixtures/fight-fi150.mp4', { width: 224, height: 224 })) {
 *   console.log(f.index, f.tMs); // 0 0, 1 160, 2 280, 3 400, ...
 * }
 */
export function openFrames(input: SourceInput, options: FrameSourceOptions): FfmpegFrameSource {
  const { width, height, signal, realtime = false, loop = false } = options;
  const fps = options.fps ?? DEFAULT_FPS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const threads = options.threads ?? 0;
  if (!(Number.isInteger(threads) && threads >= 0)) throw invalid(`threads must be a whole number ≥ 0 (got ${threads})`);
  checkSize('width', width);
  checkSize('height', height);
  if (!(fps > 0 && Number.isFinite(fps))) throw invalid(`fps must be a positive number (got ${fps})`);
  if (!(timeoutMs > 0)) throw invalid(`timeoutMs must be positive (got ${timeoutMs})`);
  const outputs: Array<Required<FrameOutput>> = [{ width, height, fps, filters: options.filters ?? [] }];
  for (const [i, o] of (options.outputs ?? []).entries()) {
    checkSize(`outputs[${i}].width`, o.width);
    checkSize(`outputs[${i}].height`, o.height);
    const f = o.fps ?? DEFAULT_FPS;
    if (!(f > 0 && Number.isFinite(f))) throw invalid(`outputs[${i}].fps must be a positive number (got ${f})`);
    outputs.push({ width: o.width, height: o.height, fps: f, filters: o.filters ?? [] });
  }
  const kind = classifySource(input);
  if (loop && kind !== 'file') throw invalid('loop needs a file source');
  const shown = displaySource(input);
  const stats = { decoded: 0, assembled: 0, yielded: 0 };
  let child: ChildProcess | undefined;
  let exited: Promise<Exit> = Promise.resolve({ code: 0, signal: null });
  // Set by close()/break/abort: from then on ffmpeg's death is ours, not an error.
  let stopped = false;

  async function stop(): Promise<void> {
    stopped = true;
    if (!child) return;
    if (typeof input !== 'string') input.unpipe(child.stdin as Writable);
    child.stdin?.destroy();
    // SIGKILL: ffmpeg would answer SIGTERM by flushing into a pipe nobody reads any more.
    child.kill('SIGKILL');
    await exited;
  }

  async function* frames(): AsyncGenerator<Frame, void, undefined> {
    const onAbort = () => void stop();
    signal?.addEventListener('abort', onAbort, { once: true });
    let detachInput = () => {};
    try {
      if (signal?.aborted) throw aborted();
      const { ffmpeg } = await resolveFfmpeg();
      if (signal?.aborted) throw aborted();
      if (stopped) return;

      const extraPipes = options.extraPipes ?? 0;
      const args = ffmpegArgs(ffmpeg, input, kind, {
        outputs,
        realtime,
        loop,
        timeoutMs,
        threads,
        extra: options.extraOutputArgs ?? [],
        firstOutputFd: 3 + extraPipes,
      });
      const run = startFfmpeg(ffmpeg.path, args, kind === 'stream', (n) => (stats.decoded = n), extraPipes, outputs.length);
      child = run.proc;
      if (extraPipes) options.onExtraPipes?.(run.proc.stdio.slice(3, 3 + extraPipes) as Readable[]);
      exited = run.exited;
      let inputFailure: string | undefined;
      if (typeof input !== 'string') {
        detachInput = feedStdin(input, run.proc.stdin as Writable, (e) => (inputFailure = `input stream failed: ${e.message}`));
      }

      const pipes = [run.proc.stdout as Readable, ...(run.proc.stdio.slice(3 + extraPipes) as Readable[])];
      const assemblers = outputs.map((o) => createFrameAssembler(o.width * o.height * 3));
      const clocks = outputs.map((o) => monotonicClock(1000 / o.fps));
      const counts = outputs.map(() => 0);
      let index = 0; // frames yielded, of every output
      let readFailure: string | undefined;
      try {
        chunks: for await (const [k, chunk] of mergeStreams(pipes)) {
          const ready = assemblers[k].push(chunk);
          if (k === 0) stats.assembled += ready.length;
          for (const data of ready) {
            const raw = await run.nextStamp(k);
            if (stopped) break chunks;
            if (k === 0) stats.yielded++;
            index++;
            const { width: w, height: h } = outputs[k];
            const tMs = clocks[k](raw);
            yield k === 0
              ? { index: counts[k]++, tMs, width: w, height: h, data }
              : { index: counts[k]++, tMs, width: w, height: h, data, output: k };
            if (stopped) break chunks;
          }
        }
      } catch (e) {
        readFailure = (e as Error).message;
      }
      const exit = await run.exited;
      if (signal?.aborted) throw aborted();
      if (stopped) return;
      await run.stderrClosed;

      const crash = typeof input === 'string' && kind === 'url' ? hostLookupCrash(input, exit.signal) : undefined;
      const failure = crash ?? inputFailure ?? readFailure ?? exitFailure(exit);
      if (failure === undefined && run.log.errors === 0) {
        const partial = assemblers.reduce((n, a) => n + a.pendingBytes, 0);
        if (partial > 0) warn(`${shown}: dropped a partial last frame (${partial} bytes)`);
        return;
      }
      const problem = displaySource(crash ?? run.log.lastError ?? failure ?? 'unknown error');
      if (index > 0) {
        // A truncated file or a dropped feed: keep the good frames, end normally, say so.
        warn(`${shown}: decoding stopped after ${index} frames (${problem})`);
        return;
      }
      const cause = new Error(displaySource(run.log.tail().join('\n')));
      if (run.log.noVideo) throw vigilError('VIGIL_ERR_SOURCE_NO_VIDEO', shown, cause);
      throw vigilError(failureCode(kind, run.log.inputOpened), `${shown} (${problem})`, cause);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      detachInput();
      await stop();
    }
  }

  function warn(message: string): void {
    options.onWarning?.(message);
  }

  function aborted() {
    return vigilError('VIGIL_ERR_ABORTED', `decoding ${shown}`, signal?.reason);
  }

  const generator = frames();
  return {
    [Symbol.asyncIterator]: () => generator,
    async close() {
      await stop();
      await generator.return(undefined);
    },
    get pid() {
      return child?.pid;
    },
    stats,
  };
}

interface Plan {
  /** The frames' outputs: the first on stdout, the others on pipes from `firstOutputFd`. */
  outputs: ReadonlyArray<Required<FrameOutput>>;
  realtime: boolean;
  loop: boolean;
  extra: readonly string[];
  timeoutMs: number;
  threads: number;
  firstOutputFd: number;
}

function ffmpegArgs(ffmpeg: FfmpegInfo, input: SourceInput, kind: SourceKind, p: Plan): string[] {
  // `level+info` tags each line with its level (to find errors); showinfo logs at info.
  const args = ['-hide_banner', '-nostats', '-loglevel', 'level+info'];
  if (kind !== 'stream') args.push('-nostdin');
  // A URL or a pipe already arrives at its own pace; only a file needs -re to act live.
  if (p.realtime && kind === 'file') args.push('-re');
  if (p.loop) args.push('-stream_loop', '-1');
  // -filter_threads is global; -threads before -i is the decoder's.
  if (p.threads > 0) args.push('-filter_threads', String(p.threads), '-threads', String(p.threads));
  args.push(...(typeof input === 'string' && kind !== 'stream' ? inputArgs(input, kind, ffmpeg, p.timeoutMs) : ['-i', 'pipe:0']));
  p.outputs.forEach(({ width: w, height: h, fps, filters: own }, k) => {
    const filters = [
      // Keep the first frame of each 1/fps bin: frames keep their own timestamps and a slow
      // source is never padded with duplicates. lt() re-arms after timestamps jump back.
      `select='isnan(prev_selected_t)+gte(floor(t*${fps})-floor(prev_selected_t*${fps}),1)+lt(t,prev_selected_t)'`,
      ...own,
      // Letterbox, not centre-crop: a crop would cut off the edges of a surveillance scene,
      // where people often are.
      `scale=${w}:${h}:force_original_aspect_ratio=decrease`,
      `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2`,
      // Each -vf is a graph of its own, numbered from 0: a name tells the outputs' lines apart (ffmpeg-log.ts).
      k === 0 ? 'showinfo' : `showinfo@vigil_out${k}`,
    ];
    args.push('-map', '0:v:0', '-vf', filters.join(','), ...passthroughArgs(ffmpeg));
    args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', k === 0 ? 'pipe:1' : `pipe:${p.firstOutputFd + k - 1}`);
  });
  args.push(...p.extra);
  return args;
}

interface Run {
  proc: ChildProcess;
  exited: Promise<Exit>;
  stderrClosed: Promise<void>;
  log: FfmpegLog;
  /** The timestamp of output k's next frame (0: stdout); `null` if ffmpeg gave none. */
  nextStamp(output: number): Promise<number | null>;
}

function startFfmpeg(
  path: string,
  args: string[],
  withStdin: boolean,
  onFrames: (n: number) => void,
  extraPipes: number,
  outputs: number,
): Run {
  const extra = Array.from({ length: extraPipes + outputs - 1 }, () => 'pipe' as const);
  const proc = spawn(path, args, { stdio: [withStdin ? 'pipe' : 'ignore', 'pipe', 'pipe', ...extra] });
  const exited = new Promise<Exit>((done) => {
    proc.once('exit', (code, signal) => done({ code, signal }));
    proc.on('error', (error) => done({ code: null, signal: null, error }));
  });
  // Frame n on stdout is announced by showinfo line n on stderr. The two pipes race, so
  // timestamps wait in a queue; it stays short because stdout backpressure stalls ffmpeg.
  const stamps = Array.from({ length: outputs }, (): Array<number | null> => []);
  let ended = false;
  let wake = () => {};
  const log = createFfmpegLog(args[args.indexOf('-i') + 1], (k, t) => stamps[k]?.push(t));
  const take = (found: Array<number | null>) => {
    stamps[0].push(...found);
    onFrames(log.frames);
    wake();
  };
  const stderr = proc.stderr as Readable;
  stderr.setEncoding('utf8');
  stderr.on('data', (text: string) => take(log.push(text)));
  stderr.on('error', () => {}); // ends in 'close' as well; the exit status tells the story
  const stderrClosed = new Promise<void>((done) =>
    stderr.once('close', () => {
      ended = true;
      take(log.end());
      done();
    }),
  );
  // One consumer waits at a time (the frames' generator), so one wake suffices.
  const nextStamp = async (k: number) => {
    const queue = stamps[k];
    while (queue.length === 0 && !ended) await new Promise<void>((r) => (wake = r));
    return queue.length > 0 ? queue.shift()! : null;
  };
  return { proc, exited, stderrClosed, log, nextStamp };
}

/**
 * The chunks of several streams as they arrive, tagged with the stream's index. Each stream
 * is read one chunk ahead of the consumer, so a slow consumer stalls ffmpeg as a single
 * `for await` would. A stream's error ends the merge with it (the others are destroyed).
 * @internal exported for tests
 */
export async function* mergeStreams(streams: readonly Readable[]): AsyncGenerator<[number, Buffer], void, undefined> {
  type Pull = { k: number; r?: IteratorResult<Buffer>; error?: unknown };
  const iterators = streams.map((s) => s[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  // Settled, never rejected: a stream failing after the merge stopped must not be an unhandled rejection.
  const pending = new Map<number, Promise<Pull>>();
  const pull = (k: number) =>
    pending.set(
      k,
      iterators[k].next().then(
        (r) => ({ k, r }),
        (error: unknown) => ({ k, error }),
      ),
    );
  iterators.forEach((_, k) => pull(k));
  try {
    while (pending.size > 0) {
      const { k, r, error } = await Promise.race(pending.values());
      pending.delete(k);
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- a stream's error, rethrown as it came
      if (error !== undefined) throw error;
      if (r!.done) continue;
      yield [k, r!.value];
      pull(k);
    }
  } finally {
    // Destroys the streams, as leaving a `for await` does.
    await Promise.allSettled(iterators.map((it) => it.return?.() ?? Promise.resolve()));
  }
}

/** Pipes a caller's stream into ffmpeg; returns how to detach without destroying it. */
function feedStdin(input: NodeJS.ReadableStream, stdin: Writable, onError: (e: Error) => void): () => void {
  // EPIPE when ffmpeg exits before reading everything; its exit status says why.
  stdin.on('error', () => {});
  const failed = (e: Error) => {
    onError(e);
    stdin.end();
  };
  input.on('error', failed);
  input.pipe(stdin);
  return () => input.removeListener('error', failed);
}

/** Nothing came out: did the source never open (bad file, unreachable URL) or fail later? */
function failureCode(kind: SourceKind, inputOpened: boolean): ErrorCode {
  if (inputOpened) return 'VIGIL_ERR_DECODE';
  return kind === 'url' ? 'VIGIL_ERR_SOURCE_UNREACHABLE' : 'VIGIL_ERR_SOURCE_INVALID';
}

/**
 * Stream ms made strictly increasing: when pts jumps back (a loop restarting at 0) an
 * offset carries time on; a frame without pts gets one sampling step.
 * @internal exported for tests
 */
export function monotonicClock(stepMs: number): (raw: number | null) => number {
  let last = -Infinity;
  let offset = 0;
  return (raw) => {
    let t = raw === null ? (last === -Infinity ? 0 : last + stepMs) : raw + offset;
    if (t <= last) {
      offset += last + stepMs - t;
      t = last + stepMs;
    }
    return (last = t);
  };
}

function exitFailure(exit: Exit): string | undefined {
  if (exit.error) return `cannot run ffmpeg: ${exit.error.message}`;
  if (exit.signal) return `ffmpeg killed by ${exit.signal}`;
  if (exit.code !== 0) return `ffmpeg exited with code ${exit.code}`;
  return undefined;
}

function checkSize(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0 || v > 16384) throw invalid(`${name} must be an integer in 1..16384 (got ${v})`);
}

function invalid(detail: string) {
  return vigilError('VIGIL_ERR_INVALID_ARGUMENT', detail);
}
