import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { asVigilError, vigilError, type VigilError } from '../errors.js';
import { log } from '../log.js';

/** The body of every API error: `{ "error": { "code": "VIGIL_ERR_…", "message": "…" } }`. */
export function errorBody(e: VigilError): { error: { code: string; message: string } } {
  return { error: { code: e.code, message: e.message } };
}

/** Wraps an async handler so a rejection reaches the error middleware (express 4 does not). */
export function handle(fn: (req: Request, res: Response) => Promise<unknown> | unknown): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve()
      .then(() => fn(req, res))
      .catch(next);
  };
}

/**
 * Every failure becomes a coded JSON error with the registry's HTTP status; body-parser's
 * own errors (too large, bad JSON) are mapped to our codes first.
 */
export const errorMiddleware: ErrorRequestHandler = (e, _req, res, _next) => {
  const err = toVigilError(e);
  if (err.code === 'VIGIL_ERR_INTERNAL') log.error(`request failed: ${(e as Error).stack ?? e}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // send() puts `Content-Range: bytes */<size>` on its 416, as RFC 9110 asks.
  if (err.code === 'VIGIL_ERR_RANGE') res.set((e as { headers?: Record<string, string> }).headers ?? {});
  res.status(err.httpStatus).json(errorBody(err));
};

function toVigilError(e: unknown): VigilError {
  const type = (e as { type?: string }).type;
  if (type === 'entity.too.large') return vigilError('VIGIL_ERR_TOO_LARGE', `request body over ${(e as { limit?: number }).limit} bytes`);
  if ((e as { status?: number }).status === 416) return vigilError('VIGIL_ERR_RANGE', 'the requested bytes are past the end of the file');
  if (type === 'entity.parse.failed') return vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'request body is not valid JSON');
  return asVigilError(e);
}

/** POST and PATCH bodies of the JSON API must say they are JSON. */
export const requireJson: RequestHandler = (req, _res, next) => {
  if (!req.is('application/json')) next(vigilError('VIGIL_ERR_UNSUPPORTED_MEDIA', `expected application/json, got ${req.get('content-type') ?? 'no content type'}`));
  else next();
};
