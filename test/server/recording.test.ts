import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { VigilEvent } from '../../src/events/types.js';
import type { AdaptationRecord } from '../../src/model/folder/adaptation-record.js';
import { SHIPPED_MODELS_DIR } from '../../src/model/folder/model-folder.js';
import type { ClipSummary } from '../../src/store/clips.js';
import { openStore } from '../../src/store/index.js';
import { probe } from '../../src/video/probe.js';
import { fixture } from '../helpers/clips.js';
import { connect, startTestServer } from '../helpers/server.js';

const BIN = new URL('../../bin/vigil.js', import.meta.url).pathname;

describe('server: recording', function () {
  this.timeout(120_000);

  it('keeps only the pieces around a label event, joined into one playable clip', async () => {
    const t = await startTestServer();
    try {
      const c = await connect(`${t.url}/ws`);
      c.send({ type: 'subscribe', cameras: ['ev'], clips: true });
      const body = {
        id: 'ev',
        source: fixture('fight-fi002.mp4'),
        model: 'fight',
        loop: true,
        record: { mode: 'events', labels: ['fight'], preRollS: 1, postRollS: 1 },
      };
      expect((await t.api('/api/cameras', { method: 'POST', body })).status).to.equal(201);
      await c.next('segment', (m) => m.event === 'start' && m.segment.label === 'fight');
      // Two-second pieces: let a few complete while the fight goes on, then stop the camera.
      await new Promise((r) => setTimeout(r, 7000));
      // Recording off restarts the camera: the session ends and its pieces are joined.
      await t.api('/api/cameras/ev', { method: 'PATCH', body: { record: { mode: 'off' } } });
      const ready = await c.next('clip', (m) => m.status === 'ready');
      const clip = (await t.api(`/api/clips/${ready.clipId}`)).body;
      expect(clip).to.deep.include({ kind: 'recording', cameraId: 'ev', status: 'ready' });
      expect(clip.durationMs).to.be.at.least(3900);
      const info = await probe(join(t.dataDir, 'clips', `${clip.id}.mp4`));
      expect(info.durationS! * 1000).to.be.closeTo(clip.durationMs, 150);
      expect(clip.timeline.segments.map((s: { label: string }) => s.label)).to.include('fight');
      // The timeline covers the whole joined clip at 8 fps, not just its last pieces.
      const times = clip.timeline.frames.map((f: { tMs: number }) => f.tMs);
      expect(times[0]).to.be.below(300);
      expect(times[times.length - 1]).to.be.above(clip.durationMs - 400);
      expect(times.length).to.be.within(Math.floor((clip.durationMs / 1000) * 8) - 3, Math.ceil((clip.durationMs / 1000) * 8) + 2);
      expect((await t.api('/api/clips?camera=ev')).body.clips.length).to.equal(1);
      expect(readdirSync(join(t.dataDir, 'staging'))).to.deep.equal([]);
      c.close();
    } finally {
      await t.stop();
    }
  });

  it('labels the recording of a two-model camera with both models, and records for a label of the second', async () => {
    const t = await startTestServer();
    try {
      const c = await connect(`${t.url}/ws`);
      c.send({ type: 'subscribe', cameras: ['two'], clips: true });
      const body = {
        id: 'two',
        source: fixture('demo.mp4'),
        models: ['fight', 'fall'],
        loop: true,
        // Only the second model gives `falling`: before, the recorder followed the first model only.
        record: { mode: 'events', labels: ['falling'], preRollS: 1, postRollS: 1 },
      };
      expect((await t.api('/api/cameras', { method: 'POST', body })).status).to.equal(201);
      await c.next('segment', (m) => m.model === 'fall' && m.event === 'start' && m.segment.label === 'falling');
      await new Promise((r) => setTimeout(r, 5000));
      await t.api('/api/cameras/two', { method: 'PATCH', body: { record: { mode: 'off' } } });
      const ready = await c.next('clip', (m) => m.status === 'ready');
      const tl = (await t.api(`/api/clips/${ready.clipId}`)).body.timeline;
      // The top level stays the first model's, as a one-model timeline.
      expect(tl.model.name).to.equal('fight');
      expect(tl.classes).to.deep.equal(['fight', 'no_fight']);
      expect(tl.models.map((m: { model: { name: string } }) => m.model.name)).to.deep.equal(['fight', 'fall']);
      expect(tl.models[0]).to.deep.equal({
        model: tl.model,
        classes: tl.classes,
        fps: tl.fps,
        smoothing: tl.smoothing,
        frames: tl.frames,
        segments: tl.segments,
      });
      const fall = tl.models[1];
      expect(fall.classes).to.deep.equal(['falling', 'no_fall']);
      expect(fall.frames.length).to.be.above(10);
      expect(fall.frames.every((f: { probs: number[] }) => f.probs.length === 2)).to.equal(true);
      expect(fall.segments.map((s: { label: string }) => s.label)).to.include('falling');
      c.close();
    } finally {
      await t.stop();
    }
  });

  it('says which version labelled a recording: a clip spanning a swap lists both, from where each labelled', async () => {
    const t = await startTestServer();
    try {
      const c = await connect(`${t.url}/ws`);
      c.send({ type: 'subscribe', cameras: ['sw'], clips: true });
      const body = { id: 'sw', source: fixture('demo.mp4'), model: 'fight', loop: true, record: { mode: 'continuous', segmentS: 4 } };
      expect((await t.api('/api/cameras', { method: 'POST', body })).status).to.equal(201);
      // An adapted version, as the adaptation job stores one (the shipped weights, a new version).
      const { store } = t.server;
      const staged = store.stagingPath('');
      cpSync(join(SHIPPED_MODELS_DIR, 'fight'), staged, { recursive: true });
      const manifest = JSON.parse(readFileSync(join(staged, 'manifest.json'), 'utf8'));
      writeFileSync(join(staged, 'manifest.json'), JSON.stringify({ ...manifest, version: '1.1.0' }));
      const record = { from: 'fight@1.0.0', accepted: true } as unknown as AdaptationRecord;
      const v = await store.models.add(staged, { cameraId: 'sw', model: 'fight', version: '1.1.0', accepted: true, record });
      await store.models.setLive('sw', 'fight', v.id);
      // Early in a 4 s piece, so the swap lands inside one (loading the folder takes a moment).
      await c.next('label', (m) => m.tMs > 4000 && m.tMs % 4000 > 500 && m.tMs % 4000 < 1200);
      await t.server.cameras.swapModel('sw', 'fight');
      const first = await c.next('label', (m) => m.version === '1.1.0');
      type Timeline = { model: { version: string; versions?: Array<{ version: string; fromMs: number }> }; frames: Array<{ tMs: number }> };
      const timelineOf = async (id: string) => (await t.api(`/api/clips/${id}`)).body.timeline as Timeline;
      const clips: Timeline[] = [];
      for (let seen = 0; !clips.some((x) => x.model.versions) || clips.at(-1)!.model.versions; seen = c.messages.length) {
        const ready = await c.next('clip', (m) => m.status === 'ready' && c.messages.indexOf(m) >= seen, 15_000);
        clips.push(await timelineOf(ready.clipId));
      }
      const versionsOf = (x: Timeline) => (x.model.versions ?? [{ version: x.model.version }]).map((y) => y.version);
      // Before the swap 1.0.0 only, then the piece spanning it, then 1.1.0 only.
      expect(clips.map(versionsOf).filter((vs, i, all) => i === 0 || vs.join() !== all[i - 1].join())).to.deep.equal([
        ['1.0.0'],
        ['1.0.0', '1.1.0'],
        ['1.1.0'],
      ]);
      const span = clips.find((x) => x.model.versions)!;
      expect(span.model.version, 'the version live at the end').to.equal('1.1.0');
      const [before, after] = span.model.versions!;
      expect(before.fromMs).to.equal(span.frames[0].tMs);
      expect(after.fromMs).to.be.above(before.fromMs);
      // From the first frame 1.1.0 labelled, in clip time: as far from the clip's last 1.0.0 frame as on the socket.
      const i = span.frames.findIndex((f) => f.tMs === after.fromMs);
      const lastOld = c.messages.filter((m) => m.type === 'label' && m.version === '1.0.0').at(-1) as { tMs: number };
      expect(after.fromMs - span.frames[i - 1].tMs).to.be.closeTo(first.tMs - lastOld.tMs, 1);
      c.close();
    } finally {
      await t.stop();
    }
  });

  it('in events mode an event links its own clip, not one that covers it by chance', async () => {
    const t = await startTestServer();
    try {
      const c = await connect(`${t.url}/ws`);
      c.send({ type: 'subscribe', cameras: ['two'], clips: true, events: true });
      const body = {
        id: 'two',
        source: fixture('demo.mp4'),
        models: ['fight', 'fall'],
        loop: true,
        // Kept for falls only: the fight events at the same time are on the clip, but it is not theirs.
        record: { mode: 'events', labels: ['falling'], preRollS: 1, postRollS: 1 },
      };
      expect((await t.api('/api/cameras', { method: 'POST', body })).status).to.equal(201);
      await c.next('event', (m) => m.change === 'start' && m.event.model === 'fall');
      await c.next('event', (m) => m.change === 'start' && m.event.model === 'fight');
      await new Promise((r) => setTimeout(r, 4000));
      await t.api('/api/cameras/two', { method: 'PATCH', body: { record: { mode: 'off' } } });
      const ready = await c.next('clip', (m) => m.status === 'ready');
      const linked = await c.next('event', (m) => m.change === 'update' && m.event.clipId === ready.clipId);
      expect(linked.event).to.include({ model: 'fall', label: 'falling' });
      const clip = (await t.api(`/api/clips/${ready.clipId}`)).body;
      const fromMs = clip.startedAtMs as number;
      const toMs = fromMs + (clip.durationMs as number);
      const events = ((await t.api('/api/events?camera=two')).body.events as VigilEvent[]).filter(
        (e) => e.startedAtMs < toMs && e.endedAtMs >= fromMs,
      );
      const fights = events.filter((e) => e.model === 'fight');
      const falls = events.filter((e) => e.model === 'fall');
      expect(fights.length).to.be.above(0);
      expect(falls.length).to.be.above(0);
      expect(fights.map((e) => e.clipId)).to.deep.equal(fights.map(() => null));
      expect(falls.map((e) => e.clipId)).to.deep.equal(falls.map(() => clip.id));
      c.close();
    } finally {
      await t.stop();
    }
  });

  it('refuses event labels no model of the camera gives, and takes those of any of its models', async () => {
    const t = await startTestServer();
    try {
      const record = (labels: string[]) => ({ mode: 'events', labels });
      const bad = await t.api('/api/cameras', {
        method: 'POST',
        body: { id: 'two', source: 'webcam', models: ['fight', 'fall'], record: record(['walking']) },
      });
      expect(bad.status).to.equal(400);
      expect(bad.body).to.deep.equal({
        error: {
          code: 'VIGIL_ERR_INVALID_ARGUMENT',
          message:
            'invalid argument: record.labels: "walking" is not a class of models fight, fall (classes: fight, no_fight, falling, no_fall)',
        },
      });
      const ok = await t.api('/api/cameras', {
        method: 'POST',
        body: { id: 'two', source: 'webcam', models: ['fight', 'fall'], record: record(['fight', 'falling']) },
      });
      expect(ok.status).to.equal(201);
      // Dropping the model that gives `falling` would leave a label nothing gives.
      const drop = await t.api('/api/cameras/two', { method: 'PATCH', body: { models: ['fight'] } });
      expect(drop.status).to.equal(400);
      expect(drop.body.error.message).to.match(/"falling" is not a class of model fight/);
    } finally {
      await t.stop();
    }
  });

  it('after a crash mid-recording, every clip row has a playable file and no file lacks a row', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-crash-'));
    const proc = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', dataDir, '--no-demo'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((done, fail) => {
        let out = '';
        proc.stdout.on('data', (d) => {
          out += d;
          const m = /serving (http:\/\/[^/\s]+)\//.exec(out);
          if (m) done(m[1]);
        });
        proc.once('exit', (code) => fail(new Error(`vigil serve exited ${code}`)));
      });
      const body = {
        id: 'rec',
        source: fixture('fight-fi002.mp4'),
        model: 'fight',
        loop: true,
        record: { mode: 'continuous', segmentS: 1 },
      };
      const res = await fetch(`${url}/api/cameras`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).to.equal(201);
      // Wait for some segments to land, then kill -9 in the middle of the next one.
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const clips = ((await (await fetch(`${url}/api/clips`)).json()) as { clips: ClipSummary[] }).clips;
        if (clips.length >= 2) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await new Promise((r) => setTimeout(r, 450));
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      // The orphaned ffmpeg dies of SIGPIPE on its next write; give it that moment.
      await new Promise((r) => setTimeout(r, 300));
      expect(readdirSync(join(dataDir, 'staging')).length, 'a half-written segment was left behind').to.be.greaterThan(0);

      const store = openStore(dataDir);
      try {
        const rows = await store.clips.list({ limit: 1000 });
        expect(rows.length).to.be.at.least(2);
        for (const row of rows) {
          const info = await probe(await store.clips.videoPath(row.id));
          expect(info.durationS! * 1000, row.id).to.be.closeTo(row.durationMs!, 80);
        }
        const files = readdirSync(join(dataDir, 'clips')).sort();
        expect(files).to.deep.equal(rows.map((r) => `${r.id}.mp4`).sort());
        expect(readdirSync(join(dataDir, 'staging'))).to.deep.equal([]);
      } finally {
        await store.close();
      }
      // And a server starts on it and serves the clips.
      const t = await startTestServer({ dataDir });
      try {
        expect((await t.api('/api/cameras')).body.cameras.map((x: { id: string }) => x.id)).to.deep.equal(['rec']);
      } finally {
        await t.stop();
      }
    } finally {
      proc.kill('SIGKILL');
      if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
