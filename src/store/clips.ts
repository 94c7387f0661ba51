/* eslint-disable @typescript-eslint/require-await -- SQLite answers synchronously; the methods are async for the interface a PostgreSQL store shares */
import { renameSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { z } from 'zod';
import { vigilError } from '../errors.js';
import { TIMELINE_SCHEMA, type TimelineJson } from '../timeline/format.js';
import { parseWith } from '../validation.js';
import { guard, storeError, type Db } from './db.js';
import { fsyncDir, removeFile } from './files.js';
import { assertClipId, assertExt, CAMERA_ID_PATTERN, CLIP_ID_PATTERN, MODEL_NAME_PATTERN, quote } from './ids.js';
import { resolveInside, type Layout } from './paths.js';
import { stagedPathInside } from './staging.js';

export type ClipKind = 'upload' | 'recording';
/** `pending`: waiting to be labelled; `ready`: labelled (has a timeline); `failed`: see `error`. */
export type ClipStatus = 'pending' | 'processing' | 'ready' | 'failed';

/** A clip as {@link ClipRepo.list} returns it: everything but the timeline. */
export interface ClipSummary {
  id: string;
  /** The camera that recorded it; null for uploads and after the camera was removed. */
  cameraId: string | null;
  kind: ClipKind;
  /** Shown in the UI: the uploaded file's name, or what the recorder chose. */
  name: string;
  /** The model to label it with (uploads wait `pending` for it across restarts); null for the camera's or none. */
  model: string | null;
  status: ClipStatus;
  /** Why labelling failed; set exactly when `status` is `failed`. */
  error: { code: string; message: string } | null;
  /** When the clip was stored, ISO 8601 UTC. */
  createdAt: string;
  /** Wall-clock ms since the epoch of the video's first frame (recordings), else null. */
  startedAtMs: number | null;
  durationMs: number | null;
  /** Size of the video file. The file is always complete: it is renamed into place whole. */
  bytes: number;
  mime: string;
  /** The node that stored it (a fleet's node id); null for a single server's. */
  node: string | null;
}

export interface ClipRecord extends ClipSummary {
  /** The label timeline, null until labelled. */
  timeline: TimelineJson | null;
}

/**
 * What {@link ClipRepo.adopt} stores besides the file.
 * @property [cameraId=null] must name an existing camera
 * @property [model=null] a model name
 * @property [mime] from the file extension (`mp4` → `video/mp4`, ...; else application/octet-stream)
 * @property [startedAtMs=null] @property [durationMs=null]
 * @property [status='pending'] @property [timeline=null] @property [error=null] (only with `failed`)
 */
export interface AdoptMeta {
  kind: ClipKind;
  name: string;
  cameraId?: string | null;
  model?: string | null;
  mime?: string;
  startedAtMs?: number | null;
  durationMs?: number | null;
  status?: ClipStatus;
  timeline?: TimelineJson | null;
  error?: { code: string; message: string } | null;
}

/**
 * @property cameraId, kind, status filter
 * @property [limit=100] 1-1000
 * @property before a clip id: only clips created before it (the last id of the previous page)
 */
export interface ClipQuery {
  cameraId?: string;
  kind?: ClipKind;
  status?: ClipStatus;
  limit?: number;
  before?: string;
}

/**
 * @property error required with `failed`, rejected otherwise (any other status clears it)
 * @property timeline replaces the stored one; null clears it; absent keeps it
 * @property durationMs replaces the stored one when present
 */
export interface StatusExtra {
  error?: { code: string; message: string };
  timeline?: TimelineJson | null;
  durationMs?: number | null;
}

export interface ClipRepo {
  /**
   * Moves a file from staging (see {@link Store.stage}) to `<dataDir>/clips/<id>.<ext>` and
   * inserts its row, in one transaction: the rename happens before the commit, so a crash
   * leaves at worst a file without a row, which the next open deletes. The extension comes
   * from `stagedPath`; the size from the file. The file is fsynced first (off the event
   * loop, hence the promise), so whoever wrote it (stage(), ffmpeg) need not. On failure the
   * staged file stays where it was: delete it with {@link Store.discard}.
   * @throws VIGIL_ERR_INVALID_ARGUMENT for bad meta or a path outside staging;
   *   VIGIL_ERR_NOT_FOUND for a missing staged file or camera
   */
  adopt(stagedPath: string, meta: AdoptMeta): Promise<ClipRecord>;
  /** Newest first, without timelines. */
  list(query?: ClipQuery): Promise<ClipSummary[]>;
  get(id: string): Promise<ClipRecord | undefined>;
  /** Absolute path of the clip's video, inside `<dataDir>/clips`. @throws VIGIL_ERR_NOT_FOUND */
  videoPath(id: string): Promise<string>;
  /** @throws VIGIL_ERR_NOT_FOUND; VIGIL_ERR_INVALID_ARGUMENT (see {@link StatusExtra}) */
  setStatus(id: string, status: ClipStatus, extra?: StatusExtra): Promise<ClipRecord>;
  /** Deletes the row, then the file. False when there was no such clip. */
  remove(id: string): Promise<boolean>;
}

export const MIME_BY_EXT: Readonly<Record<string, string>> = Object.freeze({
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  mov: 'video/quicktime',
  avi: 'video/x-msvideo',
  ts: 'video/mp2t',
});

export const CLIP_STATUSES = ['pending', 'processing', 'ready', 'failed'] as const;
export const CLIP_KINDS = ['upload', 'recording'] as const;

const errorSchema = z.object({ code: z.string().min(1).max(64), message: z.string().max(2000) }).strict();
// Timelines are built by toTimelineJson; checking the schema tag is enough to keep other JSON out.
const timelineSchema = z.object({ schema: z.literal(TIMELINE_SCHEMA) }).passthrough();
const msSchema = z.number().finite().nonnegative().nullable().default(null);

export const adoptSchema = z
  .object({
    kind: z.enum(CLIP_KINDS),
    name: z
      .string()
      .min(1)
      .max(255)
      // eslint-disable-next-line no-control-regex -- deliberately refuses control characters in untrusted input
      .regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters'),
    cameraId: z.string().regex(CAMERA_ID_PATTERN, 'a camera id').nullable().default(null),
    model: z.string().regex(MODEL_NAME_PATTERN, 'a model name: lowercase letters, digits, - and _').nullable().default(null),
    mime: z
      .string()
      .regex(/^[a-z]+\/[a-z0-9.+-]+$/, 'a media type like video/mp4')
      .optional(),
    startedAtMs: msSchema,
    durationMs: msSchema,
    status: z.enum(CLIP_STATUSES).default('pending'),
    timeline: timelineSchema.nullable().default(null),
    error: errorSchema.nullable().default(null),
  })
  .strict()
  .refine((m) => (m.status === 'failed') === (m.error !== null), {
    message: 'error is required with status failed and only then',
    path: ['error'],
  });

export const querySchema = z
  .object({
    cameraId: z.string().regex(CAMERA_ID_PATTERN, 'a camera id').optional(),
    kind: z.enum(CLIP_KINDS).optional(),
    status: z.enum(CLIP_STATUSES).optional(),
    limit: z.number().int().min(1).max(1000).default(100),
    before: z.string().regex(CLIP_ID_PATTERN, 'a clip id').optional(),
  })
  .strict();

export const FILTERS = [
  ['cameraId', 'camera_id = @cameraId'],
  ['kind', 'kind = @kind'],
  ['status', 'status = @status'],
  ['before', 'id < @before'],
] as const;

export const extraSchema = z
  .object({
    error: errorSchema.optional(),
    timeline: timelineSchema.nullable().optional(),
    durationMs: z.number().finite().nonnegative().nullable().optional(),
  })
  .strict();

export interface ClipRow {
  id: string;
  camera_id: string | null;
  kind: ClipKind;
  name: string;
  model: string | null;
  status: ClipStatus;
  error_code: string | null;
  error_message: string | null;
  ext: string;
  mime: string;
  bytes: number;
  created_at: string;
  started_at_ms: number | null;
  duration_ms: number | null;
  timeline?: string | null;
  node: string | null;
}

export const SUMMARY_COLUMNS =
  'id, camera_id, kind, name, model, status, error_code, error_message, ext, mime, bytes, created_at, started_at_ms, duration_ms, node';

export function summaryOf(r: ClipRow): ClipSummary {
  return {
    id: r.id,
    cameraId: r.camera_id,
    kind: r.kind,
    name: r.name,
    model: r.model,
    status: r.status,
    error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
    createdAt: r.created_at,
    startedAtMs: r.started_at_ms,
    durationMs: r.duration_ms,
    bytes: r.bytes,
    mime: r.mime,
    node: r.node ?? null,
  };
}

/** fsyncs a staged file so the rename cannot publish a file whose data is still in memory; returns its size. */
export async function flush(path: string): Promise<number> {
  let handle;
  try {
    handle = await open(path, 'r+');
    const st = await handle.stat();
    if (!st.isFile()) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `staged path ${path} is not a file`);
    await handle.sync();
    return st.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw vigilError('VIGIL_ERR_NOT_FOUND', `staged file ${path}`);
    throw storeError(path, e);
  } finally {
    await handle?.close();
  }
}

