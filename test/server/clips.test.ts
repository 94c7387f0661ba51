import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { labelClip } from '../../src/label-clip.js';
import { loadModel } from '../../src/model/model.js';
import { toWebVtt } from '../../src/timeline/format.js';
import { probe } from '../../src/video/probe.js';
import { fixture } from '../helpers/clips.js';
import type { ErrorAnswer } from '../helpers/json.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

const CLIP = fixture('fight-fi150.mp4');

describe('server: uploads, replay and recordings', function () {
  this.timeout(120_000);
  let t: TestServer;

  before(async () => {
    t = await startTestServer({ limits: { uploadBytes: 200_000 } });
  });
  after(async () => {
    await t?.stop();
  });

  function staged(): string[] {
    return readdirSync(join(t.dataDir, 'staging'));
  }

  it('labels an upload in the background with progress, and replays the same timeline as `vigil label`', async () => {
    const c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', clips: true });
    await c.next('subscribed');
    const up = await t.api('/api/clips?name=hall%2Fcam.mp4', {
      method: 'POST',
      body: readFileSync(CLIP),
      headers: { 'content-type': 'video/mp4' },
    });
    expect(up.status).to.equal(202);
    expect(up.headers.get('location')).to.equal(`/api/clips/${up.body.id}`);
    expect(up.body).to.deep.include({
      kind: 'upload',
      name: 'hallcam.mp4',
      status: 'pending',
      cameraId: null,
      model: 'fight',
      bytes: 76194,
      durationMs: 2020,
    });
    await c.next('clip', (m) => m.clipId === up.body.id && m.status === 'ready');
    const seen = c.messages.filter((m) => m.type === 'clip' && m.clipId === up.body.id).map((m) => (m as { status: string }).status);
    expect(seen[0]).to.equal('pending');
    expect(seen).to.include('processing');
    c.close();

    const got = await t.api(`/api/clips/${up.body.id}`);
    expect(got.body.status).to.equal('ready');
    const direct = await labelClip(CLIP, await loadModel('fight'));
    expect(got.body.timeline.segments).to.deep.equal(direct.segments);
    expect(got.body.timeline.frames).to.deep.equal(direct.frames);
    expect(got.body.timeline.source.uri).to.equal(`clip:${up.body.id}`);
    expect((await t.api(`/api/clips/${up.body.id}/timeline.json`)).body).to.deep.equal(got.body.timeline);
    const vtt = await t.api(`/api/clips/${up.body.id}/labels.vtt`);
    expect(vtt.headers.get('content-type')).to.match(/^text\/vtt/);
    expect(vtt.body).to.equal(toWebVtt(direct.segments));
    const list = await t.api('/api/clips?kind=upload');
    expect(list.body.clips.map((x: { id: string }) => x.id)).to.deep.equal([up.body.id]);
    expect(list.body.clips[0]).to.not.have.property('timeline');
  });

  it('serves the video with HTTP ranges, so a browser can seek', async () => {
    const id = (await t.api('/api/clips')).body.clips[0].id;
    const whole = readFileSync(CLIP);
    const full = await fetch(`${t.url}/api/clips/${id}/video`);
    expect(full.status).to.equal(200);
    expect(full.headers.get('accept-ranges')).to.equal('bytes');
    expect(full.headers.get('content-type')).to.equal('video/mp4');
    expect(Buffer.from(await full.arrayBuffer()).equals(whole)).to.equal(true);
    const part = await fetch(`${t.url}/api/clips/${id}/video`, { headers: { range: 'bytes=1000-1999' } });
    expect(part.status).to.equal(206);
    expect(part.headers.get('content-range')).to.equal(`bytes 1000-1999/${whole.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(whole.subarray(1000, 2000))).to.equal(true);
    const tail = await fetch(`${t.url}/api/clips/${id}/video`, { headers: { range: 'bytes=-100' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(whole.subarray(whole.length - 100))).to.equal(true);
    const past = await fetch(`${t.url}/api/clips/${id}/video`, { headers: { range: `bytes=${whole.length + 10}-` } });
    expect(past.status).to.equal(416);
    expect(past.headers.get('content-range')).to.equal(`bytes */${whole.length}`);
    expect(((await past.json()) as ErrorAnswer).error.code).to.equal('VIGIL_ERR_RANGE');
  });

  it('refuses uploads that are too large, not video, or of the wrong type, and keeps nothing of them', async () => {
    const before = (await t.api('/api/clips')).body.clips.length;
    const big = await t.api('/api/clips', { method: 'POST', body: new Uint8Array(300_000), headers: { 'content-type': 'video/mp4' } });
    expect(big.status).to.equal(413);
    expect(big.body.error.code).to.equal('VIGIL_ERR_TOO_LARGE');
    // No content-length: the limit is enforced while streaming.
    // eslint-disable-next-line @typescript-eslint/require-await -- an async generator is the point (a streamed body)
    const chunks = async function* () {
      for (let i = 0; i < 30; i++) yield new Uint8Array(10_000);
    };
    const streamed = await fetch(`${t.url}/api/clips`, {
      method: 'POST',
      body: ReadableStream.from(chunks()),
      headers: { 'content-type': 'video/mp4' },
      duplex: 'half',
    });
    expect(streamed.status).to.equal(413);
    expect(((await streamed.json()) as ErrorAnswer).error.code).to.equal('VIGIL_ERR_TOO_LARGE');
    const text = await t.api('/api/clips', { method: 'POST', body: 'this is not a video', headers: { 'content-type': 'video/mp4' } });
    expect(text.status).to.equal(415);
    expect(text.body.error.code).to.equal('VIGIL_ERR_SOURCE_INVALID');
    const type = await t.api('/api/clips', { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    expect(type.status).to.equal(415);
    expect(type.body.error.code).to.equal('VIGIL_ERR_UNSUPPORTED_MEDIA');
    expect((await t.api('/api/clips')).body.clips.length).to.equal(before);
    expect(staged()).to.deep.equal([]);
  });

  it('never reads outside the data folder, whatever the id', async () => {
    for (const id of ['..%2F..%2Fetc%2Fpasswd', '%2e%2e', 'clp_%00', '..', 'CLP_X']) {
      const res = await fetch(`${t.url}/api/clips/${id}/video`);
      expect(res.status, id).to.be.oneOf([400, 404]);
      const body = await res.text();
      expect(body, id).to.not.match(/root:/);
      expect(JSON.parse(body).error.code, id).to.be.oneOf(['VIGIL_ERR_NOT_FOUND', 'VIGIL_ERR_INVALID_ARGUMENT']);
    }
  });

  it('records a camera in playable segments with their label timelines', async () => {
    const src = fixture('gmdcsa24-subject4-fall02.mp4');
    const c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: ['rec'], clips: true });
    const res = await t.api('/api/cameras', {
      method: 'POST',
      body: { id: 'rec', source: src, model: 'fight', record: { mode: 'continuous', segmentS: 1 } },
    });
    expect(res.status).to.equal(201);
    await c.next('status', (s) => s.state === 'ended');
    // The last segment is adopted after the session ends.
    await new Promise((r) => setTimeout(r, 500));
    const clips = (await t.api('/api/clips?camera=rec')).body.clips;
    expect(clips.length).to.equal(3);
    let total = 0;
    for (const clip of clips) {
      expect(clip).to.deep.include({ kind: 'recording', cameraId: 'rec', status: 'ready', mime: 'video/mp4' });
      const info = await probe(join(t.dataDir, 'clips', `${clip.id}.mp4`));
      expect(info.codec).to.equal('h264');
      expect(info.durationS! * 1000).to.be.closeTo(clip.durationMs, 80);
      total += clip.durationMs;
      const full = (await t.api(`/api/clips/${clip.id}`)).body;
      expect(full.timeline.frames.length).to.be.within(6, 10);
      for (const f of full.timeline.frames) expect(f.tMs).to.be.within(0, clip.durationMs);
    }
    const source = await probe(src);
    expect(total).to.be.closeTo(source.durationS! * 1000, 100);
    expect(c.messages.filter((m) => m.type === 'clip' && m.status === 'ready').length).to.equal(3);
    expect(staged()).to.deep.equal([]);
    c.close();
  });
});
