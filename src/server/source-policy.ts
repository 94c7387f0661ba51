import { realpathSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { vigilError } from '../errors.js';
import { displaySource, type SourceKind } from '../video/probe.js';

/**
 * Which sources a camera may read: the operator's allow-list (docs/service.md, "Security"). A camera's
 * `source` arrives from the network, and ffmpeg opens whatever it names, so without this a
 * request could have the server record any file it can read and serve it back.
 */
export interface SourcePolicy {
  /**
   * Checks a classified source and gives it in the form to store (files absolute, links
   * resolved). `webcam` is checked as its own kind.
   * @throws VIGIL_ERR_SOURCE_FORBIDDEN saying what the list allows
   */
  check(source: string, kind: SourceKind | 'webcam'): string;
  /** One line for logs and `vigil serve`: what the list allows. */
  describe(): string;
}

/** Everything a camera can name: the default on loopback. */
export const ANY_SOURCE = '*';

interface UrlRule {
  scheme: string;
  /** Undefined: any host of the scheme. */
  host?: string;
  port?: string;
}

/**
 * Builds the policy from its entries, each one of:
 * - `*`: any source;
 * - `webcam`: browser webcams (`source: "webcam"`);
 * - an absolute folder: files inside it (symbolic links are followed before the check, so
 *   a link inside cannot lead outside);
 * - `rtsp://`, `rtsps://`, `http://`, `https://`: any host of that scheme;
 * - `rtsp://host` or `rtsp://host:port`: that host (any port when none is given).
 * @throws VIGIL_ERR_CONFIG naming an entry that is none of these
 */
export function createSourcePolicy(entries: readonly string[]): SourcePolicy {
  const any = entries.includes(ANY_SOURCE);
  const webcam = any || entries.includes('webcam');
  const folders: string[] = [];
  const urls: UrlRule[] = [];
  for (const entry of entries) {
    if (entry === ANY_SOURCE || entry === 'webcam') continue;
    if (isAbsolute(entry)) {
      folders.push(realFolder(entry));
      continue;
    }
    const m = /^(rtsps?|https?):\/\/(?:(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?)?\/?$/i.exec(entry);
    if (!m)
      throw vigilError(
        'VIGIL_ERR_CONFIG',
        `sources: ${JSON.stringify(entry)} is not *, webcam, an absolute folder or a URL scheme/host such as rtsp:// or rtsp://10.0.0.5:554`,
      );
    urls.push({ scheme: m[1].toLowerCase(), host: m[2]?.toLowerCase(), port: m[3] });
  }

  const described = any
    ? 'any file, any rtsp/http(s) URL, webcam'
    : [
        folders.length > 0 ? `files under ${folders.join(', ')}` : 'no files',
        urls.length > 0 ? `URLs ${urls.map((u) => `${u.scheme}://${u.host ?? '*'}${u.port ? `:${u.port}` : ''}`).join(', ')}` : 'no URLs',
        webcam ? 'webcam' : 'no webcam',
      ].join('; ');

  function urlAllowed(source: string): boolean {
    let u: URL;
    try {
      u = new URL(source);
    } catch {
      return false;
    }
    const scheme = u.protocol.replace(/:$/, '').toLowerCase();
    const host = u.hostname.toLowerCase();
    return urls.some(
      (r) =>
        r.scheme === scheme &&
        (r.host === undefined || (r.host === host && (r.port === undefined || r.port === (u.port || defaultPort(scheme))))),
    );
  }

  return {
    check(source, kind) {
      if (kind === 'webcam') {
        if (webcam) return source;
        throw vigilError(
          'VIGIL_ERR_SOURCE_FORBIDDEN',
          'webcam sources are not enabled on this server (the operator allows them with --sources ...,webcam)',
        );
      }
      if (kind === 'file') {
        const real = realFile(source);
        if (any || folders.some((f) => real === f || real.startsWith(f.endsWith(sep) ? f : f + sep))) return any ? resolve(source) : real;
        // The allowed folders are the operator's business: the message does not list them.
        throw vigilError(
          'VIGIL_ERR_SOURCE_FORBIDDEN',
          `${source}: files are allowed only inside the folders the operator configured (--sources)`,
        );
      }
      if (kind === 'url' && (any || urlAllowed(source))) return source;
      throw vigilError('VIGIL_ERR_SOURCE_FORBIDDEN', `${displaySource(source)}: this server reads ${described}`);
    },
    describe: () => described,
  };
}

/** What a stored source is, from its form alone (the file may be gone; the policy judges the name). */
export function sourceShape(source: string): SourceKind | 'webcam' {
  if (source === 'webcam') return 'webcam';
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source) ? 'url' : 'file';
}

function defaultPort(scheme: string): string {
  return { rtsp: '554', rtsps: '322', http: '80', https: '443' }[scheme] ?? '';
}

function realFolder(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    // A folder that does not exist yet (a mount that comes later) is kept as written.
    return resolve(path);
  }
}

function realFile(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** Any source: what cameras may read when the operator names nothing and the server is on loopback. */
export const OPEN_SOURCES: SourcePolicy = createSourcePolicy([ANY_SOURCE]);
