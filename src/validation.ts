import type { z } from 'zod';
import { vigilError, type ErrorCode } from './errors.js';

/** Turns zod issues into one line: `classes: class names must be unique; fps: ...`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * `value` parsed by `schema`, or a coded error naming what was wrong:
 * `parseWith(cameraSchema, body, 'camera')` throws `invalid argument: camera: id: ...`.
 * @param what names the value in the message (`what: issues`)
 * @param [code='VIGIL_ERR_INVALID_ARGUMENT'] the error's code: each caller keeps its own
 * @throws `code` listing every issue
 */
export function parseWith<T extends z.ZodTypeAny>(
  schema: T,
  value: unknown,
  what: string,
  code: ErrorCode = 'VIGIL_ERR_INVALID_ARGUMENT',
): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw vigilError(code, `${what}: ${describeIssues(parsed.error)}`);
  return parsed.data as z.output<T>;
}
