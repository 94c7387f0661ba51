import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { vigilError } from '../errors.js';

/**
 * Checks the access token of an HTTP request or WebSocket upgrade: `Authorization: Bearer
 * <token>`, or `?token=` (browsers cannot set headers on a WebSocket or a <video> src).
 * Without a configured token everything passes (the server is on loopback then).
 * @throws VIGIL_ERR_UNAUTHORIZED
 */
export function checkToken(req: IncomingMessage, token: string | undefined): void {
  if (!token) return;
  const header = req.headers.authorization;
  const given = header?.startsWith('Bearer ') ? header.slice(7) : queryToken(req.url ?? '/');
  if (given === null || given === undefined || !same(given, token)) {
    throw vigilError('VIGIL_ERR_UNAUTHORIZED', given ? 'wrong token' : 'send Authorization: Bearer <token> or ?token=');
  }
}

/**
 * `?token=` of a request target, read without `new URL`: targets such as `//a:b@` are not
 * valid relative URLs and must not make the check throw anything but its own error.
 */
function queryToken(url: string): string | null {
  const q = url.indexOf('?');
  return q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get('token');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function requireToken(token: string | undefined): RequestHandler {
  return (req, _res, next) => {
    try {
      checkToken(req, token);
      next();
    } catch (e) {
      next(e);
    }
  };
}
