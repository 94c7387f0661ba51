import { closeSync, fsyncSync, openSync, rmSync } from 'node:fs';
import { log } from '../log.js';

/**
 * Makes a rename or unlink in `dir` durable. Best effort: some platforms (Windows) cannot
 * open a directory, and a lost rename is repaired by reconcile anyway.
 */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // see above
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Deletes a file whose row is already gone. A failure only leaves an orphan that the next
 * open deletes, so it is logged rather than thrown at a caller whose change did commit.
 */
export function removeFile(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch (e) {
    log.warn(`cannot delete ${path} (the next start retries): ${(e as Error).message}`);
  }
}
