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
// The frames' own output: `Parsed_showinfo_N`. A further rawvideo output k (see decode.ts
// `outputs`) names its showinfo `showinfo@vigil_out<k>`, which ffmpeg prints as that name or,
// in builds that keep only the instance name, as `vigil_out<k>`.
const SHOWINFO = /^\[(?:Parsed_showinfo_\d+|(?:showinfo@)?vigil_out(\d+)) @/;
const FRAME = /\bn:\s*(\d+)\s+pts:\s*(-?\d+|NOPTS)\s+pts_time:(\S+)/;
const TIME_BASE = /config in time_base: (\d+)\/(\d+)/;
const ERROR_LEVELS = new Set(['panic', 'fatal', 'error']);

/**
 * Creates a parser. `input` is the name ffmpeg was given with `-i`; error messages start
 * with it (`file:/x.mp4: Invalid data ...`) and the caller already names the source.
 * A frame without a timestamp (`NOPTS`) yields `null`. `push` and `end` return the first
 * output's timestamps (`frames` counts them); a further output's go to `onExtraStamp`.
 * @param [onExtraStamp] called with output k (1, 2, ...) and the timestamp, in order [none: dropped]
 */
export function createFfmpegLog(input: string, onExtraStamp?: (output: number, tMs: number | null) => void): FfmpegLog {
  let carry = '';
  let frames = 0;
  let errors = 0;
  let inputOpened = false;
  let noVideo = false;
  let lastError: string | undefined;
  // Timestamps come from the integer pts and the time base: `pts_time` is printed with 6
  // significant digits, which after ~3 hours of a live stream is coarser than 100 ms.
  // One time base per output: each showinfo announces its own.
  const timeBases = new Map<number, [number, number]>();
  const tail: string[] = [];

  function line(raw: string): number | null | undefined {
    const m = LINE.exec(raw);
    const [context, level, text] = m ? [m[1], m[2], m[3]] : ['', '', raw];
    const info = SHOWINFO.exec(context);
    if (info) {
      const output = info[1] === undefined ? 0 : Number(info[1]);
      const tb = TIME_BASE.exec(text);
      if (tb) timeBases.set(output, [Number(tb[1]), Number(tb[2])]);
      const f = FRAME.exec(text);
      if (!f) return undefined;
      const timeBase = timeBases.get(output);
      let t: number | null;
      if (f[2] === 'NOPTS') t = null;
      else if (timeBase && timeBase[1] > 0) t = (Number(f[2]) * timeBase[0] * 1000) / timeBase[1];
      else t = Number.isFinite(Number(f[3])) ? Number(f[3]) * 1000 : null;
      if (output > 0) {
        onExtraStamp?.(output, t);
        return undefined;
      }
      frames++;
      return t;
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
