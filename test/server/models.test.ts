import { expect } from 'chai';
import type { VigilEvent } from '../../src/events/types.js';
import type { ServerMessage } from '../../src/server/protocol.js';
import { fixture } from '../helpers/clips.js';
import { ffmpegChildren, settleFfmpeg } from '../helpers/processes.js';
import { connect, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

type LabelMessage = Extract<ServerMessage, { type: 'label' }>;
type SegmentMessage = Extract<ServerMessage, { type: 'segment' }>;

const CLASSES: Record<string, string[]> = { fight: ['fight', 'no_fight'], fall: ['falling', 'no_fall'] };
const ROOM = { id: 'room', source: fixture('demo.mp4'), models: ['fight', 'fall'], loop: true };

const labelsOf = (c: TestClient, model: string) =>
  c.messages.filter((m): m is LabelMessage => m.type === 'label' && m.cameraId === 'room' && m.model === model);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

describe('server: several models on one camera', function () {
  this.timeout(120_000);
  let t: TestServer;
  let c: TestClient;
  // ffmpeg processes seen while the two-model camera labelled.
  const seen = new Set<number>();

  before(async () => {
    t = await startTestServer();
    c = await connect(`${t.url}/ws`);
    // Subscribed before the camera exists, so no message of it is missed.
    c.send({ type: 'subscribe', cameras: ['room', 'solo'] });
    await c.next('subscribed');
    c.ws.on('message', () => {
      for (const pid of ffmpegChildren()) seen.add(pid);
    });
    const created = await t.api('/api/cameras', { method: 'POST', body: ROOM });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(created.body).to.deep.include({ model: 'fight', models: ['fight', 'fall'] });
  });
  after(async () => {
    c?.close();
    await t?.stop();
    expect(await settleFfmpeg(0)).to.deep.equal([]);
  });

  it('decodes once for both models, and each streams its own labels at its own rate, named', async () => {
    // A fight event ends about 5 s into the demo clip: by then both models have labelled a loop's worth.
    const ended = await c.next('event', (m) => m.change === 'end' && m.event.model === 'fight', 60_000);
    expect(seen.size, `ffmpeg processes: ${[...seen].join(', ')}`).to.equal(1);
    for (const model of ['fight', 'fall']) {
      const labels = labelsOf(c, model);
      expect(labels.length, `${model} labels`).to.be.above(25);
      const times = labels.map((m) => m.tMs);
      expect(
        times.every((x, i) => i === 0 || x > times[i - 1]),
        `${model} tMs increasing`,
      ).to.equal(true);
      // 8 fps, each model's own (the demo clip is 25 fps): frames 120 ms apart, as the sampler bins them.
      expect(median(times.slice(1).map((x, i) => x - times[i])), `${model} frame gap`).to.be.within(110, 140);
      for (const l of labels) {
        expect(Object.keys(l.probs), model).to.deep.equal(CLASSES[model]);
        expect(CLASSES[model]).to.include(l.label);
      }
    }
    // Only the motion-crop model says where it looked.
    expect(labelsOf(c, 'fight').every((l) => l.focus !== undefined)).to.equal(true);
    expect(labelsOf(c, 'fall').every((l) => l.focus === undefined)).to.equal(true);
    // The two models see the same frames: the same stream times, apart from the frames one dropped.
    const fightTimes = new Set(labelsOf(c, 'fight').map((l) => l.tMs));
    const shared = labelsOf(c, 'fall').filter((l) => fightTimes.has(l.tMs)).length;
    expect(shared / labelsOf(c, 'fall').length).to.be.above(0.8);

    // Segments per model, of that model's classes; the fight event is the fight model's segment.
    const segments = c.messages.filter((m): m is SegmentMessage => m.type === 'segment' && m.cameraId === 'room');
    for (const s of segments) expect(CLASSES[s.model], JSON.stringify(s)).to.include(s.segment.label);
    expect(segments.some((s) => s.model === 'fall')).to.equal(true);
    const fightEnd = segments.find((s) => s.model === 'fight' && s.event === 'end' && s.segment.startMs === ended.event.startMs);
    expect(fightEnd?.segment.label).to.equal('fight');
    expect(ended.event).to.deep.include({ cameraId: 'room', model: 'fight', label: 'fight' });

    // Every event names the model whose alert class it is; REST filters by model.
    const events = c.messages.filter((m) => m.type === 'event').map((m) => m.event);
    for (const e of events) expect(e.label).to.equal(e.model === 'fight' ? 'fight' : 'falling');
    const fightList = await t.api('/api/events?camera=room&model=fight');
    expect(fightList.body.events.map((e: VigilEvent) => e.id)).to.include(ended.event.id);
    const fallList = await t.api('/api/events?camera=room&model=fall');
    expect(fallList.body.events.every((e: VigilEvent) => e.model === 'fall' && e.label === 'falling')).to.equal(true);
  });

  it("says each model's counts in the camera's status; the camera's are their sums", async () => {
    const got = await t.api('/api/cameras/room');
    expect(got.status).to.equal(200);
    const { status } = got.body;
    expect(status.models.map((m: { model: string }) => m.model)).to.deep.equal(['fight', 'fall']);
    for (const m of status.models) expect(m.frames).to.be.above(25);
    for (const k of ['frames', 'dropped', 'gated']) {
      expect(status[k], k).to.equal(status.models.reduce((n: number, m: Record<string, number>) => n + m[k], 0));
    }
  });

  it('a camera with `model` runs that one model, as before: models is a list of one', async () => {
    const created = await t.api('/api/cameras', {
      method: 'POST',
      body: { id: 'solo', source: fixture('demo.mp4'), model: 'fight', loop: true },
    });
    expect(created.status).to.equal(201);
    expect(created.body).to.deep.include({ model: 'fight', models: ['fight'] });
    await c.next('label', (m) => m.cameraId === 'solo');
    await c.next('label', (m) => m.cameraId === 'solo' && m.tMs > 1000);
    const labels = c.messages.filter((m): m is LabelMessage => m.type === 'label' && m.cameraId === 'solo');
    expect(new Set(labels.map((l) => l.model))).to.deep.equal(new Set(['fight']));
    expect((await t.api('/api/cameras/solo')).body.status.models.map((m: { model: string }) => m.model)).to.deep.equal(['fight']);
    // Switched to two models by a patch of `models`; `model` follows its first.
    const patched = await t.api('/api/cameras/solo', { method: 'PATCH', body: { models: ['fall', 'fight'] } });
    expect(patched.status).to.equal(200);
    expect(patched.body).to.deep.include({ model: 'fall', models: ['fall', 'fight'] });
    const since = c.messages.length;
    await c.next('label', (m) => m.cameraId === 'solo' && m.model === 'fall' && c.messages.indexOf(m) >= since);
    expect((await t.api('/api/cameras/solo', { method: 'DELETE' })).status).to.equal(204);
  });

  describe('bad input gets coded errors, and starts nothing', () => {
    const cases: Array<[string, unknown, number, string, string]> = [
      [
        'an unknown model in models',
        { source: fixture('demo.mp4'), models: ['fight', 'nope'] },
        404,
        'VIGIL_ERR_MODEL_NOT_FOUND',
        'no such model: "nope"; shipped: fall, fight',
      ],
      [
        'an empty list',
        { source: fixture('demo.mp4'), models: [] },
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: camera: models: name at least one model',
      ],
      [
        'a model twice',
        { source: fixture('demo.mp4'), models: ['fall', 'fall'] },
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: camera: models: fall is listed twice',
      ],
      [
        'a malformed name in models',
        { source: fixture('demo.mp4'), models: ['../fight'] },
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: models[0] must be a model name (lowercase letters, digits, - and _), one of: fall, fight; got "../fight"',
      ],
      [
        'model and models that disagree',
        { source: fixture('demo.mp4'), model: 'fall', models: ['fight', 'fall'] },
        400,
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: camera: model fall is not the first of models (fight, fall): send one of them',
      ],
    ];
    for (const [what, body, status, code, message] of cases) {
      it(`${what}: ${status} ${code}`, async () => {
        const before = (await t.api('/api/cameras')).body.cameras.length;
        expect(before).to.be.above(0);
        const res = await t.api('/api/cameras', { method: 'POST', body: { id: 'bad', ...(body as object) } });
        expect(res.status).to.equal(status);
        expect(res.body.error).to.deep.include({ code, message });
        expect((await t.api('/api/cameras')).body.cameras.length).to.equal(before);
        // The same on a patch: the camera is left as it was.
        const patch = await t.api('/api/cameras/room', { method: 'PATCH', body: { ...(body as object), source: undefined } });
        expect(patch.status).to.equal(status);
        expect(patch.body.error.code).to.equal(code);
        expect((await t.api('/api/cameras/room')).body.models).to.deep.equal(['fight', 'fall']);
      });
    }
  });
});
