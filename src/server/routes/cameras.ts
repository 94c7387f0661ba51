import { Router } from 'express';
import { vigilError } from '../../errors.js';
import type { CameraInput } from '../../store/index.js';
import type { CameraService } from '../cameras.js';
import { handle, requireJson } from '../http.js';

/**
 * `/api/cameras`: list, create, read, change, delete. A camera is
 * `{ id, name, source, model, fps, loop, record }` plus its live `status`.
 */
export function camerasRouter(cameras: CameraService): Router {
  const r = Router();
  r.get(
    '/',
    handle((_req, res) => res.json({ cameras: cameras.list() })),
  );
  r.post(
    '/',
    requireJson,
    // The body is a client's JSON: checkCameraInput and the store's schema check it field by field.
    handle(async (req, res) => res.status(201).json(await cameras.create(req.body as CameraInput))),
  );
  r.get(
    '/:id',
    handle((req, res) => res.json(cameras.get(req.params.id))),
  );
  r.get(
    '/:id/preview.mjpeg',
    handle((req, res) => cameras.preview(req.params.id).serve(res)),
  );
  r.get(
    '/:id/snapshot.jpg',
    handle((req, res) => {
      const jpeg = cameras.preview(req.params.id).latest();
      if (!jpeg) throw vigilError('VIGIL_ERR_CONFLICT', `camera ${req.params.id} has no picture yet`);
      res.set('Cache-Control', 'no-store').type('image/jpeg').send(jpeg);
    }),
  );
  r.patch(
    '/:id',
    requireJson,
    handle(async (req, res) => res.json(await cameras.update(req.params.id, req.body as Partial<CameraInput>))),
  );
  r.delete(
    '/:id',
    handle(async (req, res) => {
      await cameras.remove(req.params.id);
      res.status(204).end();
    }),
  );
  return r;
}
