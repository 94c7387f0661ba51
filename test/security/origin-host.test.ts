import { expect } from 'chai';
import { resolve } from 'node:path';
import { httpRequest } from '../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 reaches the
 * server with `Host: evil.example` and the page's own origin; a cross-site page sends its
 * `Origin`. Neither may read or change anything.
 */
describe('security: Host and Origin of HTTP requests', function () {
  this.timeout(60_000);
  let t: TestServer;
  let port: string;
  before(async () => {
    t = await startTestServer({ allowedHosts: ['vigil.lan'], allowedOrigins: ['https://dash.example'] });
    port = new URL(t.url).port;
  });
  after(() => t.stop());

  it('answers 403 VIGIL_ERR_FORBIDDEN to a name it was not given, on the API and the page', async () => {
    for (const host of [
      'evil.example',
      `evil.example:${port}`,
      'localhost.evil.example',
      'vigil.lan.evil.example',
      '127.0.0.1.evil.example',
      'a b',
    ]) {
      for (const path of ['/api/status', '/api/cameras', '/']) {
        const r = await httpRequest(`${t.url}${path}`, { headers: { host } });
        // node itself answers 400 to a Host that is no host at all.
        if (host === 'a b' && r.status === 400) continue;
        expect(r.status, `${host} ${path}`).to.equal(403);
        expect(r.body.error.code).to.equal('VIGIL_ERR_FORBIDDEN');
        expect(r.body.error.message).to.contain('--allow-host');
      }
    }
  });

  it('answers to IP literals, localhost, the bound host and the allowed names', async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      'LOCALHOST',
      `[::1]:${port}`,
      '10.1.2.3',
      'vigil.lan',
      `VIGIL.LAN:${port}`,
      'vigil.lan.',
    ]) {
      const r = await httpRequest(`${t.url}/api/status`, { headers: { host } });
      expect(r.status, host).to.equal(200);
    }
  });

  it('refuses a change sent by a page of another site, and keeps nothing of it', async () => {
    const body = JSON.stringify({ id: 'evil', source: resolve('fixtures/demo.mp4'), model: 'fight' });
    for (const origin of ['http://evil.example', 'null', `http://localhost:${Number(port) + 1}`]) {
      const r = await httpRequest(`${t.url}/api/cameras`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json' },
        body,
      });
      expect(r.status, origin).to.equal(403);
      expect(r.body.error.code).to.equal('VIGIL_ERR_FORBIDDEN');
      expect(r.body.error.message).to.contain('--allow-origin');
    }
    expect((await t.api('/api/cameras')).body.cameras).to.deep.equal([]);
    // The UI's own page, and an allowed dashboard, are served.
    for (const origin of [new URL(t.url).origin, 'https://dash.example']) {
      const r = await httpRequest(`${t.url}/api/cameras`, { headers: { origin } });
      expect(r.status, origin).to.equal(200);
    }
  });
});
