import { PassThrough } from 'node:stream';
import type { WebSocket } from 'ws';
import { asVigilError, vigilError } from '../errors.js';
import type { CameraService } from './cameras.js';

/** Bytes buffered towards ffmpeg before the publisher's socket is paused. */
const HIGH_WATER = 4 * 1024 * 1024;

/**
 * A browser publishing its webcam: each binary message is the next chunk of a webm stream
 * (MediaRecorder with a timeslice), fed to the camera's ffmpeg through stdin. Chunks cannot
 * be dropped without breaking the stream, so a slow ffmpeg pauses the socket instead (TCP
 * pushes back on the browser). Closing the socket ends the stream; the camera waits for the
 * next publisher.
 */
export function attachIngest(ws: WebSocket, cameraId: string, cameras: CameraService): void {
  const stream = new PassThrough({ highWaterMark: HIGH_WATER });
  try {
    cameras.ingest(cameraId, stream);
  } catch (e) {
    const err = asVigilError(e);
    ws.close(err.wsClose, err.code);
    return;
  }
  stream.on('drain', () => ws.resume());
  // ffmpeg gone (camera stopped or replaced by another publisher): this publisher is done.
  stream.on('close', () => ws.readyState === ws.OPEN && ws.close(1000, 'stream closed'));
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      const err = vigilError('VIGIL_ERR_MESSAGE', 'ingest takes binary webm chunks only');
      ws.close(err.wsClose, err.code);
      return;
    }
    if (!stream.write(data)) ws.pause();
  });
  // End, never destroy: a destroyed source does not end its pipe, so ffmpeg would wait on
  // stdin forever. 'close' follows every 'error' (a message over the limit: 1009).
  ws.on('close', () => stream.end());
  ws.on('error', () => stream.end());
}
