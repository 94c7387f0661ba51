import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { vigilError } from '../errors.js';
import { PACKAGE_ROOT } from '../model/folder/paths.js';
import { readConfigFile } from './config-file.js';
import { declaredCamerasSchema, fleetSchema, mqttSchema, webhookSchema } from './config-sections.js';
import { checkDeclaredCameras, entryName } from './declared-cameras.js';
import { ANY_SOURCE, createSourcePolicy, sourceShape } from './source-policy.js';

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
        /** Events kept beyond the confirmed ones (also gone after maxAgeHours); their snapshots go with them. */
        maxEvents: z.number().int().min(0).default(10_000),
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
    /** Adapting a camera's model from its reviews (docs/adaptation.md). */
    adapt: z
      .object({
        /** Usable reviews (confirmed or false alarm, with their clip) a job needs at least. */
        minReviews: z.number().int().min(2).max(10_000).default(4),
      })
      .strict()
      .default({}),
    /** Ping period; a client that misses one pong is dropped. */
    heartbeatMs: z.number().int().positive().default(30_000),
    /** Upper bound of the reconnect backoff of a dead camera source. */
    maxBackoffMs: z.number().int().positive().default(30_000),
    /** Cameras created, or set back to these settings, on every start (see declared-cameras.ts). */
    cameras: declaredCamerasSchema.default([]),
    /** The MQTT sink's broker; none: no MQTT. */
    mqtt: mqttSchema.optional(),
    webhooks: z.array(webhookSchema).max(64).default([]),
    /**
     * `postgres://` URL of a PostgreSQL database for the store's rows (a fleet's nodes share
     * it; files stay under `dataDir`, then a volume they all mount); none: SQLite in `dataDir`.
     */
    postgres: z
      .string()
      .min(1)
      .max(2048)
      .regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL')
      .optional(),
    /** One node of a fleet; none: a single process, as by default. */
    fleet: fleetSchema.optional(),
  })
  .strict();

/** The file alone: its `fleet` section may leave the Redis to a flag or the environment. */
const fileSchema = configSchema.extend({ fleet: fleetSchema.partial().optional() });

