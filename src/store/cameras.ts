/* eslint-disable @typescript-eslint/require-await -- SQLite answers synchronously; the methods are async for the interface a PostgreSQL store shares */
import { z } from 'zod';
import { vigilError } from '../errors.js';
import { parseWith } from '../validation.js';
import { guard, type Db } from './db.js';
import { assertCameraId, CAMERA_ID_PATTERN, MODEL_NAME_PATTERN, newCameraId } from './ids.js';

/**
 * What a camera records. `continuous`: back-to-back segments of `segmentS` seconds.
 * `events`: a clip around each span where one of `labels` is current, from `preRollS` before
 * it starts to `postRollS` after it ends.
 */
export type RecordPolicy =
  { mode: 'off' } | { mode: 'continuous'; segmentS: number } | { mode: 'events'; labels: string[]; preRollS: number; postRollS: number };

/** A camera as stored; every field is filled in. */
export interface CameraRecord {
  id: string;
  name: string;
  /** File path, `rtsp(s)://` or `http(s)://` URL, or `webcam` (frames pushed by a browser). Not probed here. */
  source: string;
  /** The first of `models`: the one a recording's timeline is labelled with. */
  model: string;
  /** Model names, as `vigil models` lists them, each once: one decode feeds them all. */
  models: string[];
  /** Sampling rate in frames/s; null = the model's own. */
  fps: number | null;
  /** Restart a file source at its end. */
  loop: boolean;
  record: RecordPolicy;
  /** ISO 8601, UTC. */
  createdAt: string;
  updatedAt: string;
}

/**
 * What {@link CameraRepo.create} takes; `update` takes any subset of it except `id`.
 * @property [id=cam-<8 hex>] 1-64 of `a-z 0-9 _ -`, starting with a letter or digit
 * @property [name=id] shown in the UI, 1-100 characters
 * @property model, models: the models it runs, at least one and each once (`model` alone
 *   means `models: [model]`; with both, `model` must be the first of `models`)
 * @property [fps=null] 0 < fps <= 60, or null for the model's own rate
 * @property [loop=false]
 * @property [record={ mode: 'off' }] `continuous` defaults `segmentS` to 60; `events` defaults
 *   `preRollS` to 5 and `postRollS` to 10
 */
export interface CameraInput {
  id?: string;
  name?: string;
  source: string;
  model?: string;
  models?: string[];
  fps?: number | null;
  loop?: boolean;
  record?: RecordPolicyInput;
}

export type RecordPolicyInput =
  { mode: 'off' } | { mode: 'continuous'; segmentS?: number } | { mode: 'events'; labels: string[]; preRollS?: number; postRollS?: number };

export interface CameraRepo {
  /** Every camera, oldest first. */
  list(): Promise<CameraRecord[]>;
  /** @throws VIGIL_ERR_INVALID_ARGUMENT for a malformed id */
  get(id: string): Promise<CameraRecord | undefined>;
  /** @throws VIGIL_ERR_CONFLICT when the id exists; VIGIL_ERR_INVALID_ARGUMENT naming the bad fields */
  create(input: CameraInput): Promise<CameraRecord>;
  /** Changes the given fields (a field set to undefined is left alone); the id cannot change.
   *  @throws VIGIL_ERR_NOT_FOUND; VIGIL_ERR_INVALID_ARGUMENT naming the bad fields */
  update(id: string, patch: Partial<CameraInput>): Promise<CameraRecord>;
  /** Removes the camera; its recordings stay, with `cameraId` null; its adapted models go (rows here, folders by the store). False when there was none. */
  remove(id: string): Promise<boolean>;
}

const recordPolicySchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('off') }).strict(),
  z.object({ mode: z.literal('continuous'), segmentS: z.number().int().min(1).max(3600).default(60) }).strict(),
  z
    .object({
      mode: z.literal('events'),
      labels: z.array(z.string().min(1)).min(1, 'name at least one label to record'),
      preRollS: z.number().min(0).max(60).default(5),
      postRollS: z.number().min(0).max(600).default(10),
    })
    .strict(),
]);

const modelName = z.string().regex(MODEL_NAME_PATTERN, 'a model name: lowercase letters, digits, - and _');

/** Most models one camera runs (each is a labeler, a decode output and an inference per frame). */
export const MAX_MODELS = 8;

/** A camera's fields as the API and the config file take them (the config file reuses it: see server/config-sections.ts). */
export const cameraSchema = z
  .object({
    id: z.string().regex(CAMERA_ID_PATTERN, '1-64 lowercase letters, digits, - and _, starting with a letter or digit'),
    name: z.string().trim().min(1).max(100).optional(),
    // Control characters have no business in a path or URL and would garble logs.
    source: z
      .string()
      .min(1)
      .max(2048)
      // eslint-disable-next-line no-control-regex -- deliberately refuses control characters in untrusted input
      .regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters'),
    model: modelName.optional(),
    models: z.array(modelName).min(1, 'name at least one model').max(MAX_MODELS).optional(),
    fps: z.number().positive().max(60).nullable().default(null),
    loop: z.boolean().default(false),
    record: recordPolicySchema.default({ mode: 'off' }),
  })
  .strict();

