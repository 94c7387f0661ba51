/**
 * A camera's pictures from wherever it runs: an API node asked for the preview or snapshot of a
 * camera another node runs fetches it from that node's API and streams it on, so a browser
 * talks to one node only. The MJPEG stream lasts as long as the viewer: closing the page
 * aborts the fetch, and the worker's viewer with it.
 */
import type { Response } from 'express';
import { Readable } from 'node:stream';
import { vigilError } from '../errors.js';
import type { FleetNode } from './node.js';

/** How long the worker may take to answer with headers (the stream itself has no deadline). */
const HEADERS_TIMEOUT_MS = 5000;

export type PictureFile = 'preview.mjpeg' | 'snapshot.jpg';

/**
 * @param token the fleet's access token (every node has the same one), sent to the worker
 * @throws VIGIL_ERR_CONFLICT when no node runs the camera now; VIGIL_ERR_FLEET when its node
 *   cannot be reached. The worker's own coded error (409: no picture yet) is passed on.
 */
export async function proxyPicture(
  fleet: FleetNode,
  token: string | undefined,
  cameraId: string,
  file: PictureFile,
  res: Response,
): Promise<void> {
  const holder = await fleet.locate(cameraId);
  if (!holder || holder.node === fleet.id) throw vigilError('VIGIL_ERR_CONFLICT', `camera ${cameraId} is not running on any node now`);
  if (!holder.url) throw vigilError('VIGIL_ERR_FLEET', `camera ${cameraId} runs on node ${holder.node}, which advertises no URL`);
  const abort = new AbortController();
  const onClose = () => abort.abort();
  res.once('close', onClose);
  const deadline = setTimeout(() => abort.abort(), HEADERS_TIMEOUT_MS);
  let upstream: globalThis.Response;
  try {
    upstream = await fetch(`${holder.url}/api/cameras/${encodeURIComponent(cameraId)}/${file}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: abort.signal,
      redirect: 'error',
    });
  } catch (e) {
    res.off('close', onClose);
    throw vigilError(
      'VIGIL_ERR_FLEET',
      `camera ${cameraId} runs on node ${holder.node}, which cannot be reached: ${(e as Error).message}`,
      e,
    );
  } finally {
    clearTimeout(deadline);
  }
  if (!upstream.ok || !upstream.body) {
    res.off('close', onClose);
    // The worker's coded error, as it said it (both ends are vigil).
    res
      .status(upstream.status)
      .type('application/json')
      .send(await upstream.text());
    return;
  }
  res.status(200);
  res.set('Content-Type', upstream.headers.get('content-type') ?? 'application/octet-stream');
  res.set('Cache-Control', 'no-store');
  const body = Readable.fromWeb(upstream.body);
  // The worker going away mid-stream ends the viewer's response; the viewer going away aborts the fetch.
  body.once('error', () => res.destroy());
  body.pipe(res);
}
