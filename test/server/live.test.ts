import { expect } from 'chai';
import { fixture } from '../helpers/clips.js';
import type { ErrorAnswer } from '../helpers/json.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

describe('server: live cameras over WebSocket', function () {
  this.timeout(90_000);
  let t: TestServer;

  before(async () => {
    t = await startTestServer({ demo: true });
  });
  after(async () => {
    await t?.stop();
  });

  it('adds the demo camera on a first start and streams its labels in stream-time order', async () => {
    const c = await connect(`${t.url}/ws`);
    const hello = await c.next('hello');
    expect(hello.protocol).to.equal(4);
    expect(hello.cameras.map((s) => s.cameraId)).to.deep.equal(['demo']);
    c.send({ type: 'subscribe', cameras: ['demo'] });
    expect(await c.next('subscribed')).to.deep.include({ cameras: ['demo'], clips: false });
    await c.next('status', (s) => s.state === 'live');
    // The 4.5 s demo clip looped at real speed, 8 fps: 45 labels take ~5.6 s and cross a loop.
    for (let i = 0; i < 45; i++) await c.next('label', (_m) => c.messages.filter((m) => m.type === 'label').length > i);
    const labels = c.messages.filter((m) => m.type === 'label');
    const times = labels.map((m) => m.tMs);
    expect(
      times.every((x, i) => i === 0 || x > times[i - 1]),
      `tMs increasing: ${times.join(',')}`,
    ).to.equal(true);
    // The loop restarts the file at 0; stream time must go on past the clip's 4.5 s.
    expect(times[times.length - 1]).to.be.greaterThan(4600);
    // Each label says when the source showed its frame: before it left ffmpeg, not long before.
    for (const m of labels) expect(m.wallMs - m.sourceMs, 'source to decoder').to.be.within(0, 1000);
    const status = (await (await fetch(`${t.url}/api/status`)).json()) as {
      cameras: Array<{ state: string; lagMs: number }>;
      workers: Array<{ streams: number; frames: number }>;
    };
    expect(status.cameras[0].state).to.equal('live');
    expect(status.cameras[0].lagMs).to.be.within(1, 1000);
    // Labelled in an inference worker, not on the thread that serves this request.
    expect(status.workers.reduce((n, w) => n + w.frames, 0)).to.be.greaterThan(40);
    expect(status.workers.map((w) => w.streams).sort()).to.deep.equal([...Array(status.workers.length - 1).fill(0), 1]);
    for (const l of labels) {
      expect(l.cameraId).to.equal('demo');
      expect(l.model).to.equal('fight');
      expect(Object.keys(l.probs)).to.deep.equal(['fight', 'no_fight']);
      expect(l.probs.fight + l.probs.no_fight).to.be.closeTo(1, 1e-3);
      expect(['fight', 'no_fight']).to.include(l.label);
      expect(l.confidence).to.be.within(0, 1);
      expect(l.wallMs).to.be.within(Date.now() - 60_000, Date.now());
    }
    // The fight model looks at a 320 square of its 448 decode, which follows the motion: at
    // most 32 px (1/14 of the frame) a frame.
    const focus = labels.map((l) => l.focus!);
    for (const [i, f] of focus.entries()) {
      expect(f.side).to.equal(0.7143);
      expect(f.x).to.be.within(0, 1 - f.side + 1e-4);
      expect(f.y).to.be.within(0, 1 - f.side + 1e-4);
      if (i > 0) expect(Math.max(Math.abs(f.x - focus[i - 1].x), Math.abs(f.y - focus[i - 1].y))).to.be.at.most(0.0715);
    }
    expect(new Set(focus.map((f) => `${f.x},${f.y}`)).size, 'the square moved').to.be.greaterThan(1);
    // The demo is 2 s of a walk, then 2.5 s of a fight: segments close and open as it loops.
    const end = await c.next('segment', (m) => m.event === 'end');
    const next = await c.next('segment', (m) => m.event === 'start' && m.segment.startMs === end.segment.endMs);
    expect(next.segment.label).to.not.equal(end.segment.label);
    expect(end.segment.startMs).to.be.below(end.segment.endMs);
    expect(end.segment.confidence).to.equal(Math.round(end.segment.confidence * 1e4) / 1e4);
    c.close();
  });

  const backdatedTitle =
    'streams backdated segments for a model that backdates (fall): ' +
    'the first once its label holds, then each dated where it began, tiling with the end';
  it(backdatedTitle, async () => {
    // Subscribed to every camera before this one exists, so no message of it is missed.
    const c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: '*' });
    await c.next('subscribed', () => true);
    const created = await t.api('/api/cameras', {
      method: 'POST',
      body: { id: 'bedroom', source: fixture('gmdcsa24-subject3-fall19.mp4'), model: 'fall', loop: true },
    });
    expect(created.status).to.equal(201);
    try {
      // The first segment starts at the first frame, reported once its label has held 750 ms
      // (the model's hold): the frames before that are provisional.
      const firstLabel = await c.next('label', (m) => m.cameraId === 'bedroom');
      const first = await c.next('segment', (m) => m.cameraId === 'bedroom' && m.event === 'start');
      expect(first.segment.startMs).to.equal(firstLabel.tMs);
      expect(first.segment.endMs - first.segment.startMs, 'reported once the first label held').to.be.at.least(700);
      // The label messages before it say they are provisional; the one with it does not.
      expect(firstLabel.provisional).to.equal(true);
      expect(firstLabel.focus, 'a pose model sees the whole frame').to.equal(undefined);
      const settled = await c.next('label', (m) => m.cameraId === 'bedroom' && m.tMs === first.segment.endMs);
      expect(settled.provisional).to.equal(undefined);
      // Standing, then the fall (and each loop back to standing): the label switches once the
      // new one has held, and the new segment says when it began: up to a hold and a window
      // (1000 ms) before.
      const end = await c.next('segment', (m) => m.cameraId === 'bedroom' && m.event === 'end');
      const start = await c.next(
        'segment',
        (m) => m.cameraId === 'bedroom' && m.event === 'start' && m.segment.startMs === end.segment.endMs,
      );
      expect(start.segment.label).to.not.equal(end.segment.label);
      expect(start.segment.endMs - start.segment.startMs, 'arrives a hold or more after its start').to.be.within(700, 1900);
    } finally {
      c.close();
      expect((await t.api('/api/cameras/bedroom', { method: 'DELETE' })).status).to.equal(204);
    }
  });

  it('serves what the camera sees as JPEG and MJPEG', async () => {
    const snap = await fetch(`${t.url}/api/cameras/demo/snapshot.jpg`);
    expect(snap.status).to.equal(200);
    const jpeg = Buffer.from(await snap.arrayBuffer());
    expect([...jpeg.subarray(0, 2)]).to.deep.equal([0xff, 0xd8]);
    expect([...jpeg.subarray(-2)]).to.deep.equal([0xff, 0xd9]);
    const ctl = new AbortController();
    const res = await fetch(`${t.url}/api/cameras/demo/preview.mjpeg`, { signal: ctl.signal });
    expect(res.headers.get('content-type')).to.equal('multipart/x-mixed-replace; boundary=vigilframe');
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/--vigilframe/g) ?? []).length < 3) text += Buffer.from((await reader.read()).value).toString('latin1');
    expect(text).to.match(/^--vigilframe\r\nContent-Type: image\/jpeg\r\nContent-Length: \d+\r\n\r\n\xff\xd8/);
    ctl.abort();
  });

  it('manages cameras over REST and keeps them across a restart', async () => {
    const created = await t.api('/api/cameras', {
      method: 'POST',
      body: { id: 'hall', name: 'Hall', source: fixture('nofight-nofi090.mp4'), model: 'fight' },
    });
    expect(created.status).to.equal(201);
    expect(created.body).to.deep.include({ id: 'hall', name: 'Hall', model: 'fight', fps: null, loop: false });
    expect(created.body.record).to.deep.equal({ mode: 'off' });
    const c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: '*' });
    // Not looped: the file plays once and the camera says it ended.
    await c.next('status', (s) => s.cameraId === 'hall' && s.state === 'ended');
    const patched = await t.api('/api/cameras/hall', { method: 'PATCH', body: { name: 'Main hall', loop: true } });
    expect(patched.status).to.equal(200);
    expect(patched.body).to.deep.include({ name: 'Main hall', loop: true });
    await c.next('status', (s) => s.cameraId === 'hall' && s.state === 'live');
    c.close();

    await t.restart();
    const list = await t.api('/api/cameras');
    expect(list.body.cameras.map((x: { id: string }) => x.id).sort()).to.deep.equal(['demo', 'hall']);
    expect(list.body.cameras.find((x: { id: string }) => x.id === 'hall')).to.deep.include({ name: 'Main hall', loop: true });
    const c2 = await connect(`${t.url}/ws`);
    c2.send({ type: 'subscribe', cameras: ['hall'] });
    await c2.next('label', (m) => m.cameraId === 'hall');
    c2.close();

    expect((await t.api('/api/cameras/hall', { method: 'DELETE' })).status).to.equal(204);
    expect((await t.api('/api/cameras/hall')).body.error.code).to.equal('VIGIL_ERR_NOT_FOUND');
    // The demo is offered once: deleting it sticks across restarts.
    await t.api('/api/cameras/demo', { method: 'DELETE' });
    await t.restart();
    expect((await t.api('/api/cameras')).body.cameras).to.deep.equal([]);
  });
});

