import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { PACKAGE_ROOT } from '../../src/model/folder/paths.js';
import { redactPaths } from '../../src/server/http.js';
import { fixture } from '../helpers/clips.js';
import { readDoc } from '../helpers/docs.js';
import type { JsonAnswer } from '../helpers/json.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const CLIP = fixture('fight-fi002.mp4');

/**
 * "Wrong answers to bad input" (issue 13): every bad request gets its own 4xx code, model
 * names from the network are names and never paths, nothing of a refused upload stays in
 * staging, and no answer shows the server's own paths or a camera's password.
 */
describe('security: wrong answers to bad input', function () {
  this.timeout(120_000);
  let t: TestServer;
  // Every answer of this suite, to check none shows a server path.
  const answers: string[] = [];

  async function call(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) {
    const res = await t.api(path, init);
    answers.push(typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? ''));
    return res;
  }
  function expectError(res: { status: number; body: JsonAnswer; headers: Headers }, status: number, code: string, message: RegExp): void {
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(res.body.error.code).to.equal(code);
    expect(res.body.error.message).to.match(message);
  }
  const staged = () => readdirSync(join(t.dataDir, 'staging'));

  before(async () => {
    t = await startTestServer({ limits: { uploadBytes: 300_000, jsonBytes: 4096 } });
  });
  after(async () => {
    await t?.stop();
  });

  describe('model names are names, never paths', () => {
    for (const model of [['fight'], { x: 1 }, 7, null]) {
      it(`POST and PATCH /api/cameras with model ${JSON.stringify(model)}: 400 INVALID_ARGUMENT`, async () => {
        const post = await call('/api/cameras', { method: 'POST', body: { id: 'm1', source: 'webcam', model } });
        expectError(post, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /^invalid argument: model must be a model name .*one of: fall, fight/);
        await call('/api/cameras', { method: 'POST', body: { id: 'm2', source: 'webcam', model: 'fight' } });
        const patch = await call('/api/cameras/m2', { method: 'PATCH', body: { model } });
        expectError(patch, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /^invalid argument: model must be a model name/);
        expect((await call('/api/cameras/m2')).body.model).to.equal('fight');
        await call('/api/cameras/m2', { method: 'DELETE' });
        expect((await call('/api/cameras')).body.cameras).to.deep.equal([]);
      });
    }

    for (const model of ['/etc/passwd', '/etc', '.', '..', '', './models/fight', '../main/package.json', 'FIGHT', 'fight/']) {
      it(`POST /api/cameras with model ${JSON.stringify(model)}: 400 INVALID_ARGUMENT, the same answer whether the path exists or not`, async () => {
        const res = await call('/api/cameras', { method: 'POST', body: { source: 'webcam', model } });
        expectError(
          res,
          400,
          'VIGIL_ERR_INVALID_ARGUMENT',
          /^invalid argument: model must be a model name \(lowercase letters, digits, - and _\), one of: fall, fight; got /,
        );
        expect(res.body.error.message).to.not.match(/folder|exist|directory/);
        const other = await call('/api/cameras', { method: 'POST', body: { source: 'webcam', model: '/no/such/thing' } });
        expect(other.body.error.message.replace(/got .*$/, '')).to.equal(res.body.error.message.replace(/got .*$/, ''));
      });
    }

    it('an unknown name: 404 MODEL_NOT_FOUND listing the shipped models', async () => {
      const res = await call('/api/cameras', { method: 'POST', body: { source: 'webcam', model: 'passwd' } });
      expectError(res, 404, 'VIGIL_ERR_MODEL_NOT_FOUND', /^no such model: "passwd"; shipped: fall, fight$/);
    });
  });

  describe('uploads: checked before a byte is read, nothing left in staging', () => {
    const body = readFileSync(CLIP);
    for (const q of ['model=.', 'model=/etc', 'model=..', 'model=', 'model=/etc/passwd', 'model=fight&model=fall', 'model=nosuch']) {
      it(`POST /api/clips?${q}: a coded 4xx and staging stays empty`, async () => {
        const res = await call(`/api/clips?${q}`, { method: 'POST', body, headers: { 'content-type': 'video/mp4' } });
        if (q === 'model=nosuch') expectError(res, 404, 'VIGIL_ERR_MODEL_NOT_FOUND', /^no such model: "nosuch"; shipped: fall, fight$/);
        else expectError(res, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /^invalid argument: model must be a model name/);
        expect(staged()).to.deep.equal([]);
        expect((await call('/api/clips')).body.clips).to.deep.equal([]);
      });
    }

    it('a video sent as application/json: 415 UNSUPPORTED_MEDIA, not 413', async () => {
      const res = await call('/api/clips', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expectError(res, 415, 'VIGIL_ERR_UNSUPPORTED_MEDIA', /video\/\* type \(got application\/json\)/);
      expect(staged()).to.deep.equal([]);
    });
  });

  describe('ids and express errors', () => {
    for (const [method, path] of [
      ['GET', '/api/cameras/%E0%A4%A'],
      ['PATCH', '/api/cameras/%E0%A4%A'],
      ['DELETE', '/api/cameras/%'],
      ['GET', '/api/cameras/%ZZ/snapshot.jpg'],
      ['GET', '/api/clips/%E0%A4%A/video'],
    ]) {
      it(`${method} ${path}: 400 INVALID_ARGUMENT, not 500`, async () => {
        const res = await call(path, { method, body: method === 'PATCH' ? { name: 'x' } : undefined });
        expectError(res, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /^invalid argument: malformed percent-escape in the URL path/);
      });
    }

    it("body-parser's other refusals are coded: an unsupported charset is 415 UNSUPPORTED_MEDIA", async () => {
      const res = await call('/api/cameras', {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json; charset=klingon' },
      });
      expectError(res, 415, 'VIGIL_ERR_UNSUPPORTED_MEDIA', /^unsupported media type: unsupported charset "KLINGON"/);
    });
  });

  describe('camera settings', () => {
    it('a source with a NUL: 400 INVALID_ARGUMENT, not 415', async () => {
      for (const source of ['a\u0000b', 'rtsp://cam/\u0000', 'x.mp4\r\n']) {
        const res = await call('/api/cameras', { method: 'POST', body: { source, model: 'fight' } });
        expectError(res, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /^invalid argument: camera: source: no control characters$/);
      }
    });

    it('event labels must be classes of the model, on create and on update of the merged record', async () => {
      const bad = await call('/api/cameras', {
        method: 'POST',
        body: { id: 'ev', source: 'webcam', model: 'fight', record: { mode: 'events', labels: ['fight', 'fights'] } },
      });
      expectError(
        bad,
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        /^invalid argument: record\.labels: "fights" is not a class of model fight \(classes: fight, no_fight\)$/,
      );
      const ok = await call('/api/cameras', {
        method: 'POST',
        body: { id: 'ev', source: 'webcam', model: 'fight', record: { mode: 'events', labels: ['fight'] } },
      });
      expect(ok.status).to.equal(201);
      // Changing only the model would leave labels the new model never gives.
      const model = await call('/api/cameras/ev', { method: 'PATCH', body: { model: 'fall' } });
      expectError(
        model,
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        /^invalid argument: record\.labels: "fight" is not a class of model fall \(classes: falling, no_fall\)$/,
      );
      const labels = await call('/api/cameras/ev', { method: 'PATCH', body: { record: { mode: 'events', labels: ['falling'] } } });
      expectError(labels, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /"falling" is not a class of model fight/);
      const both = await call('/api/cameras/ev', {
        method: 'PATCH',
        body: { model: 'fall', record: { mode: 'events', labels: ['falling'] } },
      });
      expect(both.status).to.equal(200);
      expect(both.body).to.deep.include({ model: 'fall' });
      await call('/api/cameras/ev', { method: 'DELETE' });
    });

    it('loop on a URL or webcam source: 400 INVALID_ARGUMENT, on create and update', async () => {
      const url = await call('/api/cameras', { method: 'POST', body: { source: 'rtsp://127.0.0.1:9/x', model: 'fight', loop: true } });
      expectError(
        url,
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        /^invalid argument: loop replays a file; rtsp:\/\/127\.0\.0\.1:9\/x is a URL \(send loop: false or leave it out\)$/,
      );
      const cam = await call('/api/cameras', { method: 'POST', body: { source: 'webcam', model: 'fight', loop: true } });
      expectError(cam, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /^invalid argument: loop replays a file; webcam is a webcam/);
      await call('/api/cameras', { method: 'POST', body: { id: 'wc', source: 'webcam', model: 'fight' } });
      const patch = await call('/api/cameras/wc', { method: 'PATCH', body: { loop: true } });
      expectError(patch, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /^invalid argument: loop replays a file/);
      expect((await call('/api/cameras/wc')).body.loop).to.equal(false);
      await call('/api/cameras/wc', { method: 'DELETE' });
      expect((await call('/api/cameras')).body.cameras).to.deep.equal([]);
    });

    it("masks a source URL's password on the way out, keeps it in the store, and a PATCH echoing the mask keeps it", async () => {
      const source = 'http://admin:s3cret@127.0.0.1:9/video.mjpeg';
      const masked = 'http://admin:***@127.0.0.1:9/video.mjpeg';
      const created = await call('/api/cameras', { method: 'POST', body: { id: 'pw', source, model: 'fight' } });
      expect(created.status).to.equal(201);
      expect(created.body.source).to.equal(masked);
      expect((await call('/api/cameras/pw')).body.source).to.equal(masked);
      expect((await call('/api/cameras')).body.cameras.find((c: { id: string }) => c.id === 'pw').source).to.equal(masked);
      expect((await t.server.store.cameras.get('pw'))?.source).to.equal(source);
      // What a client holds is the masked form: sending it back changes nothing.
      const renamed = await call('/api/cameras/pw', {
        method: 'PATCH',
        body: { ...created.body, status: undefined, createdAt: undefined, updatedAt: undefined, name: 'Gate' },
      });
      expect(renamed.status, JSON.stringify(renamed.body)).to.equal(200);
      expect(renamed.body).to.deep.include({ name: 'Gate', source: masked });
      expect((await t.server.store.cameras.get('pw'))?.source).to.equal(source);
      const changed = await call('/api/cameras/pw', { method: 'PATCH', body: { source: 'http://admin:n3w@127.0.0.1:9/video.mjpeg' } });
      expect(changed.body.source).to.equal(masked);
      expect((await t.server.store.cameras.get('pw'))?.source).to.equal('http://admin:n3w@127.0.0.1:9/video.mjpeg');
      expect(answers.join('\n')).to.not.match(/s3cret|n3w@/);
      await call('/api/cameras/pw', { method: 'DELETE' });
    });
  });

  describe('clip video', () => {
    let id: string;
    let size: number;
    before(async () => {
      const body = readFileSync(CLIP);
      size = body.length;
      const up = await call('/api/clips?name=a.mp4', { method: 'POST', body, headers: { 'content-type': 'video/mp4' } });
      expect(up.status).to.equal(202);
      id = up.body.id;
    });

    it('a 416 is JSON, not video/mp4', async () => {
      const res = await call(`/api/clips/${id}/video`, { headers: { range: `bytes=${size + 10}-` } });
      expectError(res, 416, 'VIGIL_ERR_RANGE', /^range not satisfiable: /);
      expect(res.headers.get('content-range')).to.equal(`bytes */${size}`);
      // Nothing of the file it was about to send: no Last-Modified, no file ETag.
      expect(res.headers.get('last-modified')).to.equal(null);
      const file = await fetch(`${t.url}/api/clips/${id}/video`, { method: 'HEAD' });
      expect(file.headers.get('etag')).to.be.a('string');
      expect(res.headers.get('etag')).to.not.equal(file.headers.get('etag'));
    });

    it('a suffix range longer than the file serves the whole file (RFC 9110 14.1.2)', async () => {
      const whole = readFileSync(CLIP);
      for (const range of ['bytes=-99999999', `bytes=-${size}`, `bytes=-${size + 1}`]) {
        const res = await fetch(`${t.url}/api/clips/${id}/video`, { headers: { range } });
        expect(res.status, range).to.equal(206);
        expect(res.headers.get('content-type')).to.equal('video/mp4');
        expect(res.headers.get('content-range'), range).to.equal(`bytes 0-${size - 1}/${size}`);
        expect(Buffer.from(await res.arrayBuffer()).equals(whole), range).to.equal(true);
      }
      const tail = await fetch(`${t.url}/api/clips/${id}/video`, { headers: { range: 'bytes=-100' } });
      expect(tail.headers.get('content-range')).to.equal(`bytes ${size - 100}-${size - 1}/${size}`);
      await tail.arrayBuffer();
    });

    it("a precondition that fails is a coded 4xx (send's 412), not INTERNAL", async () => {
      const res = await call(`/api/clips/${id}/video`, { headers: { 'if-match': '"nope"' } });
      expectError(res, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /^invalid argument: precondition failed/);
    });

    it("a clip whose file went missing: 404 NOT_FOUND, without the file's path", async () => {
      // Waits for labelling to finish with the file first.
      for (let i = 0; i < 200 && (await call(`/api/clips/${id}`)).body.status !== 'ready'; i++)
        await new Promise((r) => setTimeout(r, 100));
      rmSync(join(t.dataDir, 'clips', `${id}.mp4`));
      const res = await call(`/api/clips/${id}/video`);
      expectError(res, 404, 'VIGIL_ERR_NOT_FOUND', /^not found: /);
      expect(res.body.error.message).to.not.include(t.dataDir);
    });
  });

  describe("no answer shows the server's paths", () => {
    it('redactPaths turns the data folder, the package and the working directory into relative names', () => {
      const msg = `storage failed: ${t.dataDir}/staging/0a1b.mp4: ENOSPC; ${PACKAGE_ROOT}/models/fight/manifest.json; ${process.cwd()}/x.mp4; ${t.dataDir}`;
      const out = redactPaths(msg, [t.dataDir]);
      expect(out).to.equal('storage failed: staging/0a1b.mp4: ENOSPC; models/fight/manifest.json; x.mp4; .');
    });

    it('a model argument naming a server file gets no path back', async () => {
      const res = await call('/api/clips?model=./package.json', {
        method: 'POST',
        body: readFileSync(CLIP),
        headers: { 'content-type': 'video/mp4' },
      });
      expectError(res, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /model must be a model name/);
      expect(staged()).to.deep.equal([]);
    });

    it('none of the answers above holds the data folder or the package folder', () => {
      expect(answers.length).to.be.above(40);
      const all = answers.join('\n');
      expect(all).to.not.include(t.dataDir);
      expect(all).to.not.include(PACKAGE_ROOT);
    });
  });

  describe('WebSocket close codes', () => {
    it('a message over the limit closes with 1009 and, as docs/protocol.md says, no reason (ws sends it itself)', async () => {
      const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/ws`);
      await new Promise((done, fail) => ws.once('open', done).once('error', fail));
      const closed = new Promise<{ code: number; reason: string }>((done) =>
        ws.on('close', (code, reason) => done({ code, reason: reason.toString() })),
      );
      ws.send('x'.repeat(70_000));
      expect(await closed).to.deep.equal({ code: 1009, reason: '' });
      expect(readDoc('protocol')).to.match(/1009 is sent by the WebSocket library[^.]*with no reason/);
    });
  });

  it('the server still answers after all of it', async () => {
    const res = await new Promise<number>((done, fail) => {
      request(`${t.url}/api/status`, (r) => {
        r.resume();
        done(r.statusCode ?? 0);
      })
        .on('error', fail)
        .end();
    });
    expect(res).to.equal(200);
  });
});
