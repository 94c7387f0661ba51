import { Router, type Response } from 'express';
import { isVigilError, vigilError } from '../../errors.js';
import type { PictureFile } from '../../fleet/preview-proxy.js';
import type { CameraInput } from '../../store/index.js';
import type { CameraService } from '../cameras.js';
import type { Preview } from '../preview.js';
import { handle, requireJson } from '../http.js';

/**
 * `/api/cameras`: list, create, read, change, delete. A camera is
 * `{ id, name, source, model, fps, loop, record }` plus its live `status`.
 * @param elsewhere in a fleet: serves the picture of a camera that runs on another node
 */
export function camerasRouter(cameras: CameraService, elsewhere?: (id: string, file: PictureFile, res: Response) => Promise<void>): Router {
  const r = Router();
  /** The camera's preview here, or undefined once `elsewhere` served it from the node running it. */
  async function local(id: string, file: PictureFile, res: Response): Promise<Preview | undefined> {
    try {
      return cameras.preview(id);
    } catch (e) {
      if (!elsewhere || !isVigilError(e, 'VIGIL_ERR_CONFLICT')) throw e;
      await elsewhere(id, file, res);
      return undefined;
    }
  }
  r.get(
    '/',
    handle(async (_req, res) => res.json({ cameras: await cameras.list() })),
  );
  r.post(
    '/',
    requireJson,
    // The body is a client's JSON: checkCameraInput and the store's schema check it field by field.
    handle(async (req, res) => res.status(201).json(await cameras.create(req.body as CameraInput))),
  );
  r.get(
    '/:id',
    handle(async (req, res) => res.json(await cameras.get(req.params.id))),
  );
  r.get(
    '/:id/preview.mjpeg',
    handle(async (req, res) => (await local(req.params.id, 'preview.mjpeg', res))?.serve(res)),
  );
  r.get(
    '/:id/snapshot.jpg',
    handle(async (req, res) => {
      const preview = await local(req.params.id, 'snapshot.jpg', res);
      if (!preview) return;
      const jpeg = preview.latest();
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
