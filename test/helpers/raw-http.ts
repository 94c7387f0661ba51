import { request } from 'node:http';
import { connect } from 'node:net';
import type { JsonAnswer } from './json.js';

/**
 * Sends bytes as they are on a fresh TCP connection and resolves with everything the server
 * answered until it closed the connection (or `timeoutMs` passed): for requests no HTTP
 * client would send, such as an upgrade to `//a:b@`.
 */
export function rawRequest(url: string, request: string | Buffer, timeoutMs = 5_000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ''));
    const chunks: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      done(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', finish);
    socket.on('close', finish);
    socket.write(request);
  });
}

/** A WebSocket handshake request for `path`, with extra header lines. */
export function upgradeRequest(path: string, headers: Record<string, string> = {}): string {
  const lines = [
    `GET ${path} HTTP/1.1`,
    ...('Host' in headers ? [] : ['Host: 127.0.0.1']),
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The status code of a raw HTTP answer, or undefined when the server sent nothing. */
export function statusOf(answer: string): number | undefined {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(answer);
  return m ? Number(m[1]) : undefined;
}

/** The JSON body of a raw HTTP answer (after the blank line). */
export function bodyOf(answer: string): JsonAnswer {
  const at = answer.indexOf('\r\n\r\n');
  return at < 0 ? undefined : JSON.parse(answer.slice(at + 4));
}

/** An HTTP request with headers fetch() will not send (`Host`), answered as status, headers and parsed JSON. */
export function httpRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: import('node:http').IncomingHttpHeaders; body: JsonAnswer }> {
  return new Promise((done, fail) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: the text
        }
        done({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', fail);
    req.end(init.body);
  });
}
