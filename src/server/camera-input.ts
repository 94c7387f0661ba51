import { resolve } from 'node:path';
import { vigilError } from '../errors.js';
import { modelList } from '../store/cameras.js';
import type { CameraInput, CameraRecord } from '../store/index.js';
import { quote } from '../store/ids.js';
import { classifySource, displaySource } from '../video/probe.js';
import { checkModelName, modelClasses } from './model-names.js';
import { sourceShape, type SourcePolicy } from './source-policy.js';

/** Longest `source` the store takes. */
const MAX_SOURCE = 2048;

/**
 * A camera's settings as they arrive from the network, checked before anything is stored or
 * started: bad settings are refused on the API, not discovered later by the runner. A file
 * path is stored absolute, so the camera survives a restart from another working directory.
 *
 * With `current` (an update), the checks that span fields (loop on a file only, event labels
 * among the classes of the camera's models, as every model labels its recordings) apply to the record as it will be after the patch, and a
 * `source` equal to the masked form the API shows (see {@link publicCamera}) means the
 * stored source: a client echoing back what it read keeps the password it never saw.
 * @throws VIGIL_ERR_INVALID_ARGUMENT naming the field (an empty `models`, a model twice); VIGIL_ERR_MODEL_NOT_FOUND; the
 *   source's own codes (classifySource, the source policy)
 */
export function checkCameraInput<T extends Partial<CameraInput>>(input: T, sources: SourcePolicy, current?: CameraRecord): T {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input; // the store says what is wrong
  if (input.model !== undefined) checkModelName(input.model);
  if (Array.isArray(input.models)) checkModels(input.model, input.models);
  let out: T = input;
  if (current && typeof input.source === 'string' && input.source !== current.source && input.source === displaySource(current.source)) {
    out = { ...out, source: current.source };
  }
  if (typeof out.source === 'string') out = { ...out, source: checkSource(out.source, sources) };
  const source = out.source ?? current?.source;
  const loop = out.loop ?? current?.loop;
  if (loop === true && typeof source === 'string' && sourceShape(source) !== 'file') {
    const kind = sourceShape(source) === 'url' ? 'a URL' : 'a webcam';
    throw vigilError(
      'VIGIL_ERR_INVALID_ARGUMENT',
      `loop replays a file; ${displaySource(source)} is ${kind} (send loop: false or leave it out)`,
    );
  }
  if (!current || out.model !== undefined || out.models !== undefined || out.record !== undefined)
    checkEventLabels(modelsOf(out) ?? current?.models, out.record ?? current?.record);
  return out;
}

/** Each of `models` shipped, listed once, `model` (if sent too) its first: the store's rules, said before anything loads. */
function checkModels(model: unknown, models: unknown[]): void {
  if (models.length === 0) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'camera: models: name at least one model');
  models.forEach((m, i) => checkModelName(m, `models[${i}]`));
  // The store says the rest (a model twice, model not the first) in the same words.
  modelList(typeof model === 'string' ? model : undefined, models as string[]);
}

/** The models a camera will run after this input, undefined when it names none. */
function modelsOf(input: Partial<CameraInput>): unknown[] | undefined {
  if (Array.isArray(input.models)) return input.models;
  return input.model === undefined ? undefined : [input.model];
}

/** A camera as it leaves the server: a source URL's password shows as `***`. */
export function publicCamera<T extends CameraRecord>(record: T): T {
  return { ...record, source: displaySource(record.source) };
}

function checkSource(source: string, sources: SourcePolicy): string {
  // Before classifying: a NUL or newline makes stat throw (or garbles logs), and a huge
  // string is no path; the store would refuse them too, but only after the stat.
  if (source.length > MAX_SOURCE) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `camera: source: at most ${MAX_SOURCE} characters`);
  // eslint-disable-next-line no-control-regex -- deliberately matches control characters in a client's source string
  if (/[\u0000-\u001f\u007f]/.test(source)) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'camera: source: no control characters');
  if (source === '') return source; // the store names it
  if (source === 'webcam') return sources.check(source, 'webcam');
  const kind = classifySource(source);
  return sources.check(kind === 'file' ? resolve(source) : source, kind);
}

/** `events` labels must be classes one of the camera's models gives, or the camera would never record. */
function checkEventLabels(models: unknown[] | undefined, record: unknown): void {
  if (!models || models.length === 0 || !models.every((m) => typeof m === 'string')) return;
  if (typeof record !== 'object' || record === null) return;
  const { mode, labels } = record as { mode?: unknown; labels?: unknown };
  if (mode !== 'events' || !Array.isArray(labels)) return; // the store's schema says what is wrong
  const classes = models.flatMap((m) => modelClasses(m));
  const unknown = (labels as unknown[]).find((l) => typeof l === 'string' && !classes.includes(l));
  if (unknown !== undefined) {
    const which = models.length === 1 ? `model ${models[0]}` : `models ${models.join(', ')}`;
    throw vigilError(
      'VIGIL_ERR_INVALID_ARGUMENT',
      `record.labels: ${quote(unknown)} is not a class of ${which} (classes: ${classes.join(', ')})`,
    );
  }
}
