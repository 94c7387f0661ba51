import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { vigilError } from '../../errors.js';

const require = createRequire(import.meta.url);

function mobileNetV2Files(): string[] {
  // The package exports its ESM/CJS wrappers only; the bundled model sits at dist/models/.
  const dir = join(dirname(require.resolve('nsfwjs/models/mobilenet_v2')), '..', '..', 'models', 'mobilenet_v2');
  return [join(dir, 'model.min.js'), join(dir, 'group1-shard1of1.min.js')];
}

function moveNetFiles(): string[] {
  const dir = join(dirname(require.resolve('@vladmandic/human')), '..', 'models');
  return [join(dir, 'movenet-lightning.json'), join(dir, 'movenet-lightning.bin')];
}

/**
 * The files each extractor's network is read from (what mobilenet-v2.ts and movenet.ts
 * load), by the names of `EXTRACTORS`; a test keeps the two in agreement.
 */
export const EXTRACTOR_WEIGHT_FILES: Readonly<Record<string, () => string[]>> = Object.freeze({
  mobilenet_v2: mobileNetV2Files,
  movenet_lightning: moveNetFiles,
  movenet_body: moveNetFiles,
});

/** sha256 hex over the files' names and bytes, each length-prefixed. */
export async function hashFiles(paths: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const path of paths) {
    const bytes = await readFile(path);
    h.update(`${basename(path)}:${bytes.length}:`);
    h.update(bytes);
  }
  return h.digest('hex');
}

const memo = new Map<string, Promise<string>>();

/**
 * A hash of an extractor's weight files, computed once per process: an npm update that
 * changes the network changes it (the feature cache keys on it).
 * @throws VIGIL_ERR_INTERNAL when vigil does not know the extractor's files, or cannot read them.
 */
export function extractorWeightsHash(name: string): Promise<string> {
  let p = memo.get(name);
  if (p === undefined) {
    const files = EXTRACTOR_WEIGHT_FILES[name];
    p =
      files === undefined
        ? Promise.reject(vigilError('VIGIL_ERR_INTERNAL', `no weight files known for extractor ${name} (weights-hash.ts)`))
        : Promise.resolve()
            .then(() => hashFiles(files()))
            .catch((e) => {
              throw vigilError('VIGIL_ERR_INTERNAL', `weights of extractor ${name} not readable: ${(e as Error).message}`, e);
            });
    memo.set(name, p);
    p.catch(() => memo.delete(name));
  }
  return p;
}
