import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { vigilError } from '../errors.js';

/**
 * Who may talk to the server from a browser (docs/service.md, "Security"). Two checks, both cheap:
 *
 * - `Host`: a page on evil.example whose name is made to resolve to 127.0.0.1 (DNS
 *   rebinding) reaches the server with `Host: evil.example`. Only names the server answers
 *   to pass: IP literals (a rebinding needs a name), `localhost`, the bound host and the
 *   operator's `allowedHosts`.
 * - `Origin`: browsers send it on every WebSocket handshake and on cross-site requests,
 *   and it cannot be forged from a page. It must be the server's own origin (the one the
 *   `Host` names) or one of `allowedOrigins`. A request without it is not from a browser
 *   page (curl, ws, ffmpeg) and passes; the token still applies.
 */
export interface OriginGuard {
  /** @throws VIGIL_ERR_FORBIDDEN when `Host` or `Origin` is not allowed */
  check(req: IncomingMessage): void;
}

export interface OriginGuardOptions {
  /** The address the server is bound to. */
  host: string;
  /** More names accepted in `Host` (a reverse proxy's name, the machine's DNS name); `*` accepts any. */
  allowedHosts: readonly string[];
  /** More origins that may open WebSockets and call the API (`https://dash.example:8443`); `*` any. */
  allowedOrigins: readonly string[];
}

export function createOriginGuard(o: OriginGuardOptions): OriginGuard {
  const names = new Set(['localhost', o.host.toLowerCase(), ...o.allowedHosts.map((h) => h.toLowerCase())]);
  const anyHost = names.has('*');
  const origins = new Set(o.allowedOrigins.map(normaliseOrigin));
  const anyOrigin = origins.has('*');

  function hostAllowed(host: string): boolean {
    const name = hostName(host);
    return name !== undefined && (anyHost || isIP(name) !== 0 || names.has(name));
  }

  return {
    check(req) {
      // Two Host headers are a request smuggled past whichever one a proxy reads (RFC 9112 3.2: 400).
      if (countHeader(req.rawHeaders, 'host') > 1) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'more than one Host header');
      const host = req.headers.host;
      // HTTP/1.1 requires Host (node answers 400 without one); only HTTP/1.0 clients omit it.
      if (host !== undefined && !hostAllowed(host)) {
        throw vigilError(
          'VIGIL_ERR_FORBIDDEN',
          `this server does not answer to the name ${JSON.stringify(host.slice(0, 100))} (the operator can allow it with --allow-host)`,
        );
      }
      const origin = req.headers.origin;
      if (origin === undefined || anyOrigin) return;
      const normal = normaliseOrigin(origin);
      if (origins.has(normal)) return;
      const own = host !== undefined && (normal === normaliseOrigin(`http://${host}`) || normal === normaliseOrigin(`https://${host}`));
      if (!own) {
        throw vigilError(
          'VIGIL_ERR_FORBIDDEN',
          `requests from pages of ${JSON.stringify(origin.slice(0, 100))} are not allowed (the operator can allow it with --allow-origin)`,
        );
      }
    },
  };
}

function countHeader(raw: readonly string[], name: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === name) n += 1;
  return n;
}

/** The host name of a `Host` header value (`[::1]:8080` → `::1`), lowercased; undefined when malformed. */
function hostName(host: string): string | undefined {
  const m = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9._-]+))(?::\d{1,5})?$/i.exec(host.trim());
  if (!m) return undefined;
  return (m[1] ?? m[2]).toLowerCase().replace(/\.$/, '');
}

/** `HTTPS://Dash.Example:443` → `https://dash.example`; anything unparsable stays as given, lowercased. */
function normaliseOrigin(origin: string): string {
  if (origin === '*') return origin;
  try {
    const u = new URL(origin);
    return u.host ? `${u.protocol}//${u.host}` : origin.toLowerCase();
  } catch {
    return origin.toLowerCase();
  }
}
