import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { log } from '../../../log.js';

/**
 * Where converted graphs live: `$VIGIL_CACHE_DIR/onnx`, else `.cache/onnx` under the
 * working directory (where the feature cache and bench clips go too).
 */
export function onnxCacheDir(): string {
  const root = process.env.VIGIL_CACHE_DIR;
  return join(root !== undefined && root !== '' ? resolve(root) : resolve('.cache'), 'onnx');
}

/** sha256 hex of the parts, each length-prefixed so ('ab', 'c') and ('a', 'bc') differ. */
export function contentKey(parts: readonly (string | ArrayBufferView)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    h.update(`${typeof p === 'string' ? 's' : 'b'}${bytes.length}:`);
    h.update(bytes);
  }
  return h.digest('hex');
}

const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface CachedModel {
  readonly path: string;
  readonly bytes: Uint8Array;
  /** True when the file was there and intact; false when `build` ran. */
  readonly hit: boolean;
}

/**
 * A converted model by content key: read from disk when present and intact, otherwise built
 * and written. Each file has a `.sha256` beside it; a file that does not match (a crash
 * mid-write, a bad disk) is rebuilt rather than handed to onnxruntime. Writes go through a
 * temporary file and a rename, so concurrent processes never see half a model.
 * @param stem readable start of the file name, e.g. `mobilenet_v2`.
 * @param key from {@link contentKey}: it must cover everything the bytes depend on.
 * @param [dir=onnxCacheDir()]
 */
export async function cachedModel(
  stem: string,
  key: string,
  build: () => Uint8Array | Promise<Uint8Array>,
  dir = onnxCacheDir(),
): Promise<CachedModel> {
  const path = join(dir, `${stem}-${key.slice(0, 24)}.onnx`);
  const sumPath = `${path}.sha256`;
  if (existsSync(path) && existsSync(sumPath)) {
    const bytes = new Uint8Array(readFileSync(path));
    if (readFileSync(sumPath, 'utf8').trim() === digest(bytes)) return { path, bytes, hit: true };
    log.warn(`ONNX cache: ${path} does not match its checksum; converting again`);
  }
  const bytes = await build();
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
    writeFileSync(`${sumPath}.${process.pid}.tmp`, digest(bytes) + '\n');
    renameSync(`${sumPath}.${process.pid}.tmp`, sumPath);
  } catch (e) {
    // A read-only cache only costs a conversion per start; the model itself is fine.
    log.warn(`ONNX cache: cannot write ${path}: ${(e as Error).message}`);
  }
  return { path, bytes, hit: false };
}
