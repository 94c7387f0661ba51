import { resolve } from 'node:path';
import { resolveModelDir } from '../model/model-folder.js';
import type { CameraInput, CameraRecord } from '../store/index.js';
import { classifySource } from '../video/probe.js';
import type { SourcePolicy } from './source-policy.js';

/**
 * A camera's settings as they arrive from the network, checked before anything is stored or
 * started: bad settings are refused on the API, not discovered later by the runner. A file
 * path is stored absolute, so the camera survives a restart from another working directory.
 */
export function checkCameraInput<T extends Partial<CameraInput>>(input: T, sources: SourcePolicy): T {
  if (input.model !== undefined) resolveModelDir(input.model);
  if (typeof input.source !== 'string') return input;
  if (input.source === 'webcam') return { ...input, source: sources.check(input.source, 'webcam') };
  const kind = classifySource(input.source);
  const source = kind === 'file' ? resolve(input.source) : input.source;
  return { ...input, source: sources.check(source, kind) };
}

/** A camera as it leaves the server. */
export function publicCamera<T extends CameraRecord>(record: T): T {
  return record;
}
