/* eslint-disable @typescript-eslint/require-await -- SQLite answers synchronously; the methods are async for the interface a PostgreSQL store shares */
import { renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { vigilError } from '../errors.js';
import { REVIEW_STATES, type RecordedFor, type ReviewState, type VigilEvent } from '../events/types.js';
import { parseWith } from '../validation.js';
import { guard, storeError, type Db } from './db.js';
import { fsyncDir, removeFile } from './files.js';
import { assertCameraId, assertEventId, CAMERA_ID_PATTERN, CLIP_ID_PATTERN, MODEL_NAME_PATTERN, newEventId } from './ids.js';
import { resolveInside, type Layout } from './paths.js';
import { discardStaged, newStagingPath } from './staging.js';

/** What an event starts with: everything but what the store decides (id, state, review, files). */
export type EventStart = Pick<
  VigilEvent,
  'cameraId' | 'model' | 'label' | 'startMs' | 'endMs' | 'startedAtMs' | 'endedAtMs' | 'peak' | 'mean'
>;

/** What changes while an event goes on. */
export type EventProgress = Pick<EventStart, 'endMs' | 'endedAtMs' | 'peak' | 'mean'>;

/**
 * Filters of {@link EventRepo.list}, all optional.
 * @property after, before epoch ms: events that started at or after `after`, before `before`
 * @property [limit=100] 1-1000
 * @property cursor the `next` of the previous page
 */
export interface EventQuery {
  cameraId?: string;
  model?: string;
  label?: string;
  review?: ReviewState;
  after?: number;
  before?: number;
  limit?: number;
  cursor?: string;
}

/** A page of events, newest first; `next` (null on the last page) is the cursor of the page after it. */
export interface EventPage {
  events: VigilEvent[];
  next: string | null;
}

/** A review as a client sends it; the store adds when. */
export interface ReviewInput {
  state: ReviewState;
  note?: string;
  by?: string;
}

export interface EventRepo {
  /**
   * Inserts an `active` event. With `id` (the caller's, from newEventId) an open tried again,
   * after a store failure whose insert may have committed, is still one event: an id stored
   * already with this camera and start returns that event.
   * @throws VIGIL_ERR_INVALID_ARGUMENT naming bad fields; VIGIL_ERR_CONFLICT for an id another event has
   */
  open(start: EventStart, id?: string): Promise<VigilEvent>;
  /**
   * Stores how far an active event has got, so a crash ends it here (see reconcile.ts).
   * An event that is no longer active (ended, deleted) is left alone.
   * @returns the event as stored now (with any review or clip others gave it), undefined when left alone
   */
  progress(id: string, p: EventProgress): Promise<VigilEvent | undefined>;
  /**
   * Ends an active event with its final figures. An event ended already keeps its end: its
   * camera's new node ended it (see `endActive`) while the old one, cut off, still ran it.
   * @throws VIGIL_ERR_NOT_FOUND; VIGIL_ERR_CONFLICT when it has ended already
   */
  end(id: string, p: EventProgress): Promise<VigilEvent>;
  /**
   * Ends every `active` event of a camera where it had got: the figures last stored for it
   * (its `endMs`, `endedAtMs`, `peak`, `mean`) stay, as reconcile ends a crashed server's. For
   * a node that takes over a camera whose previous runner died mid-event. Atomic: of two
   * callers at once, each event is ended (and returned) by one.
   * @returns the events this call ended, oldest first
   */
  endActive(cameraId: string): Promise<VigilEvent[]>;
  /**
   * Replaces the event's snapshot: written in staging and renamed into
   * `<dataDir>/snapshots/<id>.jpg`, so a reader never sees half a JPEG. False when the event
   * is gone (nothing is kept).
   */
  saveSnapshot(id: string, jpeg: Buffer): Promise<boolean>;
  /** The snapshot's absolute path. @throws VIGIL_ERR_NOT_FOUND for no event or no snapshot */
  snapshotPath(id: string): Promise<string>;
  /**
   * Links a recorded clip to the events of its camera that it covers and that have none yet:
   * those whose wall-clock span overlaps `[fromMs, toMs)`; with `only`, of those just the
   * events of these segments (same model, label and stream start). Returns the linked events.
   */
  linkClip(cameraId: string, clipId: string, fromMs: number, toMs: number, only?: readonly RecordedFor[]): Promise<VigilEvent[]>;
  get(id: string): Promise<VigilEvent | undefined>;
  /** Newest first (in the order they opened), paged with a cursor. */
  list(query?: EventQuery): Promise<EventPage>;
  /** How many events the filters of `query` keep (an unreviewed badge); `limit` and `cursor` are refused. */
  count(query?: Omit<EventQuery, 'limit' | 'cursor'>): Promise<number>;
  /** Sets the review (when: now). @throws VIGIL_ERR_NOT_FOUND; VIGIL_ERR_INVALID_ARGUMENT naming bad fields */
  review(id: string, input: ReviewInput): Promise<VigilEvent>;
  /** Deletes the row, then its snapshot. False when there was no such event. */
  remove(id: string): Promise<boolean>;
  /**
   * Retention: deletes ended events that nobody confirmed, oldest first, that ended before
   * `beforeMs` or lie beyond the newest `keep` (a looping demo camera makes ~19 000 a day, each
   * with a snapshot). Confirmed events stay: a person said they matter.
   * @returns the removed ids
   */
  prune(o: { beforeMs?: number; keep?: number }): Promise<string[]>;
}

const ms = z.number().finite().nonnegative();
const prob = z.number().finite().min(0).max(1);
// eslint-disable-next-line no-control-regex -- deliberately refuses control characters in untrusted input
const noControls = /^[^\u0000-\u001f\u007f]*$/;
// eslint-disable-next-line no-control-regex -- deliberately refuses control characters other than tab and line breaks
const noteText = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/;

export const startSchema = z
  .object({
    cameraId: z.string().regex(CAMERA_ID_PATTERN, 'a camera id'),
    model: z.string().regex(MODEL_NAME_PATTERN, 'a model name'),
    label: z.string().min(1).max(64).regex(noControls, 'no control characters'),
    startMs: ms,
    endMs: ms,
    startedAtMs: ms,
    endedAtMs: ms,
    peak: prob,
    mean: prob,
  })
  .strict();
export const progressSchema = startSchema.pick({ endMs: true, endedAtMs: true, peak: true, mean: true });

/** The cursor is the sequence number of the last event of a page, as text (treat it as opaque). */
const CURSOR_PATTERN = /^[1-9][0-9]{0,14}$/;

export const querySchema = z
  .object({
    cameraId: z.string().regex(CAMERA_ID_PATTERN, 'a camera id').optional(),
    model: z.string().regex(MODEL_NAME_PATTERN, 'a model name').optional(),
    label: z.string().min(1).max(64).optional(),
    review: z.enum(REVIEW_STATES).optional(),
    after: ms.optional(),
    before: ms.optional(),
    limit: z.number().int().min(1).max(1000).default(100),
    cursor: z.string().regex(CURSOR_PATTERN, 'the next of a previous page').optional(),
  })
  .strict();

export const countSchema = querySchema.omit({ limit: true, cursor: true });

export const FILTERS = [
  ['cameraId', 'camera_id = @cameraId'],
  ['model', 'model = @model'],
  ['label', 'label = @label'],
  ['review', 'review = @review'],
  ['after', 'started_at_ms >= @after'],
  ['before', 'started_at_ms < @before'],
  ['cursor', 'seq < @cursor'],
] as const;

export const reviewSchema = z
  .object({
    state: z.enum(REVIEW_STATES),
    // A note may have line breaks; nothing else below a space.
    note: z.string().max(1000).regex(noteText, 'no control characters but line breaks and tabs').optional(),
    by: z.string().max(100).regex(noControls, 'no control characters').optional(),
  })
  .strict();

export interface EventRow {
  seq: number;
  id: string;
  camera_id: string;
  model: string;
  label: string;
  start_ms: number;
  end_ms: number;
  started_at_ms: number;
  ended_at_ms: number;
  peak: number;
  mean: number;
  state: 'active' | 'ended';
  snapshot: number;
  clip_id: string | null;
  review: ReviewState;
  review_note: string | null;
  review_by: string | null;
  review_at_ms: number | null;
}

export function eventOf(r: EventRow): VigilEvent {
  return {
    id: r.id,
    cameraId: r.camera_id,
    model: r.model,
    label: r.label,
    startMs: r.start_ms,
    endMs: r.end_ms,
    startedAtMs: r.started_at_ms,
    endedAtMs: r.ended_at_ms,
    peak: r.peak,
    mean: r.mean,
    state: r.state,
    snapshot: r.snapshot === 1,
    clipId: r.clip_id,
    review: {
      state: r.review,
      ...(r.review_note !== null ? { note: r.review_note } : {}),
      ...(r.review_by !== null ? { by: r.review_by } : {}),
      ...(r.review_at_ms !== null ? { atMs: r.review_at_ms } : {}),
    },
  };
}

/** The snapshot file of an event, built only from its validated id. */
export function snapshotFile(layout: Layout, id: string): string {
  assertEventId(id);
  return resolveInside(layout.snapshots, `${id}.jpg`);
}

/**
 * Writes an event's snapshot as a whole file: in staging, then renamed into place, so a reader
 * never sees half a JPEG. Before the row's flag: a crash between them leaves a file reconcile
 * flags again. @returns its path @throws VIGIL_ERR_STORE naming it
 */
export function writeSnapshotFile(layout: Layout, id: string, jpeg: Buffer): string {
  const to = snapshotFile(layout, id);
  const staged = newStagingPath(layout, 'jpg');
  try {
    writeFileSync(staged, jpeg);
    renameSync(staged, to);
    fsyncDir(layout.snapshots);
  } catch (e) {
    discardStaged(layout, staged);
    throw storeError(to, e);
  }
  return to;
}

/** The WHERE clause (or '') and its parameters for the filters present in `f`. */
function filtersOf(f: Partial<Record<(typeof FILTERS)[number][0], string | number>>): { where: string; params: Record<string, unknown> } {
  const conditions: string[] = [];
  const params: Record<string, unknown> = {};
  for (const [key, condition] of FILTERS) {
    if (f[key] === undefined) continue;
    conditions.push(condition);
    params[key] = key === 'cursor' ? Number(f.cursor) : f[key];
  }
  return { where: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

/** The event an `open` with its id found stored: its own (a retry), or another's (refused). */
export function sameStart(stored: VigilEvent, start: EventStart): VigilEvent {
  if (stored.cameraId === start.cameraId && stored.startMs === start.startMs && stored.startedAtMs === start.startedAtMs) return stored;
  throw vigilError('VIGIL_ERR_CONFLICT', `event ${stored.id} exists already, for another start`);
}

/** Why `end` changed nothing: no such event, or one ended already. */
export function notActive(id: string, exists: boolean) {
  return exists ? vigilError('VIGIL_ERR_CONFLICT', `event ${id} has ended already`) : vigilError('VIGIL_ERR_NOT_FOUND', `event ${id}`);
}

export function createEventRepo(db: Db, layout: Layout, now: () => number): EventRepo {
  const dbPath = layout.db;
  const q = guard(dbPath, () => ({
    get: db.prepare<[string], EventRow>('SELECT * FROM events WHERE id = ?'),
    insert: db.prepare(
      `INSERT INTO events (id, camera_id, model, label, start_ms, end_ms, started_at_ms, ended_at_ms, peak, mean, state)
       VALUES (@id, @cameraId, @model, @label, @startMs, @endMs, @startedAtMs, @endedAtMs, @peak, @mean, 'active')
       ON CONFLICT (id) DO NOTHING`,
    ),
    progress: db.prepare<EventProgress & { id: string }, EventRow>(
      `UPDATE events SET end_ms = @endMs, ended_at_ms = @endedAtMs, peak = @peak, mean = @mean WHERE id = @id AND state = 'active'
       RETURNING *`,
    ),
    end: db.prepare(
      `UPDATE events SET end_ms = @endMs, ended_at_ms = @endedAtMs, peak = @peak, mean = @mean, state = 'ended'
       WHERE id = @id AND state = 'active'`,
    ),
    endActive: db.prepare<[string], EventRow>("UPDATE events SET state = 'ended' WHERE camera_id = ? AND state = 'active' RETURNING *"),
    snapshot: db.prepare<[string]>('UPDATE events SET snapshot = 1 WHERE id = ?'),
    link: db.prepare<{ cameraId: string; clipId: string; fromMs: number; toMs: number }, EventRow>(
      `UPDATE events SET clip_id = @clipId
       WHERE camera_id = @cameraId AND clip_id IS NULL AND started_at_ms < @toMs AND ended_at_ms >= @fromMs
       RETURNING *`,
    ),
    // Stream times repeat across runs (a looping file starts at 0 each time): the wall-clock
    // span keeps an older run's event with the same start from taking the clip.
    linkOwn: db.prepare<
      { cameraId: string; clipId: string; fromMs: number; toMs: number; model: string; label: string; startMs: number },
      EventRow
    >(
      `UPDATE events SET clip_id = @clipId
       WHERE camera_id = @cameraId AND clip_id IS NULL AND started_at_ms < @toMs AND ended_at_ms >= @fromMs
         AND model = @model AND label = @label AND start_ms = @startMs
       RETURNING *`,
    ),
    review: db.prepare(`UPDATE events SET review = @state, review_note = @note, review_by = @by, review_at_ms = @atMs WHERE id = @id`),
    remove: db.prepare<[string]>('DELETE FROM events WHERE id = ?'),
    prunable: db.prepare<[number, number, number], { id: string }>(
      `SELECT id FROM events WHERE state = 'ended' AND review != 'confirmed'
       AND (ended_at_ms < ? OR seq <= (SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?))
       ORDER BY seq LIMIT ?`,
    ),
  }));

  const get = (id: string): VigilEvent | undefined => {
    assertEventId(id);
    const row = guard(dbPath, () => q.get.get(id));
    return row ? eventOf(row) : undefined;
  };
  const must = (id: string): VigilEvent => {
    const e = get(id);
    if (!e) throw vigilError('VIGIL_ERR_NOT_FOUND', `event ${id}`);
    return e;
  };

  return {
    async open(start, id = newEventId()) {
      assertEventId(id);
      const s = parseWith(startSchema, start, 'event');
      guard(dbPath, () => q.insert.run({ id, ...s }));
      return sameStart(must(id), s);
    },

    async progress(id, p) {
      assertEventId(id);
      const x = parseWith(progressSchema, p, 'event progress');
      const row = guard(dbPath, () => q.progress.get({ id, ...x }));
      return row && eventOf(row);
    },

    async end(id, p) {
      assertEventId(id);
      const x = parseWith(progressSchema, p, 'event end');
      const changed = guard(dbPath, () => q.end.run({ id, ...x })).changes;
      if (changed === 0) throw notActive(id, get(id) !== undefined);
      return must(id);
    },

    async endActive(cameraId) {
      assertCameraId(cameraId);
      const rows = guard(dbPath, () => q.endActive.all(cameraId));
      return rows.sort((a, b) => a.seq - b.seq).map(eventOf);
    },

    async saveSnapshot(id, jpeg) {
      assertEventId(id);
      if (!get(id)) return false;
      const to = writeSnapshotFile(layout, id, jpeg);
      const changed = guard(dbPath, () => q.snapshot.run(id)).changes;
      // Deleted meanwhile: its row went first, so the file is this writer's to remove.
      if (changed === 0) removeFile(to);
      return changed > 0;
    },

    async snapshotPath(id) {
      const e = must(id);
      if (!e.snapshot) throw vigilError('VIGIL_ERR_NOT_FOUND', `event ${id} has no snapshot (yet)`);
      return snapshotFile(layout, id);
    },

    async linkClip(cameraId, clipId, fromMs, toMs, only) {
      if (!CAMERA_ID_PATTERN.test(cameraId) || !CLIP_ID_PATTERN.test(clipId) || !(fromMs <= toMs)) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'linkClip takes a camera id, a clip id and a span');
      }
      const span = { cameraId, clipId, fromMs, toMs };
      if (!only) return guard(dbPath, () => q.link.all(span)).map(eventOf);
      const rows = guard(dbPath, () =>
        db.transaction(() => only.flatMap(({ model, label, startMs }) => q.linkOwn.all({ ...span, model, label, startMs })))(),
      );
      return rows.map(eventOf);
    },

    get: async (id) => get(id),

    async list(query = {}) {
      const f = parseWith(querySchema, query, 'event query');
      const { where, params } = filtersOf(f);
      params.limit = f.limit + 1;
      const sql = `SELECT * FROM events ${where} ORDER BY seq DESC LIMIT @limit`;
      const rows = guard(dbPath, () => db.prepare(sql).all(params) as EventRow[]);
      // One more than asked says whether a next page exists.
      const more = rows.length > f.limit;
      const page = more ? rows.slice(0, f.limit) : rows;
      return { events: page.map(eventOf), next: more ? String(page[page.length - 1].seq) : null };
    },

    async count(query = {}) {
      const { where, params } = filtersOf(parseWith(countSchema, query, 'event query'));
      return guard(dbPath, () => (db.prepare(`SELECT COUNT(*) AS n FROM events ${where}`).get(params) as { n: number }).n);
    },

    async review(id, input) {
      assertEventId(id);
      const r = parseWith(reviewSchema, input, 'review');
      const changed = guard(dbPath, () =>
        q.review.run({ id, state: r.state, note: r.note ?? null, by: r.by ?? null, atMs: now() }),
      ).changes;
      if (changed === 0) throw vigilError('VIGIL_ERR_NOT_FOUND', `event ${id}`);
      return must(id);
    },

    async prune({ beforeMs = -Infinity, keep = Number.MAX_SAFE_INTEGER }) {
      // In batches, rows before their files as everywhere in the store.
      const gone: string[] = [];
      for (;;) {
        const ids = guard(dbPath, () => q.prunable.all(beforeMs, keep, 500)).map((r) => r.id);
        if (ids.length === 0) return gone;
        guard(dbPath, () => db.transaction(() => ids.forEach((id) => q.remove.run(id)))());
        for (const id of ids) removeFile(snapshotFile(layout, id));
        gone.push(...ids);
      }
    },
    async remove(id) {
      assertEventId(id);
      const changed = guard(dbPath, () => q.remove.run(id)).changes;
      if (changed === 0) return false;
      removeFile(snapshotFile(layout, id));
      return true;
    },
  };
}
