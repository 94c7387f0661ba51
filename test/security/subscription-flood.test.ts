import { setFlagsFromString } from 'node:v8';
import { createRandom } from '../../src/train/random.js';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { MAX_PENDING_CAMERAS } from '../../src/server/hub.js';
import type { ServerMessage } from '../../src/server/protocol.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

// The server runs in this process, so its heap is ours to measure; a full GC first makes two
// readings comparable (mocha is not started with --expose-gc).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789-_';
const MiB = 1024 * 1024;
const MESSAGES = 200;
const IDS_PER_MESSAGE = 256;
/** What the flood may cost: before the fix it was 345 MB sent back and ~500 MB kept. */
const MAX_BYTES_BACK = 1 * MiB;
const MAX_HEAP_GROWTH = 16 * MiB;

const until = async (what: string, ok: () => boolean, timeoutMs = 10_000) => {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('security: subscription flood', function () {
  this.timeout(60_000);
  let t: TestServer;

  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t?.stop();
  });

  it(`answers ${MESSAGES} subscribes of ${IDS_PER_MESSAGE} made-up ids with bounded bytes and state, and keeps nothing once the client leaves`, async () => {
    const next = createRandom(13);
    const madeUp = () => Array.from({ length: 64 }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join('');
    const floods = Array.from({ length: MESSAGES }, () =>
      JSON.stringify({ type: 'subscribe', cameras: Array.from({ length: IDS_PER_MESSAGE }, madeUp) }),
    );
    const heap0 = await heapAfterGc();

    const ws = new WebSocket(t.url.replace(/^http/, 'ws') + '/ws');
    let bytes = 0;
    const got: ServerMessage[] = [];
    ws.on('message', (d: Buffer) => {
      bytes += d.length;
      // Past the bound the test has failed: stop keeping what the server sends.
      if (bytes <= MAX_BYTES_BACK) got.push(JSON.parse(d.toString()) as ServerMessage);
    });
    let closed: number | undefined;
    ws.on('close', (code) => (closed = code));
    await new Promise((done, fail) => ws.once('open', done).once('error', fail));
    await until('hello', () => got.length > 0);
    // The peak too: before the fix, the echoes in flight took ~660 MiB before any GC.
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed - heap0)), 5);
    for (const f of floods) ws.send(f);
    const answered = () => got.filter((m) => m.type === 'subscribed').length;
    try {
      await until(
        `${MESSAGES} subscribed messages (${bytes} bytes so far)`,
        () => answered() === MESSAGES || bytes > MAX_BYTES_BACK || closed !== undefined,
        30_000,
      );
    } finally {
      clearInterval(sampler);
    }
    const heapFlooded = (await heapAfterGc()) - heap0;
    const held = t.server.hub.subscriptions;
    expect(closed, 'the flooding client was closed').to.equal(undefined);

    expect(bytes, `bytes sent back for ${MESSAGES} floods (heap peak +${(peak / MiB).toFixed(1)} MiB)`).to.be.below(MAX_BYTES_BACK);
    expect(peak, 'heap growth at its peak, garbage included').to.be.below(4 * MAX_HEAP_GROWTH);
    expect(held, 'camera ids the hub holds for the client').to.equal(MAX_PENDING_CAMERAS);
    expect(heapFlooded, 'heap growth while the client is connected').to.be.below(MAX_HEAP_GROWTH);
    // Of ids that name no camera, the first MAX_PENDING_CAMERAS wait for their camera; every
    // message says in one coded error how many of its ids it did not take, echoing none.
    const subscribed = got.filter((m) => m.type === 'subscribed');
    expect(subscribed[0].cameras).to.have.length(MAX_PENDING_CAMERAS);
    expect(subscribed.slice(1).every((m) => m.cameras.length === 0)).to.equal(true);
    const errors = got.filter((m) => m.type === 'error');
    expect(errors).to.have.length(MESSAGES);
    expect(errors[0]).to.deep.equal({
      type: 'error',
      code: 'VIGIL_ERR_NOT_FOUND',
      message:
        `not found: ${IDS_PER_MESSAGE - MAX_PENDING_CAMERAS} of the ${IDS_PER_MESSAGE} camera ids name no camera ` +
        `and were not subscribed (a client may wait for at most ${MAX_PENDING_CAMERAS} cameras that do not exist)`,
    });
    expect(errors[1].message).to.match(new RegExp(`^not found: ${IDS_PER_MESSAGE} of the ${IDS_PER_MESSAGE} camera ids`));

    ws.close();
    await until('the client to leave', () => t.server.hub.clients === 0);
    expect(t.server.hub.subscriptions, 'camera ids held after the client left').to.equal(0);
    const heapLeft = (await heapAfterGc()) - heap0;
    expect(heapLeft, 'heap kept after the client left').to.be.below(4 * MiB);
  });

  it('takes any number of existing cameras, waits for ones not created yet, and lets a deleted one go', async () => {
    // A short heartbeat: the sweep that lets deleted cameras go runs with it.
    await t.restart({ heartbeatMs: 200 });
    const create = async (id: string) =>
      expect((await t.api('/api/cameras', { method: 'POST', body: { id, source: 'webcam', model: 'fight' } })).status).to.equal(201);
    await create('door');
    const c = await connect(`${t.url}/ws`);
    try {
      await c.next('hello');
      c.send({ type: 'subscribe', cameras: ['door', 'yard', 'door'] });
      expect(await c.next('subscribed')).to.deep.equal({ type: 'subscribed', cameras: ['door', 'yard'], clips: false, events: false });
      // Only the camera that exists has a status to give; a repeat gives nothing new.
      expect(await c.next('status')).to.include({ cameraId: 'door' });
      c.send({ type: 'subscribe', cameras: ['door'], clips: true });
      expect(await c.next('subscribed', (m) => m.clips)).to.deep.equal({
        type: 'subscribed',
        cameras: ['door'],
        clips: true,
        events: false,
      });
      expect(c.messages.filter((m) => m.type === 'status')).to.have.length(1);
      expect(t.server.hub.subscriptions).to.equal(2);

      // A camera created after the subscription is followed from its first status.
      await create('yard');
      await c.next('status', (s) => s.cameraId === 'yard');

      // A deleted camera leaves the subscription within a heartbeat: created again, it is
      // not followed.
      expect((await t.api('/api/cameras/door', { method: 'DELETE' })).status).to.equal(204);
      await until('the deleted camera to leave the subscription', () => t.server.hub.subscriptions === 1);
      const seen = c.messages.length;
      await create('door');
      await new Promise((r) => setTimeout(r, 300));
      expect(c.messages.slice(seen).filter((m) => m.type === 'status' && m.cameraId === 'door')).to.deep.equal([]);

      // `*` and back: the answer never lists the whole subscription.
      c.send({ type: 'subscribe', cameras: '*' });
      expect(await c.next('subscribed', (m) => m.cameras[0] === '*')).to.deep.equal({
        type: 'subscribed',
        cameras: ['*'],
        clips: true,
        events: false,
      });
      await c.next('status', (s) => s.cameraId === 'door' && c.messages.indexOf(s) >= seen);
      c.send({ type: 'unsubscribe', cameras: ['yard'] });
      await c.next('subscribed', (m) => m.cameras.length === 0);
      expect(t.server.hub.subscriptions).to.equal(1); // door, from the cameras `*` covered
    } finally {
      c.close();
      for (const id of ['door', 'yard']) await t.api(`/api/cameras/${id}`, { method: 'DELETE' });
    }
  });
});
