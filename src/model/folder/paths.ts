import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where vigil's models live; light on purpose, so `vigil --help` does not load tfjs. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

/** The folder holding vigil's package.json (models/ and fixtures/ sit beside it). */
export const PACKAGE_ROOT = packageRoot();

/** The models that ship with vigil. */
export const SHIPPED_MODELS_DIR = join(PACKAGE_ROOT, 'models');
export const DEFAULT_MODEL = 'fight';
export const MANIFEST_FILE = 'manifest.json';

export function listModelNames(): string[] {
  if (!existsSync(SHIPPED_MODELS_DIR)) return [];
  return readdirSync(SHIPPED_MODELS_DIR).filter((n) => existsSync(join(SHIPPED_MODELS_DIR, n, MANIFEST_FILE)));
}
