import { STATUS_CODES } from 'node:http';
import { isAbsolute, relative, sep } from 'node:path';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { asVigilError, isVigilError, vigilError, type ErrorCode, type VigilError } from '../errors.js';
import { log } from '../log.js';
import { PACKAGE_ROOT } from '../model/folder/paths.js';

/** The body of every API error: `{ "error": { "code": "VIGIL_ERR_…", "message": "…" } }`. */
export function errorBody(e: VigilError): { error: { code: string; message: string } } {
  return { error: { code: e.code, message: redactPaths(e.message) } };
}

/** Wraps an async handler so a rejection reaches the error middleware (express 4 does not). */
export function handle(fn: (req: Request, res: Response) => unknown): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve()
      .then(() => fn(req, res))
      .catch(next);
  };
}

// Folders whose absolute paths no client is shown (see redactPaths); data folders join as
// servers open them.
const privateDirs = new Set<string>([PACKAGE_ROOT]);

/**
 * Hides `dir` from every API error: its paths are shown relative to it (`staging/0a1b.mp4`).
 * The router that serves a data folder's files registers that folder.
 */
export function keepPathPrivate(dir: string): void {
  if (isAbsolute(dir)) privateDirs.add(dir);
}

/**
 * A message as a client may see it: every absolute path under `roots`, the registered
 * private folders (the package, data folders) or the working directory is shown relative to
 * the deepest of them (the folder itself as `.`), so an answer tells nothing of the server's
 * file system layout.
 * @example redactPaths('storage failed: /srv/vigil/staging/0a1b.mp4: ENOSPC', ['/srv/vigil'])
 *   // 'storage failed: staging/0a1b.mp4: ENOSPC'
 */
export function redactPaths(message: string, roots: readonly string[] = []): string {
  const dirs = [...new Set([...roots, ...privateDirs, process.cwd()])]
    .filter((d) => isAbsolute(d) && d !== sep)
    .sort((a, b) => b.length - a.length);
  let out = message;
  for (const dir of dirs) {
    const escaped = dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // The folder followed by a separator and more of a path, or the folder alone.
    out = out.replace(new RegExp(`${escaped}(?:[\\\\/]([^\\s'"]*)|(?=$|[\\s'":;,)]))`, 'g'), (_m, rest?: string) =>
      rest ? relative(dir, `${dir}${sep}${rest}`) || '.' : '.',
    );
  }
  return out;
}

/** Headers a response may carry from a file it was about to send; an error answer drops them. */
const FILE_HEADERS = [
  'Content-Type',
  'Content-Length',
  'Content-Disposition',
  'Content-Encoding',
  'ETag',
  'Last-Modified',
  'Accept-Ranges',
];

/**
 * Every failure becomes a coded JSON error with the registry's HTTP status; errors of express
 * itself, body-parser and send (which carry a 4xx `status`) are mapped to our codes first, and
 * no message shows a server path (see {@link redactPaths}).
 */
export const errorMiddleware: ErrorRequestHandler = (e, _req, res, _next) => {
  const err = toVigilError(e);
  if (err.code === 'VIGIL_ERR_INTERNAL') log.error(`request failed: ${(e as Error).stack ?? e}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A route may have typed the response for the file it meant to send (video/mp4).
  for (const h of FILE_HEADERS) res.removeHeader(h);
  // send() puts `Content-Range: bytes */<size>` on its 416, as RFC 9110 asks.
  if (err.code === 'VIGIL_ERR_RANGE') res.set((e as { headers?: Record<string, string> }).headers ?? {});
  res.status(err.httpStatus).json(errorBody(err));
};

/** Our code for an HTTP status that express, body-parser or send put on an error. */
const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'VIGIL_ERR_INVALID_ARGUMENT',
  401: 'VIGIL_ERR_UNAUTHORIZED',
  403: 'VIGIL_ERR_FORBIDDEN',
  404: 'VIGIL_ERR_NOT_FOUND',
  409: 'VIGIL_ERR_CONFLICT',
  413: 'VIGIL_ERR_TOO_LARGE',
  415: 'VIGIL_ERR_UNSUPPORTED_MEDIA',
  416: 'VIGIL_ERR_RANGE',
};

function toVigilError(e: unknown): VigilError {
  if (isVigilError(e)) return e;
  const x = (e ?? {}) as {
    type?: string;
    status?: unknown;
    statusCode?: unknown;
    limit?: number;
    message?: unknown;
    charset?: string;
    expose?: boolean;
  };
  const type = x.type;
  if (type === 'entity.too.large') return vigilError('VIGIL_ERR_TOO_LARGE', `request body over ${x.limit} bytes`);
  if (type === 'entity.parse.failed') return vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'request body is not valid JSON');
  const status = typeof x.status === 'number' ? x.status : typeof x.statusCode === 'number' ? x.statusCode : undefined;
  if (status === undefined || status < 400 || status > 499) return asVigilError(e);
  // express 4 decodes route parameters with decodeURIComponent and passes its URIError on.
  if (e instanceof URIError) return vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'malformed percent-escape in the URL path');
  if (status === 416) return vigilError('VIGIL_ERR_RANGE', 'the requested bytes are past the end of the file');
  if (status === 412) return vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'precondition failed (If-Match or If-Unmodified-Since)');
  // send's 404 carries the fs error naming the file: the path stays in the server.
  if (status === 404) return vigilError('VIGIL_ERR_NOT_FOUND', 'the file is gone');
  const code = CODE_BY_STATUS[status] ?? 'VIGIL_ERR_INVALID_ARGUMENT';
  const text =
    x.expose !== false && typeof x.message === 'string' && x.message !== '' ? x.message : (STATUS_CODES[status] ?? `HTTP ${status}`);
  return vigilError(code, `${text.charAt(0).toLowerCase()}${text.slice(1)}`, e);
}

/** POST and PATCH bodies of the JSON API must say they are JSON. */
export const requireJson: RequestHandler = (req, _res, next) => {
  if (!req.is('application/json'))
    next(vigilError('VIGIL_ERR_UNSUPPORTED_MEDIA', `expected application/json, got ${req.get('content-type') ?? 'no content type'}`));
  else next();
};
