import { Router, type Request } from 'express';
import { z } from 'zod';
import { vigilError } from '../../errors.js';
import type { EventService } from '../../events/service.js';
import { REVIEW_STATES } from '../../events/types.js';
import { assertEventId, type Store } from '../../store/index.js';
import { parseWith } from '../../validation.js';
import { handle, requireJson } from '../http.js';

/** A time in a query: epoch ms, or an ISO 8601 date or date-time (`2025-01-31`, `2025-01-31T12:00:00Z`). */
const time = z
  .string()
  .max(40)
  .transform((v, ctx) => {
    const ms = /^\d{1,16}$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) ? Date.parse(v) : NaN;
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: 'epoch ms or an ISO 8601 date, e.g. 2025-01-31T12:00:00Z' });
      return z.NEVER;
    }
    return ms;
  });

// Query values arrive as text; a repeated or bracketed parameter (an array, an object) is refused.
const querySchema = z
  .object({
    camera: z.string().optional(),
    model: z.string().optional(),
    label: z.string().optional(),
    review: z.enum(REVIEW_STATES).optional(),
    after: time.optional(),
    before: time.optional(),
    limit: z
      .string()
      .regex(/^\d{1,4}$/, 'an integer 1-1000')
      .transform(Number)
      .optional(),
    cursor: z.string().optional(),
  })
  .strict();

const patchSchema = z
  .object({
    review: z.enum(REVIEW_STATES),
    note: z.string().optional(),
    by: z.string().optional(),
  })
  .strict();

/**
 * `/api/events`: the list (newest first, filtered, paged with a cursor), how many match (`/count`), one event, its
 * snapshot JPEG, its review (PATCH) and delete.
 */
export function eventsRouter(o: { store: Store; events: EventService }): Router {
  const { store, events } = o;
  const r = Router();

  const idOf = (req: Request): string => {
    const id = req.params.id;
    assertEventId(id);
    return id;
  };

  r.get(
    '/',
    handle(async (req, res) => {
      const q = parseWith(querySchema, req.query, 'event query');
      res.json(
        await store.events.list({
          cameraId: q.camera,
          model: q.model,
          label: q.label,
          review: q.review,
          after: q.after,
          before: q.before,
          limit: q.limit,
          cursor: q.cursor,
        }),
      );
    }),
  );

  // Before '/:id', which would take `count` for an id.
  r.get(
    '/count',
    handle(async (req, res) => {
      const q = parseWith(querySchema.omit({ limit: true, cursor: true }), req.query, 'event count query');
      res.json({
        count: await store.events.count({
          cameraId: q.camera,
          model: q.model,
          label: q.label,
          review: q.review,
          after: q.after,
          before: q.before,
        }),
      });
    }),
  );

  r.get(
    '/:id',
    handle(async (req, res) => {
      const id = idOf(req);
      const event = await store.events.get(id);
      if (!event) throw vigilError('VIGIL_ERR_NOT_FOUND', `event ${id}`);
      res.json(event);
    }),
  );

  r.get(
    '/:id/snapshot.jpg',
    handle(async (req, res) => {
      const path = await store.events.snapshotPath(idOf(req));
      // A snapshot is replaced at each new peak while the event is active.
      res.type('image/jpeg');
      res.sendFile(path, { cacheControl: false, dotfiles: 'deny', headers: { 'Cache-Control': 'no-cache' } });
    }),
  );

  r.patch(
    '/:id',
    requireJson,
    handle(async (req, res) => {
      const id = idOf(req);
      const body = parseWith(patchSchema, req.body, 'event');
      res.json(await events.review(id, { state: body.review, note: body.note, by: body.by }));
    }),
  );

  r.delete(
    '/:id',
    handle(async (req, res) => {
      await events.remove(idOf(req));
      res.status(204).end();
    }),
  );

  return r;
}
