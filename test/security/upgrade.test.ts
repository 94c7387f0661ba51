import { expect } from 'chai';
import { WebSocket } from 'ws';
import { resolve } from 'node:path';
import { startCliServer, type CliServer } from '../helpers/cli-server.js';
import { bodyOf, rawRequest, statusOf, upgradeRequest } from '../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const TOKEN = 'a-token-of-16-chars-or-more';
/** Request targets that are not valid relative URLs: `new URL` throws on each. */
const BAD_TARGETS = ['//', '///', '//[', '//:99999', '//a:b@', '//a:b@/ws', '//[::1/ws'];

/** Opens a WebSocket and resolves with how it went: opened, or the HTTP status it was refused with. */
function tryOpen(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ open: true; ws: WebSocket } | { open: false; status: number }> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers });
    ws.once('open', () => done({ open: true, ws }));
    ws.once('unexpected-response', (_req, res) => {
      done({ open: false, status: res.statusCode ?? 0 });
      res.resume();
    });
    ws.once('error', fail);
  });
}

describe('security: WebSocket upgrades', function () {
  this.timeout(120_000);

  describe('a request target that is not a URL (vigil serve as its own process)', () => {
    for (const args of [[], ['--token', TOKEN]]) {
      describe(args.length ? 'with a token' : 'without a token', () => {
        let cli: CliServer;
        before(async () => (cli = await startCliServer(args)));
        after(async () => {
          const end = await cli.stop();
          expect(end.code, cli.stderr()).to.equal(0);
        });

        it('gets a coded HTTP refusal, and the process keeps serving', async () => {
          for (const target of BAD_TARGETS) {
            const answer = await rawRequest(cli.url, upgradeRequest(target));
            expect(statusOf(answer), `${target}: ${answer}`).to.equal(404);
            expect(bodyOf(answer).error.code).to.equal('VIGIL_ERR_NOT_FOUND');
            expect(cli.child.exitCode, `${target} ended the process: ${cli.stderr()}`).to.equal(null);
          }
          const status = await fetch(`${cli.url}/api/status`, { headers: args.length ? { authorization: `Bearer ${TOKEN}` } : {} });
          expect(status.status).to.equal(200);
          // Plain HTTP requests to the same targets answer too (the token check read them with new URL).
          for (const target of BAD_TARGETS) {
            const answer = await rawRequest(cli.url, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
            expect(statusOf(answer), `${target}: ${answer}`).to.be.within(200, 499);
          }
          expect(cli.stderr()).to.not.match(/TypeError|Invalid URL/);
        });
      });
    }
  });

  describe('refused before the upgrade, with a plain HTTP status', () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ token: TOKEN, allowedOrigins: ['https://dash.example'] });
      await t.api('/api/cameras', {
        method: 'POST',
        body: { id: 'file', source: resolve('fixtures/demo.mp4'), model: 'fight' },
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      await t.api('/api/cameras', {
        method: 'POST',
        body: { id: 'cam', source: 'webcam', model: 'fight' },
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    });
    after(() => t.stop());

    it('a wrong or missing token is 401 on the handshake, with the code in a JSON body', async () => {
      for (const query of ['', '?token=wrong-token-wrong-token']) {
        const answer = await rawRequest(t.url, upgradeRequest(`/ws${query}`));
        expect(statusOf(answer), answer).to.equal(401);
        expect(bodyOf(answer).error.code).to.equal('VIGIL_ERR_UNAUTHORIZED');
      }
      const ok = await tryOpen(`${t.url}/ws?token=${TOKEN}`);
      expect(ok.open).to.equal(true);
      if (ok.open) ok.ws.close();
    });

    it('a client that sends a broken frame with its refused handshake gets the refusal and nothing else', async () => {
      // A masked frame with reserved bits set and a bogus opcode, right behind the handshake.
      const garbage = Buffer.from([0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02]);
      for (const path of ['/ws', '/api/cameras/file/ingest?token=' + TOKEN, '/api/cameras/nope/ingest?token=' + TOKEN]) {
        const answer = await rawRequest(t.url, Buffer.concat([Buffer.from(upgradeRequest(path)), garbage]));
        expect(statusOf(answer), `${path}: ${answer}`).to.be.oneOf([401, 404, 409]);
        expect(answer).to.not.contain('101 Switching Protocols');
      }
      const status = await t.api('/api/status', { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(status.status).to.equal(200);
    });

    it('ingest is routed first: an unknown camera is 404, a camera that is no webcam 409, a broken escape 400', async () => {
      const cases: Array<[string, number, string]> = [
        ['/api/cameras/nope/ingest', 404, 'VIGIL_ERR_NOT_FOUND'],
        ['/api/cameras/file/ingest', 409, 'VIGIL_ERR_CONFLICT'],
        ['/api/cameras/%E0%A4%A/ingest', 400, 'VIGIL_ERR_INVALID_ARGUMENT'],
        ['/api/cameras/..%2F..%2Fetc/ingest', 400, 'VIGIL_ERR_INVALID_ARGUMENT'],
        ['/nowhere', 404, 'VIGIL_ERR_NOT_FOUND'],
      ];
      for (const [path, status, code] of cases) {
        const answer = await rawRequest(t.url, upgradeRequest(`${path}?token=${TOKEN}`));
        expect(statusOf(answer), `${path}: ${answer}`).to.equal(status);
        expect(bodyOf(answer).error.code, path).to.equal(code);
      }
      const ok = await tryOpen(`${t.url}/api/cameras/cam/ingest?token=${TOKEN}`);
      expect(ok.open).to.equal(true);
      if (ok.open) ok.ws.close();
    });

    it('a page of another site cannot open either socket; the own origin and allowed ones can', async () => {
      const own = new URL(t.url).origin;
      for (const path of ['/ws', '/api/cameras/cam/ingest']) {
        for (const origin of ['http://evil.example', 'null', 'http://127.0.0.1:1', 'https://dash.example.evil.example']) {
          const r = await tryOpen(`${t.url}${path}?token=${TOKEN}`, { origin });
          expect(r, `${path} from ${origin}`).to.deep.equal({ open: false, status: 403 });
        }
        for (const origin of [own, 'https://dash.example', 'HTTPS://DASH.EXAMPLE:443']) {
          const r = await tryOpen(`${t.url}${path}?token=${TOKEN}`, { origin });
          expect(r.open, `${path} from ${origin}`).to.equal(true);
          if (r.open) {
            r.ws.close();
            await new Promise((done) => r.ws.once('close', done));
          }
        }
      }
      const answer = await rawRequest(t.url, upgradeRequest(`/ws?token=${TOKEN}`, { Origin: 'http://evil.example' }));
      expect(bodyOf(answer).error.code).to.equal('VIGIL_ERR_FORBIDDEN');
      expect(bodyOf(answer).error.message).to.contain('--allow-origin');
    });
  });
});
