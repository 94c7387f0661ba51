import { randomBytes } from 'node:crypto';
import { vigilError } from '../errors.js';

/**
 * Ids are the only user input that ever becomes part of a path, so every id is checked
 * against one of these patterns before it touches the disk or the database.
 */
export const CAMERA_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** `clp_` + 9 base36 digits of ms since the epoch (sorts by creation until year 5188) + 12 hex. */
export const CLIP_ID_PATTERN = /^clp_[0-9a-z]{9}[0-9a-f]{12}$/;
/** `ev_` + 16 hex (random: events are ordered by the store's sequence, not by id). */
export const EVENT_ID_PATTERN = /^ev_[0-9a-f]{16}$/;
/** Model names, as in a model's manifest. */
export const MODEL_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** File extensions of clip videos: `mp4`, `webm`, `mkv`, ... */
export const EXT_PATTERN = /^[a-z0-9]{1,8}$/;

/** Quotes a rejected value for an error message without letting it run on (or carry NULs). */
export function quote(value: unknown): string {
  if (typeof value !== 'string') return value === undefined ? 'undefined' : typeof value;
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** @throws VIGIL_ERR_INVALID_ARGUMENT unless `id` is a camera id */
export function assertCameraId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !CAMERA_ID_PATTERN.test(id)) {
    throw vigilError(
      'VIGIL_ERR_INVALID_ARGUMENT',
      `camera id must be 1-64 lowercase letters, digits, - or _ (starting with a letter or digit), got ${quote(id)}`,
    );
  }
}

/** @throws VIGIL_ERR_INVALID_ARGUMENT unless `id` is a clip id */
export function assertClipId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !CLIP_ID_PATTERN.test(id)) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `clip id must look like clp_0m5x8k2a1f3c9e0b7d4a6, got ${quote(id)}`);
  }
}

/** @throws VIGIL_ERR_INVALID_ARGUMENT unless `ext` is a plain lowercase extension without the dot */
export function assertExt(ext: unknown): asserts ext is string {
  if (typeof ext !== 'string' || !EXT_PATTERN.test(ext)) {
    throw vigilError(
      'VIGIL_ERR_INVALID_ARGUMENT',
      `file extension must be 1-8 lowercase letters or digits without the dot, got ${quote(ext)}`,
    );
  }
}

/** @throws VIGIL_ERR_INVALID_ARGUMENT unless `id` is an event id */
export function assertEventId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !EVENT_ID_PATTERN.test(id)) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `event id must look like ev_0f1e2d3c4b5a6978, got ${quote(id)}`);
  }
}

/** `ev_` + 16 hex digits. */
export function newEventId(): string {
  return `ev_${randomBytes(8).toString('hex')}`;
}

/** `cam-` + 8 hex digits. */
export function newCameraId(): string {
  return `cam-${randomBytes(4).toString('hex')}`;
}

/**
 * Makes clip ids that sort in creation order (the list's newest-first order and its `before`
 * cursor rely on it): the time comes first, and ids made in the same ms (or after the clock
 * stepped back) continue from the previous id instead of sorting at random.
 */
export function createClipIdGenerator(now: () => number): () => string {
  let lastMs = -1;
  let lastRandom = 0;
  const RANDOM_MAX = 2 ** 48 - 1;
  return () => {
    let ms = Math.max(0, Math.floor(now()));
    let random: number;
    if (ms <= lastMs && lastRandom < RANDOM_MAX) {
      ms = lastMs;
      random = lastRandom + 1;
    } else {
      random = randomBytes(6).readUIntBE(0, 6);
      // Leaves room to count up within one ms without carrying into the time.
      random = Math.floor(random / 2);
    }
    lastMs = ms;
    lastRandom = random;
    return `clp_${ms.toString(36).padStart(9, '0')}${random.toString(16).padStart(12, '0')}`;
  };
}