export type CameraFields = Omit<CameraRecord, 'createdAt' | 'updatedAt'>;

export function parseCamera(input: unknown): CameraFields {
  const { name, model, models, ...rest } = parseWith(cameraSchema, input, 'camera');
  return { ...rest, name: name ?? rest.id, ...modelList(model, models) };
}

/** `model` and `models` made one list (see {@link CameraInput}). @throws VIGIL_ERR_INVALID_ARGUMENT */
export function modelList(model: string | undefined, models: string[] | undefined): { model: string; models: string[] } {
  const bad = (detail: string) => vigilError('VIGIL_ERR_INVALID_ARGUMENT', `camera: ${detail}`);
  const list = models ?? (model === undefined ? undefined : [model]);
  if (list === undefined) throw bad('model: Required (or models: a list)');
  if (list.length === 0) throw bad('models: name at least one model');
  const twice = list.find((m, i) => list.indexOf(m) !== i);
  if (twice !== undefined) throw bad(`models: ${twice} is listed twice`);
  if (model !== undefined && model !== list[0]) {
    throw bad(`model ${model} is not the first of models (${list.join(', ')}): send one of them`);
  }
  return { model: list[0], models: list };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface CameraRow {
  id: string;
  name: string;
  source: string;
  model: string;
  models: string;
  fps: number | null;
  loop: number;
  record: string;
  created_at: string;
  updated_at: string;
}

export function fromRow(r: CameraRow): CameraRecord {
  return {
    id: r.id,
    name: r.name,
    source: r.source,
    model: r.model,
    models: JSON.parse(r.models) as string[],
    fps: r.fps,
    loop: r.loop === 1,
    record: JSON.parse(r.record) as RecordPolicy,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function createCameraRepo(db: Db, dbPath: string, now: () => number): CameraRepo {
  const q = guard(dbPath, () => ({
    list: db.prepare<[], CameraRow>('SELECT * FROM cameras ORDER BY created_at, id'),
    get: db.prepare<[string], CameraRow>('SELECT * FROM cameras WHERE id = ?'),
    insert: db.prepare(
      `INSERT INTO cameras (id, name, source, model, models, fps, loop, record, created_at, updated_at)
       VALUES (@id, @name, @source, @model, @models, @fps, @loop, @record, @createdAt, @updatedAt)`,
    ),
    update: db.prepare(
      `UPDATE cameras SET name = @name, source = @source, model = @model, models = @models, fps = @fps, loop = @loop,
       record = @record, updated_at = @updatedAt WHERE id = @id`,
    ),
    remove: db.prepare<[string]>('DELETE FROM cameras WHERE id = ?'),
  }));
  const toParams = (c: CameraRecord) => ({
    ...c,
    models: JSON.stringify(c.models),
    loop: c.loop ? 1 : 0,
    record: JSON.stringify(c.record),
  });
  const get = (id: string): CameraRecord | undefined => {
    assertCameraId(id);
    const row = guard(dbPath, () => q.get.get(id));
    return row && fromRow(row);
  };

  return {
    list: async () => guard(dbPath, () => q.list.all().map(fromRow)),
    get: async (id) => get(id),
    async create(input) {
      if (!isObject(input)) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'camera must be an object');
      const fields = parseCamera({ ...input, id: input.id ?? newCameraId() });
      const at = new Date(now()).toISOString();
      const record: CameraRecord = { ...fields, createdAt: at, updatedAt: at };
      return guard(dbPath, () =>
        db.transaction(() => {
          if (q.get.get(record.id)) throw vigilError('VIGIL_ERR_CONFLICT', `camera ${record.id} already exists`);
          q.insert.run(toParams(record));
          return record;
        })(),
      );
    },
    async update(id, patch) {
      assertCameraId(id);
      if (!isObject(patch)) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'camera patch must be an object');
      // A client's JSON as it came: parseCamera checks every field below.
      const changes: Record<string, unknown> = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      if ('id' in changes && changes.id !== id) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `camera id cannot change (${id} to ${String(changes.id)})`);
      }
      return guard(dbPath, () =>
        db.transaction(() => {
          const current = q.get.get(id);
          if (!current) throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${id}`);
          const { createdAt, updatedAt: _, ...stored } = fromRow(current);
          // One of model/models given replaces both: `model: x` means `models: [x]`.
          const fields: Partial<CameraFields> = { ...stored };
          if ('model' in changes && !('models' in changes)) delete fields.models;
          if ('models' in changes && !('model' in changes)) delete fields.model;
          const next: CameraRecord = { ...parseCamera({ ...fields, ...changes }), createdAt, updatedAt: new Date(now()).toISOString() };
          q.update.run(toParams(next));
          return next;
        })(),
      );
    },
    async remove(id) {
      assertCameraId(id);
      return guard(dbPath, () => q.remove.run(id).changes > 0);
    },
  };
}
