import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/model/folder/paths.js';

/**
 * The text of a reference page, `docs/<page>.md` (the README is the front door; the reference
 * lives in docs/). Tests read it to keep what it says and what the code does in agreement.
 */
export function readDoc(page: string): string {
  return readFileSync(join(PACKAGE_ROOT, 'docs', `${page}.md`), 'utf8');
}
