import { join, resolve } from 'node:path';
import { z } from 'zod';
import { vigilError } from '../errors.js';
import { PACKAGE_ROOT } from '../model/folder/paths.js';
import { describeIssues } from '../validation.js';
import { ANY_SOURCE, createSourcePolicy } from './source-policy.js';

/** The shipped clips (the demo camera's): the one folder of files open by default beyond loopback. */
export const FIXTURES_DIR = join(PACKAGE_ROOT, 'fixtures');

const MiB = 1024 * 1024;

const configSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 picks a free port (tests). */
    port: z.number().int().min(0).max(65535).default(8080),
    dataDir: z.string().min(1).default('vigil-data'),
    /** Required when `host` is not a loopback address. */
    token: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Names accepted in the `Host` header besides IP literals, `localhost` and `host` (`*`: any). */
    allowedHosts: z.array(z.string().min(1).max(253)).default([]),
    /** Origins of pages that may open the WebSockets and call the API besides the server's own (`*`: any). */
    allowedOrigins: z.array(z.string().min(1).max(2048)).default([]),
    /**
     * What a camera may read (see createSourcePolicy): `*`, `webcam`, absolute folders, URL
     * schemes or hosts. Default: `*` on loopback; beyond it the shipped fixtures, any
     * rtsp/http(s) URL and webcams, so no file outside the named folders can be recorded.
     */
    sources: z.array(z.string().min(1).max(4096)).optional(),
    /** On a first start (no cameras yet), add a camera playing a shipped fixture in a loop. */
    demo: z.boolean().default(true),
    limits: z
      .object({
        uploadBytes: z
          .number()
          .int()
          .positive()
          .default(512 * MiB),
        jsonBytes: z
          .number()
          .int()
          .positive()
          .default(64 * 1024),
        wsMessageBytes: z
          .number()
          .int()
          .positive()
          .default(64 * 1024),
        /** One webcam chunk (MediaRecorder timeslice of ~250 ms is far below this). */
        ingestMessageBytes: z
          .number()
          .int()
          .positive()
          .default(4 * MiB),
        /** Messages queued for one WebSocket client before it counts as too slow. */
        wsQueue: z.number().int().positive().default(512),
        /** A live camera whose newest label is further behind its source than this is `behind`. */
        behindMs: z.number().int().positive().default(2000),
      })
      .strict()
      .default({}),
    retention: z
      .object({
        maxAgeHours: z
          .number()
          .positive()
          .default(24 * 7),
        maxBytes: z
          .number()
          .int()
          .positive()
          .default(10 * 1024 * MiB),
      })
      .strict()
      .default({}),
    /**
     * Inference worker threads for live cameras and clip jobs (each one onnxruntime session of one thread);
     * 0 labels on the main thread (the I/O thread: only for debugging). [default: the cores]
     */
    workers: z.number().int().min(0).max(64).optional(),
    /**
     * Motion gating: a live frame of a difference-input model (`framediff`, `motioncrop`) whose
     * input's mean absolute value is under this skips the CNN (see `StreamOptions.gate`); 0 off.
     * 0.004 changed 0.15% of smoothed `fight` labels on 1 989 frames of real footage and
     * skipped 11.8% of CNN runs (`node --import tsx research/motion-gate.ts`).
     */
    motionGate: z.number().min(0).max(1).default(0.004),
    /** Ping period; a client that misses one pong is dropped. */
    heartbeatMs: z.number().int().positive().default(30_000),
    /** Upper bound of the reconnect backoff of a dead camera source. */
    maxBackoffMs: z.number().int().positive().default(30_000),
  })
  .strict();

export type ServerConfig = Omit<z.infer<typeof configSchema>, 'sources'> & { sources: string[] };
export type ServerConfigInput = z.input<typeof configSchema>;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Validates server settings once into a full copy with defaults (see docs/configuration.md,
 * "The server"); `VIGIL_*` environment variables fill what `input` leaves out.
 * @throws VIGIL_ERR_CONFIG naming the setting
 */
export function resolveConfig(input: ServerConfigInput = {}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const fromEnv: ServerConfigInput = {};
  if (env.VIGIL_HOST) fromEnv.host = env.VIGIL_HOST;
  if (env.VIGIL_PORT) fromEnv.port = Number(env.VIGIL_PORT);
  if (env.VIGIL_DATA_DIR) fromEnv.dataDir = env.VIGIL_DATA_DIR;
  if (env.VIGIL_TOKEN) fromEnv.token = env.VIGIL_TOKEN;
  if (env.VIGIL_ALLOWED_HOSTS) fromEnv.allowedHosts = list(env.VIGIL_ALLOWED_HOSTS);
  if (env.VIGIL_ALLOWED_ORIGINS) fromEnv.allowedOrigins = list(env.VIGIL_ALLOWED_ORIGINS);
  if (env.VIGIL_SOURCES) fromEnv.sources = list(env.VIGIL_SOURCES);
  if (env.VIGIL_WORKERS) fromEnv.workers = Number(env.VIGIL_WORKERS);
  if (env.VIGIL_MOTION_GATE) fromEnv.motionGate = Number(env.VIGIL_MOTION_GATE);
  const parsed = configSchema.safeParse({ ...fromEnv, ...stripUndefined(input) });
  if (!parsed.success) throw vigilError('VIGIL_ERR_CONFIG', describeIssues(parsed.error));
  const loopback = LOOPBACK.has(parsed.data.host);
  const config: ServerConfig = {
    ...parsed.data,
    dataDir: resolve(parsed.data.dataDir),
    sources: parsed.data.sources ?? (loopback ? [ANY_SOURCE] : [FIXTURES_DIR, 'rtsp://', 'rtsps://', 'http://', 'https://', 'webcam']),
  };
  // Fails here, at start, naming a bad entry.
  createSourcePolicy(config.sources);
  if (!loopback && !config.token) {
    throw vigilError(
      'VIGIL_ERR_CONFIG',
      `host ${config.host} is reachable from other machines: set an access token (--token or VIGIL_TOKEN)`,
    );
  }
  return config;
}

/** `a, b,,c` → `['a', 'b', 'c']`: the form of list-valued flags and variables. */
export function list(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
