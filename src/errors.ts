/**
 * The one registry of vigil's errors. Every error that can reach a user carries a stable
 * `VIGIL_ERR_*` code; the CLI prints `code: message` and exits non-zero, the server
 * maps `httpStatus` / `wsClose`. A test keeps this table and docs/errors.md in agreement.
 */

export interface ErrorSpec {
  /** One-line message template; `%s` is replaced by the detail passed at creation. */
  readonly message: string;
  /** HTTP status when the error crosses the API. */
  readonly httpStatus: number;
  /** WebSocket close code when the error ends a socket (4000-4999 are ours). */
  readonly wsClose: number;
}

export const ERRORS = Object.freeze({
  VIGIL_ERR_SOURCE_NOT_FOUND: { message: 'no such file: %s', httpStatus: 404, wsClose: 4404 },
  VIGIL_ERR_SOURCE_NOT_FILE: { message: 'not a regular file: %s', httpStatus: 400, wsClose: 4400 },
  VIGIL_ERR_SOURCE_EMPTY: { message: 'file is empty: %s', httpStatus: 400, wsClose: 4400 },
  VIGIL_ERR_SOURCE_INVALID: { message: 'not a readable video: %s', httpStatus: 415, wsClose: 4415 },
  VIGIL_ERR_SOURCE_NO_VIDEO: { message: 'source has no video stream: %s', httpStatus: 415, wsClose: 4415 },
  VIGIL_ERR_SOURCE_SCHEME: {
    message: 'unsupported source %s (use a file path, rtsp://, rtsps://, http:// or https://)',
    httpStatus: 400,
    wsClose: 4400,
  },
  VIGIL_ERR_SOURCE_UNREACHABLE: { message: 'cannot reach %s', httpStatus: 502, wsClose: 4502 },
  VIGIL_ERR_DECODE: { message: 'ffmpeg failed while decoding: %s', httpStatus: 422, wsClose: 4422 },
  VIGIL_ERR_FFMPEG_NOT_FOUND: { message: 'no usable ffmpeg: %s', httpStatus: 500, wsClose: 1011 },
  VIGIL_ERR_MODEL_NOT_FOUND: { message: 'no such model: %s', httpStatus: 404, wsClose: 4404 },
  VIGIL_ERR_MODEL_INVALID: { message: 'bad model folder: %s', httpStatus: 500, wsClose: 1011 },
  VIGIL_ERR_MODEL_NOT_ADAPTABLE: { message: 'model cannot be adapted: %s', httpStatus: 422, wsClose: 4422 },
  VIGIL_ERR_TOO_FEW_REVIEWS: { message: 'not enough reviews to adapt: %s', httpStatus: 422, wsClose: 4422 },
  VIGIL_ERR_EXTRACTOR_UNKNOWN: { message: 'unknown feature extractor: %s', httpStatus: 400, wsClose: 4400 },
  VIGIL_ERR_BACKEND: { message: 'no tensor backend could start: %s', httpStatus: 500, wsClose: 1011 },
  VIGIL_ERR_ENGINE: { message: 'inference engine unavailable: %s', httpStatus: 500, wsClose: 1011 },
  VIGIL_ERR_ONNX_UNSUPPORTED: { message: 'cannot convert to ONNX: %s', httpStatus: 500, wsClose: 1011 },
  VIGIL_ERR_INVALID_ARGUMENT: { message: 'invalid argument: %s', httpStatus: 400, wsClose: 4400 },
  VIGIL_ERR_ABORTED: { message: 'aborted: %s', httpStatus: 499, wsClose: 1000 },
  VIGIL_ERR_DATASET: { message: 'bad dataset: %s', httpStatus: 400, wsClose: 4400 },
  VIGIL_ERR_OUTPUT: { message: 'cannot write output: %s', httpStatus: 500, wsClose: 1011 },
  VIGIL_ERR_NOT_FOUND: { message: 'not found: %s', httpStatus: 404, wsClose: 4404 },
  VIGIL_ERR_CONFLICT: { message: 'conflict: %s', httpStatus: 409, wsClose: 4409 },
  VIGIL_ERR_RANGE: { message: 'range not satisfiable: %s', httpStatus: 416, wsClose: 4400 },
  VIGIL_ERR_TOO_LARGE: { message: 'too large: %s', httpStatus: 413, wsClose: 1009 },
  VIGIL_ERR_UNSUPPORTED_MEDIA: { message: 'unsupported media type: %s', httpStatus: 415, wsClose: 4415 },
  VIGIL_ERR_UNAUTHORIZED: { message: 'access token missing or wrong: %s', httpStatus: 401, wsClose: 4401 },
  VIGIL_ERR_FORBIDDEN: { message: 'forbidden: %s', httpStatus: 403, wsClose: 4403 },
  VIGIL_ERR_SOURCE_FORBIDDEN: { message: 'source not allowed: %s', httpStatus: 403, wsClose: 4403 },
  VIGIL_ERR_MESSAGE: { message: 'bad message: %s', httpStatus: 400, wsClose: 4400 },
  VIGIL_ERR_SLOW_CLIENT: { message: 'client too slow: %s', httpStatus: 503, wsClose: 4408 },
  VIGIL_ERR_STORE: { message: 'storage failed: %s', httpStatus: 500, wsClose: 1011 },
  VIGIL_ERR_SINK: { message: 'sink cannot deliver: %s', httpStatus: 502, wsClose: 4502 },
  VIGIL_ERR_CONFIG: { message: 'bad configuration: %s', httpStatus: 500, wsClose: 1011 },
  VIGIL_ERR_FLEET: { message: 'fleet coordination failed: %s', httpStatus: 503, wsClose: 1011 },
  VIGIL_ERR_JOB_ABANDONED: { message: 'labelling given up: %s', httpStatus: 500, wsClose: 1011 },
  VIGIL_ERR_INTERNAL: { message: 'internal error: %s', httpStatus: 500, wsClose: 1011 },
} satisfies Record<string, ErrorSpec>);

export type ErrorCode = keyof typeof ERRORS;

/** Marks vigil's errors so `instanceof` holds across copies of this module (see below). */
const BRAND = Symbol.for('vigil.error');

export class VigilError extends Error {
  readonly [BRAND] = true;
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly wsClose: number;

  /** @internal use {@link vigilError}; the constructor is not part of the API. */
  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown }) {
    const spec: ErrorSpec = ERRORS[code];
    super(spec.message.replace('%s', detail), options);
    this.name = 'VigilError';
    this.code = code;
    this.httpStatus = spec.httpStatus;
    this.wsClose = spec.wsClose;
  }

  // A module loaded twice (CJS and ESM copies, as test runners and bundlers can produce)
  // has two VigilError classes; the brand keeps `instanceof` true for either.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Creates a coded error: `vigilError('VIGIL_ERR_SOURCE_NOT_FOUND', path)`. */
export function vigilError(code: ErrorCode, detail: string, cause?: unknown): VigilError {
  return new VigilError(code, detail, cause === undefined ? undefined : { cause });
}

/**
 * Any thrown value as a coded error, for the places that must put a code on the wire or in a
 * status: a VigilError stays as it is, anything else becomes `code` [code=VIGIL_ERR_INTERNAL]
 * with its message, the original kept as the cause.
 */
export function asVigilError(e: unknown, code: ErrorCode = 'VIGIL_ERR_INTERNAL'): VigilError {
  return isVigilError(e) ? e : vigilError(code, e instanceof Error ? e.message : String(e), e);
}

export function isVigilError(e: unknown, code?: ErrorCode): e is VigilError {
  return e instanceof VigilError && (code === undefined || e.code === code);
}
