import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { createClipDir, type ClipDir } from '../helpers/clips.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

function openIngest(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'));
  return new Promise((done, fail) => {
    ws.once('open', () => done(ws));
    ws.once('error', fail);
  });
}

function closeOf(ws: WebSocket): Promise<[number, string]> {
  return new Promise((done) => ws.once('close', (code, reason) => done([code, reason.toString()])));
}

describe('server: webcam ingest over WebSocket', function () {
  this.timeout(60_000);
  let t: TestServer;
  let clips: ClipDir;

  before(async () => {
    t = await startTestServer();
    clips = await createClipDir();
  });
  after(async () => {
    await t?.stop();
    await clips?.remove();
  });

  it('labels webm chunks sent by a publisher, then waits for the next one', async () => {
    const webm = readFileSync(
      await clips.clip('cam.webm', { width: 320, height: 240, fps: 15, durationS: 3, pattern: 'testsrc2', format: 'webm' }),
    );
    const res = await t.api('/api/cameras', { method: 'POST', body: { id: 'cam', source: 'webcam', model: 'fight' } });
    expect(res.status).to.equal(201);
    const c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: ['cam'] });
    await c.next('status', (s) => s.state === 'waiting');
    const pub = await openIngest(`${t.url}/api/cameras/cam/ingest`);
    // As a webcam would: 12 pieces over the clip's 3 s (MediaRecorder, 250 ms timeslice).
    const piece = Math.ceil(webm.length / 12);
    for (let i = 0; i < webm.length; i += piece) {
      pub.send(webm.subarray(i, i + piece));
      await new Promise((r) => setTimeout(r, 250));
    }
    await c.next('status', (s) => s.state === 'live');
    pub.close();
    await c.next('status', (s) => s.state === 'waiting' && c.messages.some((m) => m.type === 'label'));
    const labels = c.messages.filter((m) => m.type === 'label');
    // 3 s at 8 fps; a burst may be thinned (newest frame wins), never queued.
    const status = (await t.api('/api/cameras/cam')).body.status;
    expect(status.frames + status.dropped).to.be.within(23, 24);
    expect(labels.length).to.be.within(12, 24);
    expect(labels.map((m) => m.tMs)).to.deep.equal([...labels.map((m) => m.tMs)].sort((x, y) => x - y));
    // A burst of labels may coalesce on the socket (latest wins), so the client sees at most all.
    expect(labels.length).to.be.at.most(status.frames);
    c.close();
  });

  it('refuses text messages, and cameras that are not webcams', async () => {
    const pub = await openIngest(`${t.url}/api/cameras/cam/ingest`);
    const closed = closeOf(pub);
    pub.send('hello');
    expect(await closed).to.deep.equal([4400, 'VIGIL_ERR_MESSAGE']);

    await t.api('/api/cameras', { method: 'POST', body: { id: 'file', source: clips.dir + '/cam.webm', model: 'fight', loop: true } });
    // Refused before the upgrade, with a plain HTTP status (codes: test/security/upgrade.test.ts).
    const refusal = (path: string) =>
      openIngest(`${t.url}${path}`).then(
        () => 'opened',
        (e: Error) => e.message,
      );
    expect(await refusal('/api/cameras/file/ingest')).to.equal('Unexpected server response: 409');
    expect(await refusal('/api/cameras/nope/ingest')).to.equal('Unexpected server response: 404');
  });
});
