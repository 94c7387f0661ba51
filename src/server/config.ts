import { resolve } from 'node:path';
import { z } from 'zod';
import { vigilError } from '../errors.js';
import { describeIssues } from '../model/manifest.js';

const MiB = 1024 * 1024;

const configSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    /** 0 picks a free port (tests). */
    port: z.number().int().min(0).max(65535).default(8080),
    dataDir: z.string().min(1).default('vigil-data'),
    /** Required when `host` is not a loopback address. */
    token: z.string().min(16, 'must be at least 16 characters').optional(),
    /** On a first start (no cameras yet), add a camera playing a shipped fixture in a loop. */
    demo: z.boolean().default(true),
    limits: z
      .object({
        uploadBytes: z.number().int().positive().default(512 * MiB),
        jsonBytes: z.number().int().positive().default(64 * 1024),
        wsMessageBytes: z.number().int().positive().default(64 * 1024),
        /** One webcam chunk (MediaRecorder timeslice of ~250 ms is far below this). */
        ingestMessageBytes: z.number().int().positive().default(4 * MiB),
        /** Messages queued for one WebSocket client before it counts as too slow. */
        wsQueue: z.number().int().positive().default(512),
      })
      .strict()
      .default({}),
    retention: z
      .object({
        maxAgeHours: z.number().positive().default(24 * 7),
        maxBytes: z.number().int().positive().default(10 * 1024 * MiB),
      })
      .strict()
      .default({}),
    /** Ping period; a client that misses one pong is dropped. */
    heartbeatMs: z.number().int().positive().default(30_000),
    /** Upper bound of the reconnect backoff of a dead camera source. */
    maxBackoffMs: z.number().int().positive().default(30_000),
  })
  .strict();

export type ServerConfig = z.infer<typeof configSchema>;
export type ServerConfigInput = z.input<typeof configSchema>;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Validates server settings once into a full copy with defaults (see the README's
 * "Configuration"); `VIGIL_*` environment variables fill what `input` leaves out.
 * @throws VIGIL_ERR_CONFIG naming the setting
 */
export function resolveConfig(input: ServerConfigInput = {}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const fromEnv: ServerConfigInput = {};
  if (env.VIGIL_HOST) fromEnv.host = env.VIGIL_HOST;
  if (env.VIGIL_PORT) fromEnv.port = Number(env.VIGIL_PORT);
  if (env.VIGIL_DATA_DIR) fromEnv.dataDir = env.VIGIL_DATA_DIR;
  if (env.VIGIL_TOKEN) fromEnv.token = env.VIGIL_TOKEN;
  const parsed = configSchema.safeParse({ ...fromEnv, ...stripUndefined(input) });
  if (!parsed.success) throw vigilError('VIGIL_ERR_CONFIG', describeIssues(parsed.error));
  const config = { ...parsed.data, dataDir: resolve(parsed.data.dataDir) };
  if (!LOOPBACK.has(config.host) && !config.token) {
    throw vigilError('VIGIL_ERR_CONFIG', `host ${config.host} is reachable from other machines: set an access token (--token or VIGIL_TOKEN)`);
  }
  return config;
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
