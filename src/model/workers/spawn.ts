import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker on a module next to this one, or next to `near` (a module's
 * `import.meta.url`), by stem (`worker` → worker.js). Built
 * (dist/) the module is plain JavaScript. Under tsx (tests, benches) the source is
 * TypeScript, and Node 20 does not apply the parent's `--import tsx` hooks to a worker's
 * entry: a bootstrap registers tsx in the worker first, then imports it.
 */
export function spawnWorker(stem: string, options: WorkerOptions, near: string = import.meta.url): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL(`./${stem}.js`, near), options);
  const entry = new URL(`./${stem}.ts`, near).href;
  const boot = `import(${JSON.stringify(tsxEsmApi(here))}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { ...options, eval: true });
}

/**
 * tsx's ESM API module. Found through its package.json's `exports`, because mocha loads
 * tests through tsx's CommonJS hook, where `import.meta.resolve` is missing and
 * `require.resolve` picks the CommonJS build (which cannot register ESM hooks).
 */
function tsxEsmApi(from: string): string {
  const pkgPath = createRequire(from).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(pkgPath), pkg.exports['./esm/api'].import.default)).href;
}
