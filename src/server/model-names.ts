import { join } from 'node:path';
import { vigilError } from '../errors.js';
import { readManifest } from '../model/folder/model-folder.js';
import { listModelNames, SHIPPED_MODELS_DIR } from '../model/folder/paths.js';
import { MODEL_NAME_PATTERN, quote } from '../store/ids.js';

/**
 * A model named by a client: a shipped model's NAME, never a path. The CLI's
 * `resolveModelDir` also takes folders (anything with a dot or a slash); the server must not,
 * or a request could probe which paths exist. A malformed name gets the same answer whatever
 * it names on disk; a well-formed unknown one gets the list of shipped names.
 * @param [what='model'] what the value is, for the message
 * @throws VIGIL_ERR_INVALID_ARGUMENT unless a string matching MODEL_NAME_PATTERN;
 *   VIGIL_ERR_MODEL_NOT_FOUND for a name no shipped model has
 * @example checkModelName('fight') // 'fight'
 */
export function checkModelName(value: unknown, what = 'model'): string {
  const shipped = listModelNames().sort();
  if (typeof value !== 'string' || !MODEL_NAME_PATTERN.test(value)) {
    throw vigilError(
      'VIGIL_ERR_INVALID_ARGUMENT',
      `${what} must be a model name (lowercase letters, digits, - and _), one of: ${shipped.join(', ')}; got ${quote(value)}`,
    );
  }
  if (!shipped.includes(value)) throw vigilError('VIGIL_ERR_MODEL_NOT_FOUND', `${quote(value)}; shipped: ${shipped.join(', ')}`);
  return value;
}

/** The classes of a shipped model, in manifest order. @throws as {@link checkModelName} */
export function modelClasses(name: unknown): string[] {
  return readManifest(join(SHIPPED_MODELS_DIR, checkModelName(name))).classes;
}
