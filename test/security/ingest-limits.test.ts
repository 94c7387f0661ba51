import { expect } from 'chai';
import { WebSocket } from 'ws';
import { settleFfmpeg } from '../helpers/processes.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

const LIMIT = 64 * 1024;

function openIngest(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'));
  return new Promise((done, fail) => {
    ws.once('open', () => done(ws));
    ws.once('error', fail);
  });
}

describe('security: webcam ingest over the message limit', function () {
  this.timeout(60_000);
  let t: TestServer;

  before(async () => {
    t = await startTestServer({ limits: { ingestMessageBytes: LIMIT } });
  });
  after(async () => {
    await t?.stop();
  });

  it('closes the publisher with 1009, ends its ffmpeg and waits for the next one', async () => {
    expect((await t.api('/api/cameras', { method: 'POST', body: { id: 'cam', source: 'webcam', model: 'fight' } })).status).to.equal(201);
    const c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: ['cam'] });
    await c.next('status', (s) => s.state === 'waiting');
    for (const size of [LIMIT + 1, 4 * LIMIT]) {
      const seen = c.messages.length;
      const pub = await openIngest(`${t.url}/api/cameras/cam/ingest`);
      const closed = new Promise<number>((done) => pub.once('close', (code) => done(code)));
      pub.on('error', () => {}); // the server's 1009 close may surface as an error here first
      // A publisher that is in, and has a session starting, before its bad message.
      await c.next('status', (s) => s.state === 'starting' && c.messages.indexOf(s) >= seen);
      pub.send(Buffer.alloc(size));
      expect(await closed).to.equal(1009);
      await c.next('status', (s) => s.state === 'waiting' && c.messages.indexOf(s) >= seen, 10_000);
      expect((await t.api('/api/cameras/cam')).body.status.state).to.equal('waiting');
      expect(await settleFfmpeg(0)).to.deep.equal([]);
    }
    c.close();
  });
});
