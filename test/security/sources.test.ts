import { expect } from 'chai';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FIXTURES_DIR, resolveConfig } from '../../src/server/config.js';
import { createSourcePolicy } from '../../src/server/source-policy.js';
import { VigilError, type ErrorCode } from '../../src/errors.js';
import { thrown } from '../helpers/errors.js';
import { ffmpegChildren, settleFfmpeg } from '../helpers/processes.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const DEMO = resolve('fixtures/demo.mp4');

/** Asserts `fn` throws a VigilError with `code` whose message contains `part`. */
function expectVigilError(fn: () => unknown, code: ErrorCode, part: string): void {
  const e = thrown(fn);
  expect(e).to.be.instanceOf(VigilError);
  expect((e as VigilError).code).to.equal(code);
  expect((e as VigilError).message).to.contain(part);
}

describe('security: the sources allow-list', function () {
  this.timeout(60_000);
  let root: string;
  let allowed: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'vigil-sources-'));
    allowed = join(root, 'cameras');
    mkdirSync(allowed);
    copyFileSync(DEMO, join(allowed, 'door.mp4'));
    copyFileSync(DEMO, join(root, 'secret.mp4'));
    // A link inside the allowed folder that leads outside it.
    symlinkSync(join(root, 'secret.mp4'), join(allowed, 'link.mp4'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  describe('the policy', () => {
    it('lets files inside its folders through, resolved, and nothing outside', () => {
      const p = createSourcePolicy([allowed]);
      expect(p.check(join(allowed, 'door.mp4'), 'file')).to.equal(join(allowed, 'door.mp4'));
      for (const path of [
        join(root, 'secret.mp4'),
        join(allowed, 'link.mp4'),
        join(allowed, '..', 'secret.mp4'),
        `${allowed}-other/x.mp4`,
        '/etc/passwd',
      ]) {
        expectVigilError(
          () => p.check(path, 'file'),
          'VIGIL_ERR_SOURCE_FORBIDDEN',
          'files are allowed only inside the folders the operator configured (--sources)',
        );
      }
    });

    it('lets URLs through by scheme, host and port as listed', () => {
      const p = createSourcePolicy(['rtsp://127.0.0.1:8554', 'https://', 'http://cams.lan']);
      for (const ok of [
        'rtsp://127.0.0.1:8554/door',
        'rtsp://user:pw@127.0.0.1:8554/a',
        'https://any.where/x.m3u8',
        'http://cams.lan/mjpeg',
        'http://CAMS.lan:80/x',
      ]) {
        expect(p.check(ok, 'url'), ok).to.equal(ok);
      }
      for (const no of [
        'rtsp://127.0.0.1/door',
        'rtsp://127.0.0.2:8554/door',
        'rtsps://127.0.0.1:8554/x',
        'http://cams.lan.evil/x',
        'http://other/x',
      ]) {
        expectVigilError(
          () => p.check(no, 'url'),
          'VIGIL_ERR_SOURCE_FORBIDDEN',
          'this server reads no files; URLs rtsp://127.0.0.1:8554, https://*, http://cams.lan; no webcam',
        );
      }
      expectVigilError(
        () => p.check('rtsp://admin:hunter2@127.0.0.2/x', 'url'),
        'VIGIL_ERR_SOURCE_FORBIDDEN',
        'rtsp://admin:***@127.0.0.2/x',
      );
      expectVigilError(() => p.check('webcam', 'webcam'), 'VIGIL_ERR_SOURCE_FORBIDDEN', 'webcam sources are not enabled');
      expect(createSourcePolicy(['webcam']).check('webcam', 'webcam')).to.equal('webcam');
    });

    it('refuses entries it cannot read, at start', () => {
      for (const entry of ['ftp://', 'cameras', 'rtsp://a/b', '**']) {
        expectVigilError(() => createSourcePolicy([entry]), 'VIGIL_ERR_CONFIG', `sources: ${JSON.stringify(entry)} is not`);
        expectVigilError(() => resolveConfig({ sources: [entry] }, {}), 'VIGIL_ERR_CONFIG', `sources: ${JSON.stringify(entry)} is not`);
      }
    });

    it('defaults: anything on loopback; beyond it files only under the shipped fixtures', () => {
      expect(resolveConfig({}, {}).sources).to.deep.equal(['*']);
      const wide = resolveConfig({ host: '0.0.0.0', token: 'x'.repeat(16) }, {});
      expect(wide.sources).to.deep.equal([FIXTURES_DIR, 'rtsp://', 'rtsps://', 'http://', 'https://', 'webcam']);
      const p = createSourcePolicy(wide.sources);
      expect(p.check(DEMO, 'file')).to.equal(DEMO);
      expectVigilError(() => p.check(join(root, 'secret.mp4'), 'file'), 'VIGIL_ERR_SOURCE_FORBIDDEN', '--sources');
      expect(resolveConfig({}, { VIGIL_SOURCES: `${allowed}, webcam` }).sources).to.deep.equal([allowed, 'webcam']);
    });
  });

  describe('on a server', () => {
    let t: TestServer;
    before(async () => (t = await startTestServer({ sources: [allowed, 'rtsp://127.0.0.1:8554'] })));
    after(() => t.stop());

    it('refuses a camera outside the list with 403, stores nothing and starts nothing', async () => {
      for (const source of [
        join(root, 'secret.mp4'),
        join(allowed, 'link.mp4'),
        `${allowed}/../secret.mp4`,
        'rtsp://127.0.0.2:8554/x',
        'http://127.0.0.1:9/x',
        'webcam',
      ]) {
        const r = await t.api('/api/cameras', { method: 'POST', body: { id: 'x', source, model: 'fight' } });
        expect(r.status, source).to.equal(403);
        expect(r.body.error.code, source).to.equal('VIGIL_ERR_SOURCE_FORBIDDEN');
      }
      // Nor can a camera inside the list be moved outside it.
      const ok = await t.api('/api/cameras', { method: 'POST', body: { id: 'door', source: join(allowed, 'door.mp4'), model: 'fight' } });
      expect(ok.status).to.equal(201);
      const moved = await t.api('/api/cameras/door', { method: 'PATCH', body: { source: join(root, 'secret.mp4') } });
      expect(moved.status).to.equal(403);
      expect((await t.api('/api/cameras/door')).body.source).to.equal(join(allowed, 'door.mp4'));
      expect((await t.api('/api/cameras')).body.cameras.map((c: { id: string }) => c.id)).to.deep.equal(['door']);
      await t.api('/api/cameras/door', { method: 'DELETE' });
      expect(await settleFfmpeg(0)).to.deep.equal([]);
    });

    it('does not start a stored camera that a narrower list no longer allows', async () => {
      await t.restart({ sources: ['*'] });
      expect(
        (await t.api('/api/cameras', { method: 'POST', body: { id: 'old', source: join(root, 'secret.mp4'), model: 'fight', loop: true } }))
          .status,
      ).to.equal(201);
      await t.restart({ sources: [allowed] });
      const cam = await t.api('/api/cameras/old');
      expect(cam.body.status.state).to.equal('error');
      expect(cam.body.status.error.code).to.equal('VIGIL_ERR_SOURCE_FORBIDDEN');
      expect(ffmpegChildren()).to.deep.equal([]);
      await t.api('/api/cameras/old', { method: 'DELETE' });
    });
  });
});
