import { randomBytes } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { finished, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { once } from 'node:events';
import { isVigilError, vigilError } from '../errors.js';
import { storeError } from './db.js';
import { assertExt, EXT_PATTERN, quote } from './ids.js';
import { resolveInside, type Layout } from './paths.js';

/**
 * @property maxBytes the most bytes accepted (a positive integer)
 * @property ext extension of the staged file (`mp4`, `webm`; a leading dot is dropped)
 * @property signal aborts the write (VIGIL_ERR_ABORTED)
 */
export interface StageOptions {
  maxBytes: number;
  ext: string;
  signal?: AbortSignal;
}

/**
 * A fresh, not yet existing path `<dataDir>/staging/<16 hex>.<ext>`. `ext` may carry its
 * dot (`.mp4`); an empty one gives a bare name, e.g. a prefix for a folder of segments.
 */
export function newStagingPath(layout: Layout, ext: string): string {
  const bare = typeof ext === 'string' ? ext.replace(/^\./, '') : ext;
  // Validates the original so the message shows what the caller passed.
  if (bare !== '' && !EXT_PATTERN.test(bare)) assertExt(ext);
  return resolveInside(layout.staging, `${randomBytes(8).toString('hex')}${bare === '' ? '' : `.${bare}`}`);
}

/** The staged path after checking it lies inside staging. */
export function stagedPathInside(layout: Layout, path: string): string {
  if (typeof path !== 'string') throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `staged path must be a string, got ${quote(path)}`);
  return resolveInside(layout.staging, relative(layout.staging, resolve(path)));
}

/** Deletes a staged file (or folder) that will not be adopted; a missing one is fine. */
export function discardStaged(layout: Layout, path: string): void {
  const full = stagedPathInside(layout, path);
  try {
    rmSync(full, { force: true, recursive: true });
  } catch (e) {
    throw storeError(full, e);
  }
}

/**
 * Streams `input` into a new staging file, counting bytes as they pass: the upload is never
 * held in memory and never exceeds `maxBytes` on disk. On any failure the partial file is
 * deleted before the promise rejects.
 *
 * `input` is piped, not consumed with `pipeline`, so a failure unpipes it and leaves it
 * paused instead of destroying it: an HTTP server still owns the request and can answer
 * 413 before it closes the connection.
 * @throws VIGIL_ERR_TOO_LARGE past `maxBytes`; VIGIL_ERR_ABORTED when `signal` fires or the
 *   input errors or closes before its end; VIGIL_ERR_STORE when the disk write fails
 */
export async function stageStream(
  layout: Layout,
  input: NodeJS.ReadableStream,
  options: StageOptions,
): Promise<{ path: string; bytes: number }> {
  const { maxBytes, signal } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `maxBytes must be a positive integer, got ${String(maxBytes)}`);
  }
  if (typeof options.ext !== 'string' || options.ext.replace(/^\./, '') === '') assertExt(options.ext);
  const path = newStagingPath(layout, options.ext);
  if (signal?.aborted) throw vigilError('VIGIL_ERR_ABORTED', `writing ${path}`);

  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > maxBytes) callback(vigilError('VIGIL_ERR_TOO_LARGE', `more than ${maxBytes} bytes`));
      else callback(null, chunk);
    },
  });
  const out = createWriteStream(path, { flags: 'wx' });
  const fail = (e: Error) => counter.destroy(e);
  const onAbort = () => fail(vigilError('VIGIL_ERR_ABORTED', `writing ${path}`));
  // `pipe` does not forward the source's errors or an early close; this does.
  const stopWatching = finished(input, (e) => {
    if (e) fail(isVigilError(e) ? e : vigilError('VIGIL_ERR_ABORTED', `input failed before its end (${e.message})`, e));
  });
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    input.pipe(counter);
    await pipeline(counter, out);
    return { path, bytes };
  } catch (e) {
    input.unpipe(counter);
    if (!out.closed) await once(out, 'close').catch(() => undefined);
    await rm(path, { force: true }).catch(() => undefined);
    throw storeError(path, e);
  } finally {
    stopWatching();
    signal?.removeEventListener('abort', onAbort);
  }
}
