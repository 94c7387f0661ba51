import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { ServerMessage } from '../../src/server/protocol.js';
import { fixture } from '../helpers/clips.js';
import { ffmpegChildren } from '../helpers/processes.js';
import { connect, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Pieces (mp4 files) and bytes under `<dataDir>/staging`. */
function staged(dataDir: string): { pieces: number; bytes: number } {
  let pieces = 0;
  let bytes = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      try {
        if (e.isDirectory()) walk(path);
        else {
          bytes += statSync(path).size;
          if (e.name.endsWith('.mp4')) pieces++;
        }
      } catch {
        // discarded meanwhile
      }
    }
  };
  walk(join(dataDir, 'staging'));
  return { pieces, bytes };
}

function events(preRollS: number, postRollS: number) {
  return { mode: 'events', labels: ['fight'], preRollS, postRollS };
}

describe('security: recording limits', function () {
  this.timeout(180_000);

  describe('staging holds what pre-roll needs', () => {
    let t: TestServer | undefined;
    let c: TestClient | undefined;
    afterEach(async () => {
      c?.close();
      await t?.stop();
      t = c = undefined;
    });

    it('an events camera whose label never occurs keeps only pre-roll pieces', async () => {
      t = await startTestServer();
      c = await connect(`${t.url}/ws`);
      c.send({ type: 'subscribe', cameras: ['quiet'], clips: true });
      // The no-fight clip never makes the fight model say `fight`.
      const body = { id: 'quiet', source: fixture('nofight-nofi090.mp4'), model: 'fight', loop: true, record: events(2, 2) };
      expect((await t.api('/api/cameras', { method: 'POST', body })).status).to.equal(201);
      await c.next('label', undefined, 30_000);
      let most = { pieces: 0, bytes: 0 };
      for (let i = 0; i < 20; i++) {
        await sleep(1000);
        const now = staged(t.dataDir);
        if (now.pieces > most.pieces) most = now;
      }
      const fights = c.messages.filter((m) => m.type === 'segment' && m.segment.label === 'fight');
      expect(fights, 'the fixture was meant never to show a fight').to.deep.equal([]);
      expect((await t.api('/api/cameras/quiet')).body.status.frames).to.be.above(100);
      // 2 s pieces: the one being written, pre-roll's one, and one waiting to be decided.
      expect(most.pieces, `staging peaked at ${most.bytes} bytes`).to.be.at.most(3);
    });

    it('an event that never ends is cut into clips instead of piling up in staging', async () => {
      t = await startTestServer();
      c = await connect(`${t.url}/ws`);
      c.send({ type: 'subscribe', cameras: ['busy'], clips: true });
      // demo.mp4 fights 2.5 s of every 4.5 s: with 2 s of pre- and post-roll, one endless event.
      const body = { id: 'busy', source: fixture('demo.mp4'), model: 'fight', loop: true, record: events(2, 2) };
      expect((await t.api('/api/cameras', { method: 'POST', body })).status).to.equal(201);
      await c.next('segment', (m) => m.event === 'start' && m.segment.label === 'fight', 30_000);
      let most = { pieces: 0, bytes: 0 };
      const until = Date.now() + 50_000;
      while (Date.now() < until && !c.messages.some((m) => m.type === 'clip')) {
        await sleep(1000);
        const now = staged(t.dataDir);
        if (now.pieces > most.pieces) most = now;
      }
      const clip = c.messages.find((m): m is Extract<ServerMessage, { type: 'clip' }> => m.type === 'clip');
      expect(clip, `no clip while the camera runs; staging peaked at ${most.pieces} pieces, ${most.bytes} bytes`).to.not.equal(undefined);
      const row = (await t.api(`/api/clips/${clip!.clipId}`)).body;
      expect(row).to.deep.include({ kind: 'recording', cameraId: 'busy', status: 'ready' });
      expect(row.durationMs).to.be.within(28_000, 34_000);
      // 30 s of pieces, plus pre-roll and the pieces being written and decided.
      expect(most.pieces).to.be.at.most(15 + 1 + 2);
    });
  });

  describe('a full disk', () => {
    let dataDir = '';
    let mounted = false;
    let t: TestServer | undefined;
    let c: TestClient | undefined;
    after(async () => {
      c?.close();
      await t?.stop();
      if (mounted) execFileSync('umount', [dataDir]);
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('reports VIGIL_ERR_STORE and keeps labelling without recording until space returns', async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'vigil-full-'));
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dataDir], { stdio: 'pipe' });
        mounted = true;
      } catch (e) {
        throw new Error(`this test needs root to mount a tmpfs (CI runs as root): ${(e as Error).message}`, { cause: e });
      }
      t = await startTestServer({ dataDir });
      c = await connect(`${t.url}/ws`);
      c.send({ type: 'subscribe', cameras: ['full'], clips: true });
      const body = { id: 'full', source: fixture('demo.mp4'), model: 'fight', loop: true, record: { mode: 'continuous', segmentS: 2 } };
      expect((await t.api('/api/cameras', { method: 'POST', body })).status).to.equal(201);
      await c.next('clip', (m) => m.status === 'ready', 30_000);

      // Fill the disk to the last block.
      const fd = openSync(join(dataDir, 'filler'), 'w');
      const chunk = Buffer.alloc(16 * 1024);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        closeSync(fd);
      }
      const fullAt = c.messages.length;
      const paused = await c.next('status', (m) => m.error?.code === 'VIGIL_ERR_STORE', 30_000);
      expect(paused.state).to.equal('live');
      expect(paused.error!.message).to.match(/disk full/);
      expect(paused.error!.message, 'no server paths in errors').to.not.include(dataDir);

      // Labelling goes on, and the source is not restarted again and again.
      const pids = ffmpegChildren();
      const framesBefore = (await t.api('/api/cameras/full')).body.status.frames;
      await sleep(12_000);
      const status = (await t.api('/api/cameras/full')).body.status;
      expect(status).to.deep.include({ state: 'live' });
      expect(status.error?.code).to.equal('VIGIL_ERR_STORE');
      expect(status.frames - framesBefore).to.be.above(40);
      expect(ffmpegChildren(), 'the decoding ffmpeg was restarted while the disk stayed full').to.deep.equal(pids);
      const since = c.messages.slice(fullAt);
      expect(since.filter((m) => m.type === 'status').map((m) => (m as { state: string }).state)).to.satisfy((s: string[]) =>
        s.every((x) => x === 'live'),
      );
      const times = c.messages.filter((m) => m.type === 'label').map((m) => (m as { tMs: number }).tMs);
      expect(
        times.every((x, i) => i === 0 || x > times[i - 1]),
        'label times went back',
      ).to.equal(true);

      // Space returns: recording resumes.
      execFileSync('mount', ['-o', 'remount,size=64m', dataDir]);
      const freedAt = c.messages.length;
      await c.next('clip', (m) => m.status === 'ready' && c!.messages.indexOf(m) >= freedAt, 40_000);
      const after = (await t.api('/api/cameras/full')).body.status;
      expect(after.state).to.equal('live');
      expect(after.error).to.equal(undefined);
      expect(statfsSync(dataDir).bavail).to.be.above(0);
    });
  });
});