describe('server: bad input on the API and the socket', function () {
  this.timeout(60_000);
  let t: TestServer;

  before(async () => {
    t = await startTestServer({ limits: { jsonBytes: 1024, wsMessageBytes: 1024 } });
  });
  after(async () => {
    await t?.stop();
  });

  const cases: Array<[string, unknown, number, string, RegExp]> = [
    ['a URL scheme ffmpeg will not get', { source: 'ftp://cam/1', model: 'fight' }, 400, 'VIGIL_ERR_SOURCE_SCHEME', /ftp:\/\/cam\/1/],
    ['a missing file', { source: '/nope/cam.mp4', model: 'fight' }, 404, 'VIGIL_ERR_SOURCE_NOT_FOUND', /\/nope\/cam\.mp4/],
    ['an unknown model', { source: 'webcam', model: 'nosuch' }, 404, 'VIGIL_ERR_MODEL_NOT_FOUND', /nosuch/],
    ['a bad id', { id: '../etc', source: 'webcam', model: 'fight' }, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /id/],
    ['an unknown field', { source: 'webcam', model: 'fight', colour: 'red' }, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /colour/],
    ['no source', { model: 'fight' }, 400, 'VIGIL_ERR_INVALID_ARGUMENT', /source/],
  ];
  for (const [what, body, status, code, message] of cases) {
    it(`refuses a camera with ${what}: ${status} ${code}`, async () => {
      const res = await t.api('/api/cameras', { method: 'POST', body });
      expect(res.status).to.equal(status);
      expect(res.body.error.code).to.equal(code);
      expect(res.body.error.message).to.match(message);
      expect((await t.api('/api/cameras')).body.cameras).to.deep.equal([]);
    });
  }

  it('refuses malformed, non-JSON and oversized bodies with codes', async () => {
    const bad = await t.api('/api/cameras', { method: 'POST', body: '{"source":', headers: { 'content-type': 'application/json' } });
    expect(bad.status).to.equal(400);
    expect(bad.body.error).to.deep.equal({
      code: 'VIGIL_ERR_INVALID_ARGUMENT',
      message: 'invalid argument: request body is not valid JSON',
    });
    const text = await t.api('/api/cameras', { method: 'POST', body: 'source=x', headers: { 'content-type': 'text/plain' } });
    expect(text.status).to.equal(415);
    expect(text.body.error.code).to.equal('VIGIL_ERR_UNSUPPORTED_MEDIA');
    const big = await t.api('/api/cameras', { method: 'POST', body: { source: 'webcam', model: 'fight', name: 'x'.repeat(2000) } });
    expect(big.status).to.equal(413);
    expect(big.body.error.code).to.equal('VIGIL_ERR_TOO_LARGE');
    const nopath = await t.api('/api/nothing');
    expect(nopath.status).to.equal(404);
    expect(nopath.body.error.code).to.equal('VIGIL_ERR_NOT_FOUND');
  });

  it('answers a bad WebSocket message with a coded error and keeps the connection', async () => {
    const c = await connect(`${t.url}/ws`);
    await c.next('hello');
    c.send('not json');
    expect(await c.next('error')).to.deep.equal({ type: 'error', code: 'VIGIL_ERR_MESSAGE', message: 'bad message: not JSON' });
    c.send({ type: 'shout' });
    const e2 = await c.next('error', (m) => m.message !== 'bad message: not JSON');
    expect(e2.code).to.equal('VIGIL_ERR_MESSAGE');
    expect(e2.message).to.match(/known types: subscribe, unsubscribe/);
    c.send({ type: 'subscribe', cameras: ['a'] });
    expect(await c.next('subscribed')).to.deep.include({ cameras: ['a'] });
    c.close();
  });

  it('closes a socket that sends an oversized message (1009)', async () => {
    const c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: Array.from({ length: 100 }, (_, i) => `camera-${i}`) });
    expect((await c.closed).code).to.equal(1009);
  });

  it('reports a dead camera URL as reconnecting with a code, and retries', async () => {
    await t.restart({ maxBackoffMs: 300 });
    const c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: ['dead'] });
    const res = await t.api('/api/cameras', {
      method: 'POST',
      body: { id: 'dead', source: 'http://127.0.0.1:1/stream.mjpeg', model: 'fight' },
    });
    expect(res.status).to.equal(201);
    const first = await c.next('status', (s) => s.state === 'reconnecting');
    expect(first.error?.code).to.equal('VIGIL_ERR_SOURCE_UNREACHABLE');
    expect(first.retryAtMs).to.be.greaterThan(Date.now() - 5000);
    // Backoff capped at 300 ms: several attempts within a few seconds, each reported.
    await c.next('status', () => c.messages.filter((m) => m.type === 'status' && m.state === 'reconnecting').length >= 3, 15_000);
    expect((await t.api('/api/cameras/dead')).body.status.state).to.be.oneOf(['reconnecting', 'starting']);
    c.close();
    await t.api('/api/cameras/dead', { method: 'DELETE' });
  });
});

