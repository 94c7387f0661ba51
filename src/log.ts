/**
 * Diagnostics go to stderr so stdout stays machine output (JSON, WebVTT). Deliberately tiny:
 * the CLI needs one readable line per decision, not structured records; the server can put
 * a structured logger behind the same three functions.
 */
const LEVELS = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 } as const;
export type LogLevel = keyof typeof LEVELS;

let level: LogLevel = parseLevel(process.env.VIGIL_LOG_LEVEL) ?? 'warn';

function parseLevel(v: string | undefined): LogLevel | undefined {
  return v !== undefined && v in LEVELS ? (v as LogLevel) : undefined;
}

export function setLogLevel(next: LogLevel): void {
  level = next;
}

/** The level in force (worker threads are started with it). */
export function currentLogLevel(): LogLevel {
  return level;
}

function emit(at: LogLevel, msg: string): void {
  if (LEVELS[at] <= LEVELS[level]) process.stderr.write(`vigil ${at}: ${msg}\n`);
}

export const log = {
  error: (msg: string) => emit('error', msg),
  warn: (msg: string) => emit('warn', msg),
  info: (msg: string) => emit('info', msg),
  debug: (msg: string) => emit('debug', msg),
};
