import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { vigilError } from '../errors.js';
import { quote } from './ids.js';

/** Where things live under the data directory. */
export interface Layout {
  /** Absolute data directory. */
  readonly root: string;
  /** `<root>/vigil.db` */
  readonly db: string;
  /** `<root>/clips`: complete videos only, `<clipId>.<ext>`, each with a row. */
  readonly clips: string;
  /** `<root>/staging`: files being written; wiped on open. */
  readonly staging: string;
  /** `<root>/snapshots`: `<eventId>.jpg`, each of an event row. */
  readonly snapshots: string;
  /** `<root>/models`: `<camera>/<model>-<version>/`, models adapted to a camera, each of a version row. */
  readonly models: string;
}

export function layoutOf(dataDir: string): Layout {
  const root = resolve(dataDir);
  return {
    root,
    db: join(root, 'vigil.db'),
    clips: join(root, 'clips'),
    staging: join(root, 'staging'),
    snapshots: join(root, 'snapshots'),
    models: join(root, 'models'),
  };
}

/**
 * Resolves `parts` below `dir` and asserts the result stays strictly inside it: the one
 * check every store path goes through, as a second line behind the id patterns.
 * Percent-escapes are not decoded (the HTTP layer does that), so `%2e%2e` is a plain name.
 * @throws VIGIL_ERR_INVALID_ARGUMENT for NUL bytes, absolute parts, or a result outside `dir`
 */
export function resolveInside(dir: string, ...parts: string[]): string {
  for (const part of parts) {
    if (typeof part !== 'string' || part === '' || part.includes('\0') || isAbsolute(part)) {
      throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `path ${quote(part)} is not a relative path inside ${dir}`);
    }
  }
  const root = resolve(dir);
  const full = resolve(root, ...parts);
  const rel = relative(root, full);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `path ${quote(parts.join('/'))} leads outside ${root}`);
  }
  return full;
}
