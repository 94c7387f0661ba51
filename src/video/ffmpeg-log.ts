/**
 * Reads ffmpeg's stderr as run with `-loglevel level+info` and a `showinfo` filter: one
 * timestamp per output frame, plus what is needed to explain a failure.
 */
export interface FfmpegLog {
  /** Feeds stderr text; returns the timestamps (ms) of the frames it announced, in order. */
  push(text: string): Array<number | null>;
  /** Flushes an unterminated last line. */
  end(): Array<number | null>;
  /** Frames announced so far. */
  readonly frames: number;
  /** Error-level lines seen (decoder errors, I/O errors, ...). */
  readonly errors: number;
  /** The input was opened (ffmpeg printed `Input #0`): a later failure is a decode error. */
  readonly inputOpened: boolean;
  /** ffmpeg said the `-map 0:v:0` matched nothing: the source has no video. */
  readonly noVideo: boolean;
  /** The last error-level message, without ffmpeg's prefixes and the input name. */
  readonly lastError: string | undefined;
  /** The last lines other than per-frame ones, for a failure's `cause`. */
  tail(): string[];
}

const TAIL_LINES = 20;
const LINE = /^((?:\[[^\]]* @ 0x[0-9a-fA-F]+\] )*)\[(\w+)\] (.*)$/;
const SHOWINFO = /^\[Parsed_showinfo_\d+ @/;
const FRAME = /\bn:\s*(\d+)\s+pts:\s*(-?\d+|NOPTS)\s+pts_time:(\S+)/;
const TIME_BASE = /config in time_base: (\d+)\/(\d+)/;
const ERROR_LEVELS = new Set(['panic', 'fatal', 'error']);

/**
 * Creates a parser. `input` is the name ffmpeg was given with `-i`; error messages start
 * with it (`file:/x.mp4: Invalid data ...`) and the caller already names the source.
 * A frame without a timestamp (`NOPTS`) yields `null`.
 */
export function createFfmpegLog(input: string): FfmpegLog {
  let carry = '';
  let frames = 0;
  let errors = 0;
  let inputOpened = false;
  let noVideo = false;
  let lastError: string | undefined;
  // Timestamps come from the integer pts and the time base: `pts_time` is printed with 6
  // significant digits, which after ~3 hours of a live stream is coarser than 100 ms.
  let timeBase: [number, number] | undefined;
  const tail: string[] = [];

  function line(raw: string): number | null | undefined {
    const m = LINE.exec(raw);
    const [context, level, text] = m ? [m[1], m[2], m[3]] : ['', '', raw];
    if (SHOWINFO.test(context)) {
      const tb = TIME_BASE.exec(text);
      if (tb) timeBase = [Number(tb[1]), Number(tb[2])];
      const f = FRAME.exec(text);
      if (f) {
        frames++;
        if (f[2] === 'NOPTS') return null;
        if (timeBase && timeBase[1] > 0) return (Number(f[2]) * timeBase[0] * 1000) / timeBase[1];
        const seconds = Number(f[3]);
        return Number.isFinite(seconds) ? seconds * 1000 : null;
      }
      return undefined;
    }
    if (raw.trim() === '') return undefined;
    tail.push(raw);
    if (tail.length > TAIL_LINES) tail.shift();
    if (text.startsWith('Input #0')) inputOpened = true;
    if (/matches no streams/.test(text)) noVideo = true;
    if (ERROR_LEVELS.has(level)) {
      errors++;
      lastError = text.startsWith(`${input}: `) ? text.slice(input.length + 2) : text;
    }
    return undefined;
  }

  function lines(raws: string[]): Array<number | null> {
    const out: Array<number | null> = [];
    for (const raw of raws) {
      const t = line(raw.replace(/\r$/, ''));
      if (t !== undefined) out.push(t);
    }
    return out;
  }

  return {
    push(text) {
      const parts = (carry + text).split('\n');
      carry = parts.pop() ?? '';
      return lines(parts);
    },
    end() {
      const rest = carry;
      carry = '';
      return lines([rest]);
    },
    get frames() {
      return frames;
    },
    get errors() {
      return errors;
    },
    get inputOpened() {
      return inputOpened;
    },
    get noVideo() {
      return noVideo;
    },
    get lastError() {
      return lastError;
    },
    tail: () => [...tail],
  };
}