export type ServerConfig = Omit<z.infer<typeof configSchema>, 'sources'> & {
  sources: string[];
  /** The config file read, absolute; null when none. */
  configFile: string | null;
};
/** `fleet` may be partial here (`--fleet` alone is `{}`): the file and the environment fill the rest. */
export type ServerConfigInput = Omit<z.input<typeof configSchema>, 'fleet'> & {
  fleet?: Partial<z.input<typeof fleetSchema>>;
  /** A YAML or JSON file of these settings (see readConfigFile); `VIGIL_CONFIG` when left out. */
  configFile?: string;
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Validates server settings once into a full copy with defaults (see docs/configuration.md,
 * "The server"). Precedence: `input` (flags, code) > `VIGIL_*` environment variables > the
 * config file (`input.configFile`, else `VIGIL_CONFIG`) > defaults. Objects (`limits`,
 * `retention`, `mqtt`) merge key by key; lists are replaced whole.
 * @throws VIGIL_ERR_CONFIG naming the setting, and the file when it came from the file
 */
export function resolveConfig(input: ServerConfigInput = {}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const { configFile: fileInput, ...given } = input;
  const fromEnv: Record<string, unknown> = {};
  if (env.VIGIL_HOST) fromEnv.host = env.VIGIL_HOST;
  if (env.VIGIL_PORT) fromEnv.port = Number(env.VIGIL_PORT);
  if (env.VIGIL_DATA_DIR) fromEnv.dataDir = env.VIGIL_DATA_DIR;
  if (env.VIGIL_TOKEN) fromEnv.token = env.VIGIL_TOKEN;
  if (env.VIGIL_ALLOWED_HOSTS) fromEnv.allowedHosts = list(env.VIGIL_ALLOWED_HOSTS);
  if (env.VIGIL_ALLOWED_ORIGINS) fromEnv.allowedOrigins = list(env.VIGIL_ALLOWED_ORIGINS);
  if (env.VIGIL_SOURCES) fromEnv.sources = list(env.VIGIL_SOURCES);
  if (env.VIGIL_WORKERS) fromEnv.workers = Number(env.VIGIL_WORKERS);
  if (env.VIGIL_MOTION_GATE) fromEnv.motionGate = Number(env.VIGIL_MOTION_GATE);
  if (env.VIGIL_POSTGRES_URL) fromEnv.postgres = env.VIGIL_POSTGRES_URL;
  const fleet: Record<string, unknown> = {};
  if (env.VIGIL_REDIS_URL) fleet.redis = env.VIGIL_REDIS_URL;
  if (env.VIGIL_NODE_ID) fleet.nodeId = env.VIGIL_NODE_ID;
  if (env.VIGIL_ROLE) fleet.role = env.VIGIL_ROLE;
  if (Object.keys(fleet).length > 0) fromEnv.fleet = fleet;
  const filePath = fileInput ?? (env.VIGIL_CONFIG || undefined);
  const fromFile = filePath === undefined ? {} : loadFile(filePath, env);
  const fromCode = stripUndefined(given as Record<string, unknown>);
  const merged = merge(merge(fromFile, fromEnv), fromCode);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw vigilError('VIGIL_ERR_CONFIG', describeConfigIssues(parsed.error, merged));
  const loopback = LOOPBACK.has(parsed.data.host);
  const sources = parsed.data.sources ?? (loopback ? [ANY_SOURCE] : [FIXTURES_DIR, 'rtsp://', 'rtsps://', 'http://', 'https://', 'webcam']);
  // Fails here, at start, naming a bad entry.
  const policy = createSourcePolicy(sources);
  const camerasFromFile = fromCode.cameras === undefined && fromFile.cameras !== undefined;
  const config: ServerConfig = {
    ...parsed.data,
    dataDir: resolve(parsed.data.dataDir),
    sources,
    cameras: checkDeclaredCameras(parsed.data.cameras, policy, camerasFromFile ? filePath : undefined),
    configFile: filePath === undefined ? null : resolve(filePath),
  };
  if (!loopback && !config.token) {
    throw vigilError(
      'VIGIL_ERR_CONFIG',
      `host ${config.host} is reachable from other machines: set an access token (--token, VIGIL_TOKEN or token: in the config file)`,
    );
  }
  return config;
}

/**
 * The file's settings, checked alone first so that a wrong field is reported with the file's
 * name; paths in it (`dataDir`, camera files) are relative to the file's folder, as they read.
 */
function loadFile(path: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const raw = readConfigFile(path, env);
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw vigilError('VIGIL_ERR_CONFIG', `${path}: ${describeConfigIssues(parsed.error, raw)}`);
  const file = { ...(raw as Record<string, unknown>) };
  const dir = dirname(resolve(path));
  if (typeof file.dataDir === 'string') file.dataDir = resolve(dir, file.dataDir);
  if (Array.isArray(file.cameras)) {
    file.cameras = (file.cameras as Record<string, unknown>[]).map((c) =>
      typeof c.source === 'string' && sourceShape(c.source) === 'file' && !isAbsolute(c.source)
        ? { ...c, source: resolve(dir, c.source) }
        : c,
    );
  }
  return file;
}

/** Like describeIssues, with a camera entry named by its id: `cameras[1] (door): fps: ...`. */
function describeConfigIssues(error: z.ZodError, value: unknown): string {
  const cameras = isPlainObject(value) && Array.isArray(value.cameras) ? (value.cameras as unknown[]) : [];
  return error.issues
    .map((i) => {
      const [head, index, ...rest] = i.path;
      if (head !== 'cameras' || typeof index !== 'number') return `${fieldName(i.path) || '(root)'}: ${i.message}`;
      const entry = cameras[index];
      return `${entryName(index, isPlainObject(entry) ? entry.id : undefined)}: ${fieldName(rest) || '(entry)'}: ${i.message}`;
    })
    .join('; ');
}

/** `['webhooks', 0, 'url']` → `webhooks[0].url`. */
function fieldName(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
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

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `over` on top of `under`; plain objects one level down merge too (`limits.behindMs` from the file, `limits.wsQueue` from code). */
function merge(under: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...under };
  for (const [k, v] of Object.entries(over)) out[k] = isPlainObject(v) && isPlainObject(under[k]) ? { ...under[k], ...v } : v;
  return out;
}
