import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { VigilEvent } from '../../src/events/types.js';
import type { ServerMessage } from '../../src/server/protocol.js';
import { fixture } from '../helpers/clips.js';
import { connect, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

type EventMessage = Extract<ServerMessage, { type: 'event' }>;
type SegmentMessage = Extract<ServerMessage, { type: 'segment' }>;

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const DEMO = { id: 'demo', source: fixture('demo.mp4'), model: 'fight', loop: true };

const eventsOf = (c: TestClient, id?: string) =>
  c.messages.filter((m): m is EventMessage => m.type === 'event' && (id === undefined || m.event.id === id));

describe('server: events', function () {
  this.timeout(120_000);
  let t: TestServer;
  let c: TestClient;

  before(async () => {
    t = await startTestServer();
    c = await connect(`${t.url}/ws`);
    // Subscribed before the camera exists, so no message of it is missed.
    c.send({ type: 'subscribe', cameras: ['demo'] });
    await c.next('subscribed');
    expect((await t.api('/api/cameras', { method: 'POST', body: DEMO })).status).to.equal(201);
  });
  after(async () => {
    c?.close();
    await t?.stop();
  });

  it('starts and ends an event where the fight segment starts and ends, and REST agrees with the WebSocket', async () => {
    const started = await c.next('event', (m) => m.change === 'start', 30_000);
    const ended = await c.next('event', (m) => m.change === 'end' && m.event.id === started.event.id, 30_000);
    const segments = c.messages.filter((m): m is SegmentMessage => m.type === 'segment' && m.segment.label === 'fight');
    const segStart = segments.find((m) => m.event === 'start' && m.segment.startMs === started.event.startMs);
    const segEnd = segments.find((m) => m.event === 'end' && m.segment.startMs === started.event.startMs);
    expect(segStart, 'a fight segment starts where the event does').to.not.equal(undefined);
    expect(segEnd, 'and ends').to.not.equal(undefined);
    expect(ended.event).to.deep.include({
      cameraId: 'demo',
      model: 'fight',
      label: 'fight',
      state: 'ended',
      startMs: segEnd!.segment.startMs,
      endMs: segEnd!.segment.endMs,
      peak: segEnd!.segment.peak,
      mean: segEnd!.segment.confidence,
      clipId: null,
      review: { state: 'unreviewed' },
    });
    expect(started.event.state).to.equal('active');
    expect(started.cameraId).to.equal('demo');
    // Wall clock: the source's (its lag clock settles over the first frames), about as long as the stream time it spans.
    expect(ended.event.endedAtMs - ended.event.startedAtMs).to.be.closeTo(ended.event.endMs - ended.event.startMs, 250);
    expect(ended.event.startedAtMs).to.be.within(Date.now() - 60_000, Date.now());
    // The fight in the demo lasts 2.5 s; the event about as long.
    expect(ended.event.endMs - ended.event.startMs).to.be.within(1200, 4000);
    // Updates in between (at most one a second), the figures growing with the segment.
    const changes = eventsOf(c, started.event.id).map((m) => m.change);
    expect(changes[0]).to.equal('start');
    expect(changes.at(-1)).to.equal('end');
    expect(changes.slice(1, -1).every((x) => x === 'update')).to.equal(true);
    expect(changes.length).to.be.within(2, 8);

    const got = await t.api(`/api/events/${started.event.id}`);
    expect(got.status).to.equal(200);
    expect(got.body).to.deep.equal(ended.event);
    const list = await t.api('/api/events?camera=demo&label=fight');
    expect(list.status).to.equal(200);
    expect(list.body.events.map((e: VigilEvent) => e.id)).to.include(started.event.id);
    expect(list.body.next).to.equal(null);

    // The snapshot: a JPEG of the camera, taken at the peak.
    expect(ended.event.snapshot).to.equal(true);
    const snap = await fetch(`${t.url}/api/events/${started.event.id}/snapshot.jpg`);
    expect(snap.status).to.equal(200);
    expect(snap.headers.get('content-type')).to.equal('image/jpeg');
    const jpeg = Buffer.from(await snap.arrayBuffer());
    expect([...jpeg.subarray(0, 2)]).to.deep.equal([0xff, 0xd8]);
    expect([...jpeg.subarray(-2)]).to.deep.equal([0xff, 0xd9]);
    expect(existsSync(join(t.dataDir, 'snapshots', `${started.event.id}.jpg`))).to.equal(true);
  });

  it('pages newest first with a cursor, and filters', async () => {
    // The demo loops: wait for a second event.
    await c.next('event', (m) => m.change === 'end' && eventsOf(c).filter((e) => e.change === 'end').length >= 2, 30_000);
    const all = (await t.api('/api/events?camera=demo')).body.events as VigilEvent[];
    expect(all.length).to.be.at.least(2);
    const first = await t.api('/api/events?camera=demo&limit=1');
    expect(first.body.events.map((e: VigilEvent) => e.id)).to.deep.equal([all[0].id]);
    expect(first.body.next).to.be.a('string');
    const second = await t.api(`/api/events?camera=demo&limit=1&cursor=${first.body.next}`);
    expect(second.body.events.map((e: VigilEvent) => e.id)).to.deep.equal([all[1].id]);
    expect(all[0].startedAtMs).to.be.above(all[1].startedAtMs);
    const after = await t.api(`/api/events?after=${all[1].startedAtMs + 1}`);
    expect(after.body.events.map((e: VigilEvent) => e.id)).to.not.include(all[1].id);
    const iso = await t.api(`/api/events?before=${new Date(all[0].startedAtMs).toISOString()}`);
    expect(iso.body.events.map((e: VigilEvent) => e.id))
      .to.include(all[1].id)
      .and.not.include(all[0].id);
    expect((await t.api('/api/events?camera=other')).body).to.deep.equal({ events: [], next: null });
    expect((await t.api('/api/events?model=fall')).body.events).to.deep.equal([]);
  });

  it('saves a review, tells WebSocket subscribers, and deletes an event with its snapshot', async () => {
    const [event] = (await t.api('/api/events?camera=demo&review=unreviewed')).body.events as VigilEvent[];
    const count = async (q: string) => (await t.api(`/api/events/count?${q}`)).body.count as number;
    // Counted the way the list filters (the demo loops on, so only past events are compared).
    const before = `before=${event.startedAtMs + 1}`;
    const unreviewed = await count(`review=unreviewed&${before}`);
    expect(unreviewed).to.equal((await t.api(`/api/events?review=unreviewed&${before}&limit=1000`)).body.events.length);
    expect(unreviewed).to.be.at.least(1);
    expect(await count('camera=other')).to.equal(0);
    const patched = await t.api(`/api/events/${event.id}`, { method: 'PATCH', body: { review: 'false_alarm', note: 'a hug', by: 'ana' } });
    expect(patched.status).to.equal(200);
    expect(patched.body.review).to.deep.include({ state: 'false_alarm', note: 'a hug', by: 'ana' });
    expect(patched.body.review.atMs).to.be.within(Date.now() - 5000, Date.now());
    const pushed = await c.next('event', (m) => m.change === 'review' && m.event.id === event.id);
    expect(pushed.event).to.deep.equal(patched.body);
    expect((await t.api(`/api/events/${event.id}`)).body.review).to.deep.equal(patched.body.review);
    expect((await t.api('/api/events?review=false_alarm')).body.events.map((e: VigilEvent) => e.id)).to.deep.equal([event.id]);
    expect(await count(`review=unreviewed&${before}`)).to.equal(unreviewed - 1);
    expect(await count('review=false_alarm')).to.equal(1);

    expect((await t.api(`/api/events/${event.id}`, { method: 'DELETE' })).status).to.equal(204);
    expect((await t.api(`/api/events/${event.id}`)).body.error.code).to.equal('VIGIL_ERR_NOT_FOUND');
    expect((await t.api(`/api/events/${event.id}/snapshot.jpg`)).status).to.equal(404);
    expect(existsSync(join(t.dataDir, 'snapshots', `${event.id}.jpg`))).to.equal(false);
    expect((await t.api(`/api/events/${event.id}`, { method: 'DELETE' })).status).to.equal(404);
  });

  it('refuses bad input with coded 400s and unknown events with 404s', async () => {
    const [event] = (await t.api('/api/events?limit=1')).body.events as VigilEvent[];
    const cases: Array<[string, { method?: string; body?: unknown; headers?: Record<string, string> }, number, string, RegExp]> = [
      [
        `/api/events/${event.id}`,
        { method: 'PATCH', body: { review: 'maybe' } },
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        /event: review: Invalid enum value. Expected 'unreviewed' \| 'confirmed' \| 'false_alarm', received 'maybe'/,
      ],
      [
        `/api/events/${event.id}`,
        { method: 'PATCH', body: { review: 'confirmed', state: 'ended' } },
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        /Unrecognized key\(s\) in object: 'state'/,
      ],
      [
        `/api/events/${event.id}`,
        { method: 'PATCH', body: { review: 'confirmed', note: 'x'.repeat(1001) } },
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        /review: note: String must contain at most 1000/,
      ],
      [
        `/api/events/${event.id}`,
        { method: 'PATCH', body: { review: 'confirmed', by: 'a\u0007b' } },
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        /review: by: no control characters/,
      ],
      [
        `/api/events/${event.id}`,
        { method: 'PATCH', body: '[1,2]' },
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        /event: \(root\): Expected object, received array/,
      ],
      [
        `/api/events/${event.id}`,
        { method: 'PATCH', body: '{"review":' },
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        /request body is not valid JSON/,
      ],
      [
        `/api/events/${event.id}`,
        { method: 'PATCH', body: 'review=confirmed', headers: { 'content-type': 'text/plain' } },
        415,
        'VIGIL_ERR_UNSUPPORTED_MEDIA',
        /expected application\/json/,
      ],
      [
        '/api/events/ev_0000000000000000',
        { method: 'PATCH', body: { review: 'confirmed' } },
        404,
        'VIGIL_ERR_NOT_FOUND',
        /not found: event ev_0000000000000000$/,
      ],
      ['/api/events/ev_0000000000000000', {}, 404, 'VIGIL_ERR_NOT_FOUND', /not found: event ev_0000000000000000$/],
      ['/api/events/ev_0000000000000000/snapshot.jpg', {}, 404, 'VIGIL_ERR_NOT_FOUND', /not found: event ev_0000000000000000$/],
      [
        '/api/events/..%2f..%2fvigil.db',
        {},
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        /event id must look like ev_0f1e2d3c4b5a6978, got "..\/..\/vigil.db"/,
      ],
      ['/api/events/EV_0000000000000000', { method: 'DELETE' }, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /event id must look like/],
      ['/api/events/%E0%A4%A', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /malformed percent-escape/],
      ['/api/events?review=maybe', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /event query: review: Invalid enum value/],
      ['/api/events?limit=0', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /event query: limit: Number must be greater than or equal to 1/],
      ['/api/events?limit=abc', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /event query: limit: an integer 1-1000/],
      ['/api/events?limit=5000', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /limit: Number must be less than or equal to 1000/],
      ['/api/events?after=yesterday', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /event query: after: epoch ms or an ISO 8601 date/],
      ['/api/events?before=2025-13-45', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /event query: before: epoch ms or an ISO 8601 date/],
      ['/api/events?camera=Bad%20Id', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /event query: cameraId: a camera id/],
      ['/api/events?camera=a&camera=b', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /event query: camera: Expected string, received array/],
      ['/api/events?label[x]=1', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /event query: label: Expected string, received object/],
      ['/api/events?cursor=-1', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /event query: cursor: the next of a previous page/],
      ['/api/events/count?review=maybe', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /event count query: review: Invalid enum value/],
      ['/api/events/count?limit=5', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /Unrecognized key\(s\) in object: 'limit'/],
      ['/api/events?sort=asc', {}, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /event query: \(root\): Unrecognized key\(s\) in object: 'sort'/],
    ];
    for (const [path, init, status, code, message] of cases) {
      const res = await t.api(path, init);
      expect(res.status, `${init.method ?? 'GET'} ${path}`).to.equal(status);
      expect(res.body.error.code, path).to.equal(code);
      expect(res.body.error.message, path).to.match(message);
    }
    // Nothing of that changed the event.
    expect((await t.api(`/api/events/${event.id}`)).body.review).to.deep.equal(event.review);
  });
});

describe('server: events across a crash', function () {
  this.timeout(120_000);

  it('after kill -9 mid-event, the event is ended at its last update, within a second of the last labelled frame, once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-event-crash-'));
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, 'serve', '--port', '0', '--data', dataDir, '--no-demo', '--workers', '1'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    let c: TestClient | undefined;
    try {
      const url = await new Promise<string>((done, fail) => {
        let out = '';
        proc.stdout.on('data', (d) => {
          out += d;
          const m = /serving (http:\/\/[^/\s]+)\//.exec(out);
          if (m) done(m[1]);
        });
        proc.once('exit', (code) => fail(new Error(`vigil serve exited ${code}: ${err}`)));
      });
      c = await connect(`${url}/ws`);
      c.send({ type: 'subscribe', cameras: ['demo'] });
      await c.next('subscribed');
      const res = await fetch(`${url}/api/cameras`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(DEMO),
      });
      expect(res.status).to.equal(201);
      const started = await c.next('event', (m) => m.change === 'start', 60_000);
      // A second into the fight: past the first update, well before the segment ends.
      await c.next('label', (m) => m.tMs >= started.event.startMs + 1000 && m.label === 'fight', 30_000);
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      await c.closed;
      expect(
        eventsOf(c, started.event.id).map((m) => m.change),
        'killed before the event ended',
      ).to.not.include('end');
      const labels = c.messages.filter((m): m is Extract<ServerMessage, { type: 'label' }> => m.type === 'label').map((m) => m.tMs);

      const t = await startTestServer({ dataDir });
      try {
        expect(t.server.store.reconciled.endedEvents).to.deep.equal([started.event.id]);
        const got = (await t.api(`/api/events/${started.event.id}`)).body as VigilEvent;
        expect(got.state).to.equal('ended');
        expect(got.startMs).to.equal(started.event.startMs);
        // Stored with each update, at most a second of stream time apart: the end is a labelled
        // frame within a second of the last one labelled (the frame in flight when the process
        // died may be one more than this client got).
        const last = labels[labels.length - 1];
        expect(labels.includes(got.endMs) || got.endMs > last, `endMs ${got.endMs} is a labelled frame`).to.equal(true);
        expect(got.endMs).to.be.within(last - 1250, last + 250);
        expect(got.endMs).to.be.at.least(started.event.startMs + 1000);
        expect(got.endedAtMs - got.startedAtMs).to.be.closeTo(got.endMs - got.startMs, 250);
        const all = (await t.api('/api/events?limit=1000')).body.events as VigilEvent[];
        expect(all.filter((e) => e.id === started.event.id)).to.have.length(1);
        expect(all.every((e) => e.state === 'ended' || e.startedAtMs > got.endedAtMs)).to.equal(true);
      } finally {
        await t.stop();
      }
    } finally {
      c?.close();
      proc.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
