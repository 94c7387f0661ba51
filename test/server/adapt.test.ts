import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { VigilEvent } from '../../src/events/types.js';
import type { ServerMessage } from '../../src/server/protocol.js';
import { recordFights, reviewFights } from '../helpers/reviews.js';
import { connect, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

type AdaptMessage = Extract<ServerMessage, { type: 'adapt' }>;
type StatusMessage = Extract<ServerMessage, { type: 'status' }>;

describe('server: adapting a camera model from its reviews', function () {
  this.timeout(120_000);
  let t: TestServer;
  let c: TestClient;
  let fights: VigilEvent[] = [];
  let clipId = '';

  const subscribe = async () => {
    c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: ['hall'], clips: true });
    await c.next('subscribed');
  };
  const labelVersion = async (version: string) =>
    (await c.next('label', (m) => m.cameraId === 'hall' && m.version === version, 20_000)).version;

  before(async () => {
    t = await startTestServer();
    await subscribe();
    ({ fights, clipId } = await recordFights(t, c));
  });
  after(async () => {
    c?.close();
    await t?.stop();
  });

  it('refuses with 422 and the counts while a camera has too few reviews, and 404 for an unknown camera', async () => {
    const few = await t.api('/api/cameras/hall/adapt', { method: 'POST' });
    expect(few.status).to.equal(422);
    expect(few.body.error).to.deep.equal({
      code: 'VIGIL_ERR_TOO_FEW_REVIEWS',
      message: 'not enough reviews to adapt: hall: 0 usable review(s) (0 fight, 0 no_fight), need at least 4; false alarms teach no_fight',
    });
    const nobody = await t.api('/api/cameras/nobody/adapt', { method: 'POST', body: {} });
    expect(nobody.status).to.equal(404);
    expect(nobody.body.error).to.deep.equal({ code: 'VIGIL_ERR_NOT_FOUND', message: 'not found: camera nobody' });
    const other = await t.api('/api/cameras/hall/adapt', { method: 'POST', body: { model: 'fall' } });
    expect(other.status).to.equal(404);
    expect(other.body.error.message).to.equal('not found: camera hall does not run fall (it runs fight)');
    const path = await t.api('/api/cameras/hall/adapt', { method: 'POST', body: { model: '../models/fight' } });
    expect(path.status).to.equal(400);
    expect(path.body.error.code).to.equal('VIGIL_ERR_INVALID_ARGUMENT');
  });

  it('trains in a worker with progress over the WebSocket, makes the accepted version live without a restart, refuses a second job', async () => {
    await reviewFights(t, fights, clipId);
    const clip = (await t.server.store.clips.get(clipId))!;
    // A confirmed event recorded after the recording stopped: counted as without a clip.
    const clipEnd = clip.startedAtMs! + clip.durationMs!;
    const late = await c.next('event', (m) => m.change === 'end' && m.event.startedAtMs > clipEnd, 20_000);
    await t.api(`/api/events/${late.event.id}`, { method: 'PATCH', body: { review: 'confirmed' } });

    const before = (await t.api('/api/cameras/hall/models')).body.models[0];
    expect(before).to.deep.include({ model: 'fight', live: { version: '1.0.0', versionId: null, shipped: true }, versions: [], job: null });
    expect(before.reviews).to.deep.equal({ usable: 4, withoutClip: 1, sinceAdapted: 5, minimum: 4 });
    const framesBefore = (await t.api('/api/cameras/hall')).body.status.frames as number;
    const seen = c.messages.length;

    const started = await t.api('/api/cameras/hall/adapt', { method: 'POST', body: { model: 'fight' } });
    expect(started.status).to.equal(202);
    expect(started.body).to.deep.include({ cameraId: 'hall', model: 'fight', state: 'running' });
    const job = started.body.id as string;
    const twice = await t.api('/api/cameras/hall/adapt', { method: 'POST' });
    expect(twice.status).to.equal(409);
    expect(twice.body.error).to.deep.equal({
      code: 'VIGIL_ERR_CONFLICT',
      message: `conflict: camera hall is adapting fight already (job ${job})`,
    });
    expect((await t.api('/api/cameras/hall/models')).body.models[0].job).to.deep.include({ id: job, state: 'running' });

    const done = await c.next('adapt', (m) => m.job === job && m.state !== 'running', 90_000);
    const progress = c.messages.slice(seen).filter((m): m is AdaptMessage => m.type === 'adapt' && m.state === 'running');
    expect(progress.map((m) => m.stage)).to.include.members(['features', 'training', 'judging', 'writing']);
    expect(progress.some((m) => m.stage === 'judging' && (m.fold ?? 0) >= 1 && (m.folds ?? 0) >= 2)).to.equal(true);
    // Labels kept coming while the worker trained: the main thread was free.
    const labelsDuring = c.messages.slice(seen, c.messages.indexOf(done)).filter((m) => m.type === 'label').length;
    expect(labelsDuring).to.be.at.least(5);
    expect(done.state, JSON.stringify(done.error)).to.equal('done');
    const result = done.result!;
    expect(result).to.deep.include({ version: '1.1.0', accepted: true, live: true });
    expect(result.record).to.deep.include({ from: 'fight@1.0.0', camera: 'hall', accepted: true });
    expect(result.record.reviews).to.deep.include({ skipped: 1, byLabel: { fight: 2, no_fight: 2 } });
    expect(result.reason).to.match(
      /^on \d review\(s\), each judged by a fold that did not train on it: accuracy .* → .*; held-back replay .*: accepted \(/,
    );

    // Swapped live: the labels say the new version, and the camera never restarted.
    await labelVersion('1.1.0');
    const statuses = c.messages.slice(seen).filter((m): m is StatusMessage => m.type === 'status' && m.cameraId === 'hall');
    expect(statuses.map((s) => s.state)).to.not.include('starting');
    expect(statuses.at(-1)?.models?.[0]).to.include({ model: 'fight', version: '1.1.0' });
    const now = (await t.api('/api/cameras/hall')).body.status;
    expect(now.frames).to.be.above(framesBefore);
    expect(now.models[0].version).to.equal('1.1.0');

    const after = (await t.api('/api/cameras/hall/models')).body.models[0];
    expect(after.live).to.deep.equal({ version: '1.1.0', versionId: result.versionId, shipped: false });
    expect(after.versions).to.have.length(1);
    expect(after.versions[0]).to.deep.include({ id: result.versionId, version: '1.1.0', accepted: true, live: true });
    expect(after.reviews.sinceAdapted).to.equal(0);
    expect(after.job).to.deep.include({ id: job, state: 'done' });
    const folder = join(t.dataDir, 'models', 'hall', 'fight-1.1.0');
    expect(readdirSync(folder)).to.include.members(['manifest.json', 'README.md']);
    expect(readdirSync(join(t.dataDir, 'staging'))).to.deep.equal([]);
  });

  it('runs the live version after a restart; rollback brings back the shipped model, live', async () => {
    c.close();
    await t.restart();
    await subscribe();
    await labelVersion('1.1.0');
    const folder = join(t.dataDir, 'models', 'hall', 'fight-1.1.0');
    const status = async () =>
      (await t.api('/api/status')).body as { models: Array<{ name: string }>; workers: Array<{ models: string[] }> };
    expect((await status()).models.map((m) => m.name)).to.include(folder);
    const back = await t.api('/api/cameras/hall/models/fight/rollback', { method: 'POST' });
    expect(back.status).to.equal(200);
    expect(back.body.live).to.deep.equal({ version: '1.0.0', versionId: null, shipped: true });
    expect(back.body.versions[0]).to.deep.include({ version: '1.1.0', live: false });
    await labelVersion('1.0.0');
    // The version rolled back from is unloaded everywhere (the workers say so a moment later).
    let s = await status();
    for (let i = 0; i < 100 && s.workers.some((w) => w.models.includes(folder)); i++) {
      await new Promise((r) => setTimeout(r, 50));
      s = await status();
    }
    expect(s.workers.flatMap((w) => w.models)).to.not.include(folder);
    expect(s.models.map((m) => m.name)).to.deep.equal(['fight']);
    const since = c.messages.length;
    await c.next('label', (m) => m.cameraId === 'hall' && m.version === '1.0.0' && c.messages.indexOf(m) >= since, 20_000);
    const again = await t.api('/api/cameras/hall/models/fight/rollback', { method: 'POST' });
    expect(again.status).to.equal(409);
    expect(again.body.error.message).to.equal('conflict: camera hall runs the shipped fight already: nothing to roll back');
  });

  it('fails the job, over the WebSocket and in GET models, when a review turns out to hold no frame', async () => {
    // Five reviews needed: five have a clip, but one stretch is empty, which only the features tell.
    c.close();
    await t.restart({ adapt: { minReviews: 5 } });
    await subscribe();
    const store = t.server.store;
    const clip = (await store.clips.get(clipId))!;
    const at = clip.startedAtMs! + 1001;
    const empty = await store.events.open({
      cameraId: 'hall',
      model: 'fight',
      label: 'fight',
      startMs: 0,
      endMs: 0,
      startedAtMs: at,
      endedAtMs: at,
      peak: 0.6,
      mean: 0.55,
    });
    await store.events.end(empty.id, { endMs: 0, endedAtMs: at, peak: 0.6, mean: 0.55 });
    await store.events.linkClip('hall', clipId, clip.startedAtMs!, clip.startedAtMs! + clip.durationMs!);
    await t.api(`/api/events/${empty.id}`, { method: 'PATCH', body: { review: 'confirmed' } });
    const started = await t.api('/api/cameras/hall/adapt', { method: 'POST' });
    expect(started.status).to.equal(202);
    const failed = await c.next('adapt', (m) => m.job === started.body.id && m.state !== 'running', 60_000);
    expect(failed.state).to.equal('failed');
    expect(failed.error).to.deep.equal({
      code: 'VIGIL_ERR_TOO_FEW_REVIEWS',
      message:
        'not enough reviews to adapt: hall: 4 usable review(s) (2 fight, 2 no_fight), need at least 5; ' +
        '2 skipped (clip deleted by retention, or no frame in its stretch)',
    });
    const view = (await t.api('/api/cameras/hall/models')).body.models[0];
    expect(view.job).to.deep.include({ id: started.body.id, state: 'failed', error: failed.error });
    expect(view.versions).to.have.length(1);
    expect(readdirSync(join(t.dataDir, 'staging'))).to.deep.equal([]);
  });

  it('skips and counts reviews whose clip retention deleted; deleting the camera deletes its versions', async () => {
    expect((await t.api(`/api/clips/${clipId}`, { method: 'DELETE' })).status).to.equal(204);
    const gone = await t.api('/api/cameras/hall/adapt', { method: 'POST' });
    expect(gone.status).to.equal(422);
    expect(gone.body.error.message).to.equal(
      'not enough reviews to adapt: hall: 0 usable review(s) (0 fight, 0 no_fight), need at least 5; ' +
        '6 skipped (clip deleted by retention, or never recorded); false alarms teach no_fight',
    );
    expect((await t.api('/api/cameras/hall/models')).body.models[0].reviews).to.deep.include({ usable: 0, withoutClip: 6 });
    expect((await t.api('/api/cameras/hall', { method: 'DELETE' })).status).to.equal(204);
    expect(existsSync(join(t.dataDir, 'models', 'hall'))).to.equal(false);
    expect(await t.server.store.models.list('hall')).to.deep.equal([]);
  });
});
