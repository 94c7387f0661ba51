import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createSinks, parseSinksOptions, type Sinks } from '../../src/sinks/index.js';
import { startServer } from '../../src/server/app.js';
import { expectCoded, rejection, thrown } from '../helpers/errors.js';
import { tempStores } from '../store/temp-dir.js';
import { lifecycle, testEvent, until } from './events.js';

interface Call {
  body: string;
  headers: IncomingMessage['headers'];
  atMs: number;
}

/** A real HTTP receiver; `answer` decides each call (its index given): a status, or 'hang'. */
async function receiver(answer: (n: number) => number | 'hang') {
  const calls: Call[] = [];
  const hung: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const a = answer(calls.length);
      calls.push({ body: Buffer.concat(chunks).toString(), headers: req.headers, atMs: Date.now() });
      if (a === 'hang') hung.push(res);
      else res.writeHead(a).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    calls,
    close: () =>
      new Promise<void>((done) => {
        for (const r of hung) r.destroy();
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

function verifies(secret: string, call: Call): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(call.body).digest('hex')}`);
  const got = Buffer.from(String(call.headers['x-vigil-signature']));
  return got.length === expected.length && timingSafeEqual(got, expected);
}

describe('sinks: webhooks against a real HTTP receiver', function () {
  this.timeout(60_000);
  let sinks: Sinks | undefined;
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await sinks?.close();
    sinks = undefined;
    for (const c of closers.splice(0)) await c();
  });
  const stores = tempStores();

  it('retries a 500 and a call that hangs past the 5 s timeout; every attempt is signed; order holds', async () => {
    const r = await receiver((n) => (n === 0 ? 500 : n === 1 ? 'hang' : 200));
    closers.push(r.close);
    sinks = await createSinks({
      options: parseSinksOptions({ webhooks: [{ url: r.url, secret: 's3cret' }] }),
      outbox: stores.open().outbox,
      cameras: () => [],
      timing: { minBackoffMs: 100, maxBackoffMs: 400 },
    });
    const [first, second] = lifecycle(1);
    sinks.publish(first);
    sinks.publish(second);
    await until(() => sinks!.statuses()[0].lastError?.message.includes('answered 500') ?? false, 'the 500');
    expect(sinks.statuses()[0]).to.include({ name: `webhook:${r.url}`, state: 'down', queued: 2 });
    await until(() => r.calls.length === 4, 'retries and the second event', 20_000);
    const bodies = r.calls.map((c) => JSON.parse(c.body) as { type: string; event: { id: string } });
    expect(bodies.map((b) => b.type)).to.deep.equal(['new', 'new', 'new', 'update']);
    expect(r.calls[0].body).to.equal(r.calls[2].body);
    expect(bodies[0]).to.deep.equal({ type: 'new', event: first.event });
    // The hung call was given up after the default 5 s (plus a short backoff).
    const waited = r.calls[2].atMs - r.calls[1].atMs;
    expect(waited).to.be.within(5000, 6500);
    for (const c of r.calls) {
      expect(verifies('s3cret', c), 'signature').to.equal(true);
      expect(c.headers).to.include({ 'content-type': 'application/json', 'x-vigil-event': JSON.parse(c.body).type });
    }
    expect(verifies('wrong', r.calls[0])).to.equal(false);
    await until(() => sinks!.statuses()[0].queued === 0, 'drained');
    expect(sinks.statuses()[0]).to.deep.equal({ name: `webhook:${r.url}`, state: 'up', queued: 0, dropped: 0, lastError: null });
  });

  it('sends each webhook only the cameras and labels it asked for; no secret, no signature', async () => {
    const all = await receiver(() => 200);
    const door = await receiver(() => 200);
    closers.push(all.close, door.close);
    sinks = await createSinks({
      options: parseSinksOptions({ webhooks: [{ url: all.url }, { url: door.url, cameras: ['door'], labels: ['falling'] }] }),
      outbox: stores.open().outbox,
      cameras: () => [],
    });
    sinks.publish({ type: 'start', event: testEvent(1, { cameraId: 'door', label: 'fight' }) });
    sinks.publish({ type: 'start', event: testEvent(2, { cameraId: 'hall', label: 'falling' }) });
    sinks.publish({ type: 'start', event: testEvent(3, { cameraId: 'door', label: 'falling' }) });
    await until(() => all.calls.length === 3 && door.calls.length === 1, 'deliveries');
    expect(JSON.parse(door.calls[0].body).event.id).to.equal(testEvent(3).id);
    expect(all.calls[0].headers['x-vigil-signature']).to.equal(undefined);
  });

  it('drops what the receiver refuses for good (400), counts it, and goes on', async () => {
    const r = await receiver((n) => (n === 0 ? 400 : 200));
    closers.push(r.close);
    sinks = await createSinks({
      options: parseSinksOptions({ webhooks: [{ url: r.url }] }),
      outbox: stores.open().outbox,
      cameras: () => [],
    });
    for (const c of lifecycle(1).slice(0, 2)) sinks.publish(c);
    await until(() => r.calls.length === 2 && sinks!.statuses()[0].queued === 0, 'both tried');
    expect(sinks.statuses()[0]).to.include({ dropped: 1, state: 'up' });
  });

  it('refuses a webhook URL that is not http(s), and a bad broker URL, naming the field', async () => {
    expectCoded(
      thrown(() => parseSinksOptions({ webhooks: [{ url: 'file:///etc/passwd' }] })),
      'VIGIL_ERR_CONFIG',
      'bad configuration: sinks: webhooks.0.url: must be an http:// or https:// URL',
    );
    expectCoded(
      thrown(() => parseSinksOptions({ mqtt: { url: 'http://broker' } })),
      'VIGIL_ERR_CONFIG',
      'bad configuration: sinks: mqtt.url: must be an mqtt://, mqtts://, ws:// or wss:// URL',
    );
    expectCoded(
      thrown(() => parseSinksOptions({ mqtt: { url: 'mqtt://b', topicPrefix: 'a/#' } })),
      'VIGIL_ERR_CONFIG',
      'bad configuration: sinks: mqtt.topicPrefix: must be topic levels without + # or control characters',
    );
    // The server refuses to start with it, before it opens anything.
    const e = await rejection(startServer({ port: 0, dataDir: '/nonexistent/never-created', sinks: { webhooks: [{ url: 'ftp://x/' }] } }));
    expectCoded(e, 'VIGIL_ERR_CONFIG', 'bad configuration: sinks: webhooks.0.url: must be an http:// or https:// URL');
  });
});
