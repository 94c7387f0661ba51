import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { expectCoded, rejection } from '../helpers/errors.js';
import { toTimelineJson, type TimelineJson } from '../../src/timeline/index.js';
import type { Store } from '../../src/store/index.js';
import { storeBackends } from '../helpers/store-backends.js';
import { manualClock } from './temp-dir.js';

const TIMELINE: TimelineJson = toTimelineJson({
  source: 'clip:x',
  model: { name: 'fight', version: '1.0.0' },
  classes: ['fight', 'no_fight'],
  fps: 8,
  durationMs: 250,
  frames: [{ tMs: 0, probs: [0.9, 0.1], label: 'fight' }],
  segments: [{ label: 'fight', startMs: 0, endMs: 250, confidence: 0.9, peak: 0.9 }],
  createdAt: new Date(Date.UTC(2025, 0, 31)),
});

/** Stages `content` the way an upload would arrive: several chunks. */
async function stageBytes(store: Store, content: Buffer, ext = 'mp4'): Promise<string> {
  const chunks = [content.subarray(0, 3), content.subarray(3)];
  const staged = await store.stage(Readable.from(chunks), { maxBytes: 1 << 20, ext });
  expect(staged.bytes).to.equal(content.length);
  return staged.path;
}

for (const backend of storeBackends()) {
  describe(`store clips (${backend.name})`, () => {
    const stores = backend.stores();

    describe('stage()', () => {
      it('streams to a staging file with the right size and bytes', async () => {
        const store = await stores.open();
        const content = Buffer.alloc(100_000, 7);
        content.write('ftyp', 4);
        const staged = await store.stage(Readable.from([content.subarray(0, 65_536), content.subarray(65_536)]), {
          maxBytes: 100_000,
          ext: 'mp4',
        });
        expect(staged.bytes).to.equal(100_000);
        expect(staged.path.startsWith(stores.stagingDir())).to.equal(true);
        expect(readFileSync(staged.path).equals(content)).to.equal(true);
      });

      it('stops at maxBytes, deletes the partial file and leaves the input to the caller', async () => {
        const store = await stores.open();
        const input = new PassThrough();
        const done = store.stage(input, { maxBytes: 10, ext: 'webm' });
        input.write(Buffer.alloc(6));
        input.write(Buffer.alloc(6));
        const err = await rejection(done);
        expectCoded(err, 'VIGIL_ERR_TOO_LARGE', 'too large: more than 10 bytes');
        expect(readdirSync(stores.stagingDir())).to.deep.equal([]);
        expect(input.destroyed).to.equal(false);
        input.destroy();
      });

      it('aborts on the signal and when the input fails, leaving nothing', async () => {
        const store = await stores.open();
        const ac = new AbortController();
        const input = new PassThrough();
        const done = store.stage(input, { maxBytes: 1000, ext: 'mp4', signal: ac.signal });
        input.write(Buffer.alloc(10));
        setImmediate(() => ac.abort());
        const err = await rejection(done);
        expect(err.code).to.equal('VIGIL_ERR_ABORTED');
        expect(err.message).to.match(/^aborted: writing .*staging[/\\](node-a[/\\])?[0-9a-f]{16}\.mp4$/);

        const broken = new PassThrough();
        const done2 = store.stage(broken, { maxBytes: 1000, ext: 'mp4' });
        broken.write(Buffer.alloc(10));
        setImmediate(() => broken.destroy(new Error('socket hang up')));
        expectCoded(await rejection(done2), 'VIGIL_ERR_ABORTED', 'aborted: input failed before its end (socket hang up)');
        expect(readdirSync(stores.stagingDir())).to.deep.equal([]);
      });

      it('from a real HTTP request: the server can still answer 413 after the limit', async () => {
        const store = await stores.open();
        const server: Server = createServer((req, res) => {
          store.stage(req, { maxBytes: 1024, ext: 'mp4' }).then(
            (s) => res.end(String(s.bytes)),
            (e: { code: string; httpStatus: number }) => res.writeHead(e.httpStatus, { connection: 'close' }).end(e.code),
          );
        });
        await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
        const post = (bytes: number) =>
          new Promise<{ status: number; body: string }>((done, fail) => {
            const req = request({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', method: 'POST', path: '/' }, (res) => {
              let body = '';
              res.on('data', (d) => (body += d)).on('end', () => done({ status: res.statusCode!, body }));
            });
            req.on('error', fail);
            req.end(Buffer.alloc(bytes));
          });
        try {
          expect(await post(1024)).to.deep.equal({ status: 200, body: '1024' });
          expect(await post(4096)).to.deep.equal({ status: 413, body: 'VIGIL_ERR_TOO_LARGE' });
        } finally {
          await new Promise((done) => server.close(done));
        }
        expect(readdirSync(stores.stagingDir())).to.have.length(1);
      });

      it('refuses bad options before writing', async () => {
        const store = await stores.open();
        expectCoded(
          await rejection(store.stage(Readable.from([]), { maxBytes: 0, ext: 'mp4' })),
          'VIGIL_ERR_INVALID_ARGUMENT',
          'invalid argument: maxBytes must be a positive integer, got 0',
        );
        expectCoded(
          await rejection(store.stage(Readable.from([]), { maxBytes: 10, ext: '' })),
          'VIGIL_ERR_INVALID_ARGUMENT',
          'invalid argument: file extension must be 1-8 lowercase letters or digits without the dot, got ""',
        );
      });
    });

    describe('adopt, list, get, remove', () => {
      it('adopts a staged file into clips/ with a row that describes it', async () => {
        const clock = manualClock();
        // The node it was stored by: a fleet's node id (on either backend).
        const store = await stores.open({ now: clock.now, nodeId: 'node-b' });
        const path = await stageBytes(store, Buffer.from('not really a video'), 'webm');
        const clip = await store.clips.adopt(path, { kind: 'upload', name: 'hall.webm', model: 'fight' });
        expect(clip.id).to.match(/^clp_[0-9a-z]{9}[0-9a-f]{12}$/);
        expect(clip).to.deep.equal({
          id: clip.id,
          cameraId: null,
          kind: 'upload',
          name: 'hall.webm',
          model: 'fight',
          status: 'pending',
          error: null,
          createdAt: '2025-01-31T12:00:00.000Z',
          startedAtMs: null,
          durationMs: null,
          bytes: 18,
          mime: 'video/webm',
          node: 'node-b',
          timeline: null,
        });
        expect(existsSync(path)).to.equal(false);
        expect(await store.clips.videoPath(clip.id)).to.equal(join(store.dataDir, 'clips', `${clip.id}.webm`));
        expect(readFileSync(await store.clips.videoPath(clip.id), 'utf8')).to.equal('not really a video');
        expect(await store.clips.get(clip.id)).to.deep.equal(clip);
      });

      it('stores a recording with its camera and timeline; list leaves the timeline out', async () => {
        const store = await stores.open();
        await store.cameras.create({ id: 'hall', source: 'webcam', model: 'fight' });
        const rec = await store.clips.adopt(await stageBytes(store, Buffer.alloc(50)), {
          kind: 'recording',
          cameraId: 'hall',
          name: 'Hall 12:00',
          startedAtMs: 1_738_324_800_000,
          durationMs: 250,
          status: 'ready',
          timeline: TIMELINE,
        });
        expect((await store.clips.get(rec.id))?.timeline).to.deep.equal(TIMELINE);
        const [listed] = await store.clips.list();
        expect(listed).to.not.have.property('timeline');
        expect(listed).to.deep.include({
          id: rec.id,
          cameraId: 'hall',
          kind: 'recording',
          status: 'ready',
          startedAtMs: 1_738_324_800_000,
          durationMs: 250,
          bytes: 50,
          mime: 'video/mp4',
        });
      });

      it('lists newest first, filtered and paged by id', async () => {
        const clock = manualClock();
        const store = await stores.open({ now: clock.now });
        await store.cameras.create({ id: 'a', source: 'webcam', model: 'fight' });
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const meta = i % 2 === 0 ? ({ kind: 'recording', cameraId: 'a' } as const) : ({ kind: 'upload' } as const);
          ids.push((await store.clips.adopt(await stageBytes(store, Buffer.alloc(10)), { ...meta, name: `c${i}` })).id);
          // Two in the same ms must still sort in creation order.
          if (i !== 2) clock.advance(1000);
        }
        expect([...ids].sort()).to.deep.equal(ids);
        const newest = [...ids].reverse();
        expect((await store.clips.list()).map((c) => c.id)).to.deep.equal(newest);
        expect((await store.clips.list({ kind: 'upload' })).map((c) => c.name)).to.deep.equal(['c3', 'c1']);
        expect((await store.clips.list({ cameraId: 'a' })).map((c) => c.name)).to.deep.equal(['c4', 'c2', 'c0']);
        const page1 = await store.clips.list({ limit: 2 });
        const page2 = await store.clips.list({ limit: 2, before: page1[1].id });
        const page3 = await store.clips.list({ limit: 2, before: page2[1].id });
        expect([...page1, ...page2, ...page3].map((c) => c.id)).to.deep.equal(newest);
        expect(await store.clips.list({ status: 'ready' })).to.deep.equal([]);
        expectCoded(
          await rejection(store.clips.list({ limit: 0 })),
          'VIGIL_ERR_INVALID_ARGUMENT',
          'invalid argument: clip query: limit: Number must be greater than or equal to 1',
        );
        expectCoded(
          await rejection(store.clips.list({ before: '../x' })),
          'VIGIL_ERR_INVALID_ARGUMENT',
          'invalid argument: clip query: before: a clip id',
        );
      });

      it('removes the row and the file', async () => {
        const store = await stores.open();
        const clip = await store.clips.adopt(await stageBytes(store, Buffer.alloc(10)), { kind: 'upload', name: 'x.mp4' });
        const file = await store.clips.videoPath(clip.id);
        expect(await store.clips.remove(clip.id)).to.equal(true);
        expect(existsSync(file)).to.equal(false);
        expect(await store.clips.get(clip.id)).to.equal(undefined);
        expect(await store.clips.remove(clip.id)).to.equal(false);
        expectCoded(await rejection(store.clips.videoPath(clip.id)), 'VIGIL_ERR_NOT_FOUND', `not found: clip ${clip.id}`);
      });

      it('refuses bad meta and unknown cameras, leaving the staged file in place', async () => {
        const store = await stores.open();
        const path = await stageBytes(store, Buffer.alloc(10));
        const err1 = await rejection(store.clips.adopt(path, { kind: 'upload', name: '' }));
        expectCoded(err1, 'VIGIL_ERR_INVALID_ARGUMENT', 'invalid argument: clip: name: String must contain at least 1 character(s)');
        const err2 = await rejection(store.clips.adopt(path, { kind: 'recording', name: 'r', cameraId: 'ghost' }));
        expectCoded(err2, 'VIGIL_ERR_NOT_FOUND', 'not found: camera ghost');
        const err3 = await rejection(store.clips.adopt(path, { kind: 'upload', name: 'r', status: 'failed' }));
        expectCoded(
          err3,
          'VIGIL_ERR_INVALID_ARGUMENT',
          'invalid argument: clip: error: error is required with status failed and only then',
        );
        const err4 = await rejection(
          store.clips.adopt(path, { kind: 'upload', name: 'r', timeline: { schema: 'other/1' } as unknown as TimelineJson }),
        );
        expectCoded(
          err4,
          'VIGIL_ERR_INVALID_ARGUMENT',
          'invalid argument: clip: timeline.schema: Invalid literal value, expected "vigil.timeline/1"',
        );
        expect(existsSync(path)).to.equal(true);
        expect(readdirSync(join(store.dataDir, 'clips'))).to.deep.equal([]);
        expect(await store.clips.list()).to.deep.equal([]);
        store.discard(path);
        expect(existsSync(path)).to.equal(false);
        const missing = await rejection(store.clips.adopt(path, { kind: 'upload', name: 'r' }));
        expectCoded(missing, 'VIGIL_ERR_NOT_FOUND', `not found: staged file ${path}`);
      });

      it('adopts a file another writer put in a staging folder', async () => {
        const store = await stores.open();
        const prefix = store.stagingPath('');
        const { mkdirSync } = await import('node:fs');
        mkdirSync(`${prefix}-dir`);
        writeFileSync(`${prefix}-dir/seg-000001.mp4`, 'segment');
        const clip = await store.clips.adopt(`${prefix}-dir/seg-000001.mp4`, { kind: 'upload', name: 'seg' });
        expect(clip.bytes).to.equal(7);
        store.discard(`${prefix}-dir`);
        expect(readdirSync(stores.stagingDir())).to.deep.equal([]);
      });

      it('a removed camera leaves its recordings with cameraId null', async () => {
        const store = await stores.open();
        await store.cameras.create({ id: 'hall', source: 'webcam', model: 'fight' });
        const rec = await store.clips.adopt(await stageBytes(store, Buffer.alloc(10)), { kind: 'recording', cameraId: 'hall', name: 'r' });
        await store.cameras.remove('hall');
        expect((await store.clips.get(rec.id))?.cameraId).to.equal(null);
      });
    });

    describe('setStatus()', () => {
      it('walks pending → processing → ready with a timeline, and failed with an error', async () => {
        const store = await stores.open();
        const clip = await store.clips.adopt(await stageBytes(store, Buffer.alloc(10)), { kind: 'upload', name: 'x' });
        expect((await store.clips.setStatus(clip.id, 'processing')).status).to.equal('processing');
        const ready = await store.clips.setStatus(clip.id, 'ready', { timeline: TIMELINE, durationMs: 250 });
        expect(ready).to.deep.include({ status: 'ready', durationMs: 250, error: null, timeline: TIMELINE });
        // A relabel keeps the old timeline until the new one replaces it.
        expect((await store.clips.setStatus(clip.id, 'processing')).timeline).to.deep.equal(TIMELINE);
        const failed = await store.clips.setStatus(clip.id, 'failed', {
          error: { code: 'VIGIL_ERR_DECODE', message: 'ffmpeg failed while decoding: x' },
          timeline: null,
        });
        expect(failed).to.deep.include({
          status: 'failed',
          error: { code: 'VIGIL_ERR_DECODE', message: 'ffmpeg failed while decoding: x' },
          timeline: null,
          durationMs: 250,
        });
        expect((await store.clips.setStatus(clip.id, 'pending')).error).to.equal(null);
      });

      it('refuses inconsistent updates and unknown clips', async () => {
        const store = await stores.open();
        const clip = await store.clips.adopt(await stageBytes(store, Buffer.alloc(10)), { kind: 'upload', name: 'x' });
        const msg = 'invalid argument: clip status failed needs an error, and only failed takes one';
        expectCoded(await rejection(store.clips.setStatus(clip.id, 'failed')), 'VIGIL_ERR_INVALID_ARGUMENT', msg);
        expectCoded(
          await rejection(store.clips.setStatus(clip.id, 'ready', { error: { code: 'X', message: 'y' } })),
          'VIGIL_ERR_INVALID_ARGUMENT',
          msg,
        );
        expectCoded(
          await rejection(store.clips.setStatus(clip.id, 'done' as 'ready')),
          'VIGIL_ERR_INVALID_ARGUMENT',
          'invalid argument: clip status must be one of pending, processing, ready, failed, got "done"',
        );
        const ghost = clip.id.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
        expectCoded(await rejection(store.clips.setStatus(ghost, 'ready')), 'VIGIL_ERR_NOT_FOUND', `not found: clip ${ghost}`);
        expect((await store.clips.get(clip.id))?.status).to.equal('pending');
      });
    });
  });
}