/** The video file of a row, built only from the validated id and extension. */
export function clipFile(layout: Layout, id: string, ext: string): string {
  assertClipId(id);
  assertExt(ext);
  return resolveInside(layout.clips, `${id}.${ext}`);
}

/** @param [node=null] the node id each adopted clip is stored with */
export function createClipRepo(db: Db, layout: Layout, now: () => number, nextId: () => string, node: string | null = null): ClipRepo {
  const dbPath = layout.db;
  const q = guard(dbPath, () => ({
    get: db.prepare<[string], ClipRow>('SELECT * FROM clips WHERE id = ?'),
    ext: db.prepare<[string], { ext: string }>('SELECT ext FROM clips WHERE id = ?'),
    camera: db.prepare<[string], { id: string }>('SELECT id FROM cameras WHERE id = ?'),
    insert: db.prepare(
      `INSERT INTO clips (id, camera_id, kind, name, model, status, error_code, error_message, ext, mime, bytes,
         created_at, started_at_ms, duration_ms, timeline, node)
       VALUES (@id, @cameraId, @kind, @name, @model, @status, @errorCode, @errorMessage, @ext, @mime, @bytes,
         @createdAt, @startedAtMs, @durationMs, @timeline, @node)`,
    ),
    update: db.prepare(
      `UPDATE clips SET status = @status, error_code = @errorCode, error_message = @errorMessage,
         timeline = @timeline, duration_ms = @durationMs WHERE id = @id`,
    ),
    remove: db.prepare<[string]>('DELETE FROM clips WHERE id = ?'),
  }));

  const get = (id: string): ClipRecord | undefined => {
    assertClipId(id);
    const row = guard(dbPath, () => q.get.get(id));
    if (!row) return undefined;
    const timeline = row.timeline ? (JSON.parse(row.timeline) as TimelineJson) : null;
    return { ...summaryOf(row), timeline };
  };

  return {
    async adopt(stagedPath, meta) {
      const from = stagedPathInside(layout, stagedPath);
      const ext = extname(from).slice(1);
      assertExt(ext);
      const m = parseWith(adoptSchema, meta, 'clip');
      const bytes = await flush(from);
      const id = nextId();
      const to = clipFile(layout, id, ext);
      let moved = false;
      try {
        db.transaction(() => {
          if (m.cameraId !== null && !q.camera.get(m.cameraId)) throw vigilError('VIGIL_ERR_NOT_FOUND', `camera ${m.cameraId}`);
          q.insert.run({
            id,
            cameraId: m.cameraId,
            kind: m.kind,
            name: m.name,
            model: m.model,
            status: m.status,
            errorCode: m.error?.code ?? null,
            errorMessage: m.error?.message ?? null,
            ext,
            mime: m.mime ?? MIME_BY_EXT[ext] ?? 'application/octet-stream',
            bytes,
            createdAt: new Date(now()).toISOString(),
            startedAtMs: m.startedAtMs,
            durationMs: m.durationMs,
            timeline: m.timeline === null ? null : JSON.stringify(m.timeline),
            node,
          });
          renameSync(from, to);
          moved = true;
          fsyncDir(layout.clips);
        })();
      } catch (e) {
        // The commit failed after the rename: put the file back so the caller still owns it.
        if (moved) {
          try {
            renameSync(to, from);
          } catch {
            removeFile(to);
          }
        }
        throw storeError(dbPath, e);
      }
      return get(id)!;
    },

    async list(query = {}) {
      const f = parseWith(querySchema, query, 'clip query');
      const where: string[] = [];
      const params: Record<string, unknown> = { limit: f.limit };
      for (const [key, condition] of FILTERS) {
        if (f[key] === undefined) continue;
        where.push(condition);
        params[key] = f[key];
      }
      const sql = `SELECT ${SUMMARY_COLUMNS} FROM clips ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`;
      // Ids start with their creation time, so id order is creation order (see ids.ts).
      return guard(dbPath, () => (db.prepare(sql).all(params) as ClipRow[]).map(summaryOf));
    },

    get: async (id) => get(id),

    async videoPath(id) {
      assertClipId(id);
      const row = guard(dbPath, () => q.ext.get(id));
      if (!row) throw vigilError('VIGIL_ERR_NOT_FOUND', `clip ${id}`);
      return clipFile(layout, id, row.ext);
    },

    async setStatus(id, status, extra = {}) {
      assertClipId(id);
      if (!(CLIP_STATUSES as readonly unknown[]).includes(status)) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `clip status must be one of ${CLIP_STATUSES.join(', ')}, got ${quote(status)}`);
      }
      const x = parseWith(extraSchema, extra, 'clip status');
      if ((status === 'failed') !== (x.error !== undefined)) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'clip status failed needs an error, and only failed takes one');
      }
      guard(dbPath, () =>
        db.transaction(() => {
          const row = q.get.get(id);
          if (!row) throw vigilError('VIGIL_ERR_NOT_FOUND', `clip ${id}`);
          q.update.run({
            id,
            status,
            errorCode: x.error?.code ?? null,
            errorMessage: x.error?.message ?? null,
            timeline: x.timeline === undefined ? (row.timeline ?? null) : x.timeline === null ? null : JSON.stringify(x.timeline),
            durationMs: x.durationMs === undefined ? row.duration_ms : x.durationMs,
          });
        })(),
      );
      return get(id)!;
    },

    async remove(id) {
      assertClipId(id);
      const row = guard(dbPath, () =>
        db.transaction(() => {
          const r = q.ext.get(id);
          if (r) q.remove.run(id);
          return r;
        })(),
      );
      if (!row) return false;
      removeFile(clipFile(layout, id, row.ext));
      return true;
    },
  };
}