describe('server: access token', function () {
  this.timeout(30_000);

  it('will not bind beyond loopback without a token', async () => {
    const { startServer } = await import('../../src/server/app.js');
    const e = await startServer({ host: '0.0.0.0', port: 0, dataDir: '/tmp/never' }).then(
      () => undefined,
      (err) => err,
    );
    expect(e).to.include({ code: 'VIGIL_ERR_CONFIG' });
    expect(e.message).to.match(/set an access token/);
  });

  it('refuses the API and the socket without the token, accepts them with it', async () => {
    const token = 'a-long-enough-secret-token';
    const t = await startTestServer({ host: '0.0.0.0', token });
    try {
      const url = t.url.replace('0.0.0.0', '127.0.0.1');
      const no = await fetch(`${url}/api/cameras`);
      expect(no.status).to.equal(401);
      expect(((await no.json()) as ErrorAnswer).error.code).to.equal('VIGIL_ERR_UNAUTHORIZED');
      const wrong = await fetch(`${url}/api/cameras`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).to.equal(401);
      expect((await fetch(`${url}/api/cameras`, { headers: { authorization: `Bearer ${token}` } })).status).to.equal(200);
      expect((await fetch(`${url}/api/cameras?token=${token}`)).status).to.equal(200);
      // The page itself is public; it holds no data.
      expect((await fetch(`${url}/`)).status).to.equal(200);
      // Refused before the upgrade: a plain 401 (the coded body is in test/security/upgrade.test.ts).
      const refused = await connect(`${url}/ws`).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(refused?.message).to.equal('Unexpected server response: 401');
      const ok = await connect(`${url}/ws?token=${token}`);
      await ok.next('hello');
      ok.close();
    } finally {
      await t.stop();
    }
  });
});

describe('server: start-up failures', function () {
  this.timeout(30_000);

  it('a port in use fails with VIGIL_ERR_CONFIG and leaves nothing running; a data folder in use fails with VIGIL_ERR_STORE', async () => {
    const { startServer } = await import('../../src/server/app.js');
    const first = await startTestServer();
    const { mkdtemp, rm } = await import('node:fs/promises');
    const other = await mkdtemp('/tmp/vigil-port-');
    try {
      const e = await startServer({ port: first.server.port, dataDir: other, demo: true }).then(
        () => undefined,
        (err) => err,
      );
      expect(e).to.include({ code: 'VIGIL_ERR_CONFIG' });
      expect(e.message).to.match(/cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
      // Its store was closed: a server can open that folder now.
      const again = await startServer({ port: 0, dataDir: other, demo: false });
      await again.close();
      const locked = await startServer({ port: 0, dataDir: first.dataDir }).then(
        () => undefined,
        (err) => err,
      );
      expect(locked).to.include({ code: 'VIGIL_ERR_STORE' });
    } finally {
      await first.stop();
      await rm(other, { recursive: true, force: true });
    }
  });
});
