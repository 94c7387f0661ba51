import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { parseWith } from '../../validation.js';
import type { AdaptJobs } from '../adapt-jobs.js';
import { handle, requireJson } from '../http.js';
import { checkModelName } from '../model-names.js';

const adaptSchema = z.object({ model: z.unknown().optional() }).strict();

/** A POST whose body is optional: none at all, or JSON. */
const jsonOrNone: RequestHandler = (req, res, next) => {
  const empty = req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] ?? '0') === '0';
  if (empty) next();
  else requireJson(req, res, next);
};

/**
 * `/api/cameras/:id/adapt` (start a job), `/api/cameras/:id/models` (what runs, what was
 * made, the reviews since), `/api/cameras/:id/models/:model/rollback`. Models are named as
 * shipped (`fight`), never by folder: a camera's adapted versions are the store's.
 */
export function adaptRouter(jobs: AdaptJobs): Router {
  const r = Router();
  r.post(
    '/:id/adapt',
    jsonOrNone,
    handle(async (req, res) => {
      const body = parseWith(adaptSchema, req.body ?? {}, 'adapt');
      const model = body.model === undefined ? undefined : checkModelName(body.model);
      res.status(202).json(await jobs.start(req.params.id, model));
    }),
  );
  r.get(
    '/:id/models',
    handle(async (req, res) => res.json({ models: await jobs.models(req.params.id) })),
  );
  r.post(
    '/:id/models/:model/rollback',
    handle(async (req, res) => res.json(await jobs.rollback(req.params.id, checkModelName(req.params.model)))),
  );
  return r;
}
