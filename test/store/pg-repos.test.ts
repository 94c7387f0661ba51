/**
 * The PostgreSQL repositories against a real server, case for case with the SQLite repos'
 * tests (test/store/cameras, events, clips and model-versions .test.ts; the outbox, which has
 * no repo test of its own, by one run of calls compared with the SQLite outbox's answers), plus
 * what only a shared server has: two nodes at once, and the server going away. The SQLite
 * cases are mirrored rather than shared, as their files are being made async meanwhile.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { openStore, type CameraInput, type EventStart, type OutboxRepo } from '../../src/store/index.js';
import { layoutOf, type Layout } from '../../src/store/paths.js';
import { createPgClipRepo } from '../../src/store/pg/clips.js';
import { createPgEventRepo } from '../../src/store/pg/events.js';
import { createPgModelVersionRepo } from '../../src/store/pg/model-versions.js';
import type { AdaptationRecord } from '../../src/model/folder/adaptation-record.js';
import { createPgOutboxRepo } from '../../src/store/pg/outbox.js';
import { connectPostgres } from '../../src/store/pg/connect.js';
import { createPgCameraRepo } from '../../src/store/pg/cameras.js';
import { migratePostgres } from '../../src/store/pg/schema.js';
import { discardStaged, newStagingPath } from '../../src/store/staging.js';
import { createClipIdGenerator } from '../../src/store/ids.js';
import { toTimelineJson, type TimelineJson } from '../../src/timeline/index.js';
import { expectCoded, rejection } from '../helpers/errors.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
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

const start = (over: Partial<EventStart> = {}): EventStart => ({
  cameraId: 'hall',
  model: 'fight',
  label: 'fight',
  startMs: 2000,
  endMs: 2125,
  startedAtMs: 1_700_000_002_000,
  endedAtMs: 1_700_000_002_125,
  peak: 0.6,
  mean: 0.55,
  ...over,
});

/** A fresh data directory (its staging, clips and snapshots folders made) per test, handed to `use`. */
function dataDirs(use: (layout: Layout) => void): void {
  let root = '';
  beforeEach(() => {
    const layout = layoutOf(mkdtempSync(join(tmpdir(), 'vigil-pg-repos-')));
    for (const dir of [layout.staging, layout.clips, layout.snapshots]) mkdirSync(dir, { recursive: true });
    root = layout.root;
    use(layout);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
}

/** What an outbox answers to a run of calls (not the seqs themselves, which differ between stores only by where they start). */
async function outboxScenario(outbox: OutboxRepo): Promise<unknown[]> {
  const seen: unknown[] = [];
  const first = await outbox.add('mqtt', { label: 'fight', n: 1 }, 1000);
  const seq = async (sink: string) => ((await outbox.head(sink))?.seq ?? 0) - first;
  await outbox.add('mqtt', { label: 'fall', n: 2 }, 1001);
  await outbox.add('webhook', ['a', 'b'], 1002);
  seen.push(await outbox.head('mqtt'), await outbox.count('mqtt'), await outbox.count('webhook'), await outbox.head('nope'));
  await outbox.failed(first, 5000.4, 'VIGIL_ERR_SINK: down');
  await outbox.failed(first, 9000, 'VIGIL_ERR_SINK: still down');
  seen.push(await outbox.head('mqtt'));
  await outbox.remove(first);
  await outbox.remove(first); // gone: nothing happens
  seen.push(await seq('mqtt'), await outbox.count('mqtt'));
  for (let i = 0; i < 5; i++) await outbox.add('mqtt', { i }, 2000 + i);
  seen.push(await outbox.dropOldest('mqtt', 2), await seq('mqtt'), await outbox.count('mqtt'), await outbox.dropOldest('mqtt', 0));
  await outbox.add('gone', null, 3000);
  seen.push(await outbox.removeOtherSinks(['mqtt', 'webhook']), await outbox.count('gone'), await outbox.removeOtherSinks([]));
  seen.push(await outbox.count('mqtt'), await outbox.count('webhook'));
  // The seq starts at 1 in both; with it relative, the rows must be the same.
  return seen.map((x) => (x && typeof x === 'object' && 'seq' in x ? { ...x, seq: (x.seq as number) - first } : x));
}

describe('store: PostgreSQL repositories', () => {
  let server: PostgresServer;
  let pool: pg.Pool;
  const warnings: string[] = [];
  const log = { warn: (msg: string) => void warnings.push(msg) };

  before(async () => {
    server = await startPostgres();
    pool = await connectPostgres(server.url, { log });
  });
  after(async () => {
    await pool?.end();
    await server?.dispose();
  });
  // Each test on an empty, freshly migrated schema.
  beforeEach(async () => {
    await pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    await migratePostgres(pool);
  });

  describe('cameras (as test/store/cameras.test.ts)', () => {
    it('creates with defaults filled in, gets, lists oldest first', async () => {
      const clock = manualClock();
      const cameras = createPgCameraRepo(pool, clock.now);
      const hall = await cameras.create({ id: 'hall', name: 'Hall', source: 'rtsp://10.0.0.5/stream', model: 'fight' });
      expect(hall).to.deep.equal({
        id: 'hall',
        name: 'Hall',
        source: 'rtsp://10.0.0.5/stream',
        model: 'fight',
        models: ['fight'],
        fps: null,
        loop: false,
        record: { mode: 'off' },
        createdAt: '2025-01-31T12:00:00.000Z',
        updatedAt: '2025-01-31T12:00:00.000Z',
      });
      clock.advance(1000);
      const gen = await cameras.create({ source: 'webcam', model: 'fight', record: { mode: 'events', labels: ['fight'] } });
      expect(gen.id).to.match(/^cam-[0-9a-f]{8}$/);
      expect(gen.name).to.equal(gen.id);
      expect(gen.record).to.deep.equal({ mode: 'events', labels: ['fight'], preRollS: 5, postRollS: 10 });
      expect(await cameras.get('hall')).to.deep.equal(hall);
      expect((await cameras.list()).map((c) => c.id)).to.deep.equal(['hall', gen.id]);
    });

    it('refuses a second camera with the same id, also from two nodes at once', async () => {
      const cameras = createPgCameraRepo(pool, Date.now);
      await cameras.create({ id: 'hall', source: 'webcam', model: 'fight' });
      expectCoded(
        await rejection(cameras.create({ id: 'hall', source: 'x.mp4', model: 'fight' })),
        'VIGIL_ERR_CONFLICT',
        'conflict: camera hall already exists',
      );
      expect((await cameras.get('hall'))?.source).to.equal('webcam');
      const other = await connectPostgres(server.url, { log });
      try {
        const results = await Promise.allSettled([
          cameras.create({ id: 'yard', source: 'a.mp4', model: 'fight' }),
          createPgCameraRepo(other, Date.now).create({ id: 'yard', source: 'b.mp4', model: 'fight' }),
        ]);
        expect(results.map((r) => r.status).sort()).to.deep.equal(['fulfilled', 'rejected']);
        const lost = results.find((r) => r.status === 'rejected');
        expectCoded(lost?.reason, 'VIGIL_ERR_CONFLICT', 'conflict: camera yard already exists');
      } finally {
        await other.end();
      }
    });

    it('updates the given fields, keeps the rest, bumps updatedAt', async () => {
      const clock = manualClock();
      const cameras = createPgCameraRepo(pool, clock.now);
      await cameras.create({ id: 'yard', name: 'Yard', source: 'yard.mp4', model: 'fight', loop: true, fps: 4 });
      clock.advance(60_000);
      const next = await cameras.update('yard', { name: 'Back yard', record: { mode: 'continuous' }, fps: undefined });
      expect(next).to.deep.equal({
        id: 'yard',
        name: 'Back yard',
        source: 'yard.mp4',
        model: 'fight',
        models: ['fight'],
        fps: 4,
        loop: true,
        record: { mode: 'continuous', segmentS: 60 },
        createdAt: '2025-01-31T12:00:00.000Z',
        updatedAt: '2025-01-31T12:01:00.000Z',
      });
      expect(await cameras.get('yard')).to.deep.equal(next);
      expect((await cameras.update('yard', { fps: null })).fps).to.equal(null);
      expect((await cameras.get('yard'))?.fps).to.equal(null);
    });

    it('update and remove of unknown cameras', async () => {
      const cameras = createPgCameraRepo(pool, Date.now);
      expectCoded(await rejection(cameras.update('nope', { name: 'x' })), 'VIGIL_ERR_NOT_FOUND', 'not found: camera nope');
      expect(await cameras.remove('nope')).to.equal(false);
      await cameras.create({ id: 'gone', source: 'webcam', model: 'fight' });
      expect(await cameras.remove('gone')).to.equal(true);
      expect(await cameras.get('gone')).to.equal(undefined);
      expect(await cameras.list()).to.deep.equal([]);
    });

    it('persists across pools (another node reads what one wrote)', async () => {
      const first = createPgCameraRepo(pool, Date.now);
      const a = await first.create({
        id: 'a',
        name: 'A',
        source: 'rtsp://10.0.0.9/live',
        model: 'fight',
        fps: 2.5,
        record: { mode: 'events', labels: ['fight', 'fall'], preRollS: 0, postRollS: 30 },
      });
      const b = await first.create({ id: 'b', source: 'b.mp4', model: 'fight', loop: true });
      const other = await connectPostgres(server.url, { log });
      try {
        expect(await createPgCameraRepo(other, Date.now).list()).to.deep.equal([a, b]);
      } finally {
        await other.end();
      }
    });

    it('keeps a list of models; model is its first, and either field alone replaces both on update', async () => {
      const cameras = createPgCameraRepo(pool, Date.now);
      const both = await cameras.create({ id: 'room', source: 'webcam', models: ['fight', 'fall'] });
      expect([both.model, both.models]).to.deep.equal(['fight', ['fight', 'fall']]);
      expect((await cameras.get('room'))?.models).to.deep.equal(['fight', 'fall']);
      const one = await cameras.update('room', { model: 'fall' });
      expect([one.model, one.models]).to.deep.equal(['fall', ['fall']]);
      const again = await cameras.update('room', { models: ['fall', 'fight'] });
      expect([again.model, again.models]).to.deep.equal(['fall', ['fall', 'fight']]);
      expect((await cameras.update('room', { model: 'fall', models: ['fall'] })).models).to.deep.equal(['fall']);
    });

    const base: CameraInput = { source: 'webcam', model: 'fight' };
    const refused: Array<[string, unknown, string]> = [
      ['an empty list', { source: 'webcam', models: [] }, 'camera: models: name at least one model'],
      ['a model twice', { source: 'webcam', models: ['fight', 'fall', 'fight'] }, 'camera: models: fight is listed twice'],
      ['a bad id', { ...base, id: 'Hall' }, 'camera: id: 1-64 lowercase letters, digits, - and _, starting with a letter or digit'],
      ['a source with a newline', { ...base, source: 'a.mp4\nrm -rf' }, 'camera: source: no control characters'],
      ['a missing model', { source: 'webcam' }, 'camera: model: Required (or models: a list)'],
      ['fps over 60', { ...base, fps: 120 }, 'camera: fps: Number must be less than or equal to 60'],
      ['an unknown field', { ...base, url: 'x' }, "camera: (root): Unrecognized key(s) in object: 'url'"],
      [
        'two problems at once',
        { ...base, name: ' ', fps: -1 },
        'camera: name: String must contain at least 1 character(s); fps: Number must be greater than 0',
      ],
    ];
    for (const [what, input, detail] of refused) {
      it(`refuses ${what} (the SQLite repo's validation, shared)`, async () => {
        const cameras = createPgCameraRepo(pool, Date.now);
        expectCoded(await rejection(cameras.create(input as CameraInput)), 'VIGIL_ERR_INVALID_ARGUMENT', `invalid argument: ${detail}`);
        expect(await cameras.list()).to.deep.equal([]);
      });
    }

    it('refuses a bad patch and leaves the camera as it was', async () => {
      const cameras = createPgCameraRepo(pool, Date.now);
      const cam = await cameras.create({ id: 'hall', source: 'webcam', model: 'fight' });
      expectCoded(
        await rejection(cameras.update('hall', { fps: 0 })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: camera: fps: Number must be greater than 0',
      );
      expectCoded(
        await rejection(cameras.update('hall', { id: 'other' })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: camera id cannot change (hall to other)',
      );
      expectCoded(
        await rejection(cameras.get('../x')),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: camera id must be 1-64 lowercase letters, digits, - or _ (starting with a letter or digit), got "../x"',
      );
      expect(await cameras.get('hall')).to.deep.equal(cam);
    });
  });

  describe('events (as test/store/events.test.ts)', () => {
    // Snapshots are files under a node's data directory, as with SQLite.
    let layout: Layout;
    dataDirs((l) => (layout = l));
    const repo = (now: () => number = Date.now) => createPgEventRepo(pool, layout, now);

    /** A recording's row, as the clip repo would adopt it (the PostgreSQL clip repo is not written yet). */
    async function recording(id: string): Promise<string> {
      await createPgCameraRepo(pool, Date.now).create({ id: 'hall', source: '/x.mp4', model: 'fight' });
      await pool.query(
        `INSERT INTO clips (id, camera_id, kind, name, status, ext, mime, bytes, created_at)
         VALUES ($1, 'hall', 'recording', 'rec', 'ready', 'mp4', 'video/mp4', 5, '2025-01-31T12:00:00.000Z')`,
        [id],
      );
      return id;
    }

    it('opens an active event, moves it on, ends it, and reads it back the same', async () => {
      const events = repo();
      const e = await events.open(start());
      expect(e.id).to.match(/^ev_[0-9a-f]{16}$/);
      expect(e).to.deep.equal({ ...start(), id: e.id, state: 'active', snapshot: false, clipId: null, review: { state: 'unreviewed' } });
      const moved = await events.progress(e.id, { endMs: 3000, endedAtMs: 1_700_000_003_000, peak: 0.9, mean: 0.7 });
      expect(await events.get(e.id))
        .to.deep.equal(moved)
        .and.deep.include({ endMs: 3000, peak: 0.9, state: 'active' });
      const ended = await events.end(e.id, { endMs: 2900, endedAtMs: 1_700_000_002_900, peak: 0.88, mean: 0.69 });
      expect(ended).to.deep.include({ endMs: 2900, peak: 0.88, mean: 0.69, state: 'ended' });
      // An ended event takes no more progress: a late frame cannot reopen it.
      expect(await events.progress(e.id, { endMs: 5000, endedAtMs: 1_700_000_005_000, peak: 1, mean: 1 })).to.equal(undefined);
      expect(await events.get(e.id)).to.deep.equal(ended);
      expectCoded(
        await rejection(events.end('ev_0000000000000000', { endMs: 1, endedAtMs: 1, peak: 1, mean: 1 })),
        'VIGIL_ERR_NOT_FOUND',
        'not found: event ev_0000000000000000',
      );
    });

    it('lists newest first with filters, counts, and pages with a cursor that skips nothing', async () => {
      const events = repo();
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const e = await events.open(
          start({ cameraId: i % 2 ? 'yard' : 'hall', startedAtMs: 1000 * i, label: i < 5 ? 'fight' : 'falling' }),
        );
        ids.push(e.id);
      }
      await events.review(ids[3], { state: 'confirmed' });
      const all = await events.list();
      expect(all.events.map((e) => e.id)).to.deep.equal([...ids].reverse());
      expect(all.next).to.equal(null);
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await events.list({ limit: 3, cursor });
        pages.push(page.events.map((e) => e.id));
        cursor = page.next ?? undefined;
      } while (cursor);
      expect(pages.map((p) => p.length)).to.deep.equal([3, 3, 1]);
      expect(pages.flat()).to.deep.equal([...ids].reverse());
      const ids$ = async (q: Parameters<typeof events.list>[0]) => (await events.list(q)).events.map((e) => e.id);
      expect(await ids$({ cameraId: 'yard' })).to.deep.equal([ids[5], ids[3], ids[1]]);
      expect(await ids$({ label: 'falling' })).to.deep.equal([ids[6], ids[5]]);
      expect(await ids$({ review: 'confirmed' })).to.deep.equal([ids[3]]);
      expect(await ids$({ review: 'unreviewed' })).to.have.length(6);
      expect(await ids$({ after: 2000, before: 4000 })).to.deep.equal([ids[3], ids[2]]);
      expect(await ids$({ cameraId: 'yard', limit: 1, cursor: '999999999999999' })).to.deep.equal([ids[5]]);
      expect(await ids$({ model: 'fall' })).to.deep.equal([]);
      expect(await events.count()).to.equal(7);
      expect(await events.count({ review: 'unreviewed', cameraId: 'hall' })).to.equal(4);
      expect(await events.count({ after: 2000, before: 4000 })).to.equal(2);
      expectCoded(
        await rejection(events.list({ cursor: 'abc' })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: event query: cursor: the next of a previous page',
      );
      expectCoded(
        await rejection(events.list({ review: 'maybe' as never })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        "invalid argument: event query: review: Invalid enum value. Expected 'unreviewed' | 'confirmed' | 'false_alarm', received 'maybe'",
      );
      expectCoded(
        await rejection(events.count({ limit: 5 } as never)),
        'VIGIL_ERR_INVALID_ARGUMENT',
        "invalid argument: event query: (root): Unrecognized key(s) in object: 'limit'",
      );
    });

    it('prunes ended, unconfirmed events by age and beyond the newest `keep`, with their snapshots; confirmed and active ones stay', async () => {
      const events = repo();
      // Six events ending 1 s apart: the oldest confirmed, the newest still active.
      const ids: string[] = [];
      for (const i of [0, 1, 2, 3, 4, 5]) {
        const e = await events.open(start({ startedAtMs: 1_000_000 + i * 1000, endedAtMs: 1_000_100 + i * 1000 }));
        if (i < 5) await events.end(e.id, { endMs: 2200, endedAtMs: 1_000_500 + i * 1000, peak: 0.7, mean: 0.6 });
        await events.saveSnapshot(e.id, Buffer.from([0xff, 0xd8, i, 0xff, 0xd9]));
        ids.push(e.id);
      }
      await events.review(ids[0], { state: 'confirmed' });
      const file = (id: string) => join(layout.snapshots, `${id}.jpg`);
      // Ended before 1 002 000: events 0 (confirmed: kept) and 1.
      expect(await events.prune({ beforeMs: 1_002_000 })).to.deep.equal([ids[1]]);
      expect(existsSync(file(ids[1]))).to.equal(false);
      // Keep the newest 2 of what is left (0, 2, 3, 4, 5): 2 and 3 go; 0 is confirmed.
      expect(await events.prune({ keep: 2 })).to.deep.equal([ids[2], ids[3]]);
      expect((await events.list()).events.map((e) => e.id)).to.deep.equal([ids[5], ids[4], ids[0]]);
      expect(existsSync(file(ids[4])) && existsSync(file(ids[0]))).to.equal(true);
      expect(await events.prune({ keep: 0 })).to.deep.equal([ids[4]]); // never the active one
      expect(await events.prune({ keep: 0 })).to.deep.equal([]);
    });

    it('reviews with a note and who, and refuses a state that is not one of the three', async () => {
      const clock = manualClock();
      const events = repo(clock.now);
      const { id } = await events.open(start());
      expect((await events.review(id, { state: 'false_alarm', note: 'a hug\nnot a fight', by: 'ana' })).review).to.deep.equal({
        state: 'false_alarm',
        note: 'a hug\nnot a fight',
        by: 'ana',
        atMs: clock.now(),
      });
      expect((await events.get(id))?.review).to.deep.include({ state: 'false_alarm', by: 'ana' });
      expectCoded(
        await rejection(events.review(id, { state: 'wrong' as never })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        "invalid argument: review: state: Invalid enum value. Expected 'unreviewed' | 'confirmed' | 'false_alarm', received 'wrong'",
      );
      expectCoded(
        await rejection(events.review('ev_0000000000000000', { state: 'confirmed' })),
        'VIGIL_ERR_NOT_FOUND',
        'not found: event ev_0000000000000000',
      );
      expectCoded(
        await rejection(events.get('../../etc/passwd')),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: event id must look like ev_0f1e2d3c4b5a6978, got "../../etc/passwd"',
      );
    });

    it('keeps a snapshot as a whole file, replaces it, and deletes it with its event', async () => {
      const events = repo();
      const { id } = await events.open(start());
      expectCoded(await rejection(events.snapshotPath(id)), 'VIGIL_ERR_NOT_FOUND', `not found: event ${id} has no snapshot (yet)`);
      expect(await events.saveSnapshot(id, Buffer.from('first'))).to.equal(true);
      expect(await events.saveSnapshot(id, Buffer.from('second'))).to.equal(true);
      const path = await events.snapshotPath(id);
      expect(path).to.equal(join(layout.snapshots, `${id}.jpg`));
      expect(readFileSync(path, 'utf8')).to.equal('second');
      expect(readdirSync(layout.staging)).to.deep.equal([]);
      expect((await events.get(id))?.snapshot).to.equal(true);
      expect(await events.remove(id)).to.equal(true);
      expect(existsSync(path)).to.equal(false);
      expect(await events.remove(id)).to.equal(false);
      expect(await events.saveSnapshot(id, Buffer.from('late'))).to.equal(false);
      expect(readdirSync(layout.snapshots)).to.deep.equal([]);
    });

    it('links a recording that overlaps an event, and unlinks it when the clip goes; the event stays', async () => {
      const events = repo();
      const e = await events.open(start({ startedAtMs: 10_000, endedAtMs: 12_000 }));
      const other = await events.open(start({ startedAtMs: 50_000, endedAtMs: 52_000 }));
      const clipId = await recording('clp_000000001000000000001');
      expect((await events.linkClip('hall', clipId, 9_000, 11_000)).map((x) => x.id)).to.deep.equal([e.id]);
      expect((await events.get(e.id))?.clipId).to.equal(clipId);
      expect((await events.get(other.id))?.clipId).to.equal(null);
      // Already linked: a second clip over the same time does not take it.
      expect(await events.linkClip('hall', clipId, 9_000, 11_000)).to.deep.equal([]);
      await pool.query('DELETE FROM clips WHERE id = $1', [clipId]);
      await createPgCameraRepo(pool, Date.now).remove('hall');
      expect(await events.get(e.id)).to.deep.include({ clipId: null, cameraId: 'hall' });
      expectCoded(
        await rejection(events.linkClip('hall', 'nope', 0, 1)),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: linkClip takes a camera id, a clip id and a span',
      );
    });

    it('links with `only` just the events of the given segments, in one transaction', async () => {
      const events = repo();
      const a = await events.open(start({ startMs: 0, startedAtMs: 10_000, endedAtMs: 12_000 }));
      const b = await events.open(start({ startMs: 500, label: 'fall', startedAtMs: 10_500, endedAtMs: 12_000 }));
      // An older run of a looping file: same stream start, but outside the wall-clock span.
      await events.open(start({ startMs: 0, startedAtMs: 1_000, endedAtMs: 2_000 }));
      const clipId = await recording('clp_000000001000000000002');
      const linked = await events.linkClip('hall', clipId, 9_000, 13_000, [
        { model: 'fight', label: 'fight', startMs: 0 },
        { model: 'fight', label: 'fall', startMs: 999 },
      ]);
      expect(linked.map((x) => x.id)).to.deep.equal([a.id]);
      expect((await events.get(b.id))?.clipId).to.equal(null);
    });
  });

  describe('clips (as test/store/clips.test.ts, adopt to setStatus)', () => {
    let layout: Layout;
    dataDirs((l) => (layout = l));
    const repo = (now: () => number = Date.now) => createPgClipRepo(pool, layout, now, createClipIdGenerator(now));
    /** A staged file, as stage() or a recorder leaves one. */
    const staged = (content: string | Buffer, ext = 'mp4') => {
      const path = newStagingPath(layout, ext);
      writeFileSync(path, content);
      return path;
    };
    const camera = (id: string) => createPgCameraRepo(pool, Date.now).create({ id, source: 'webcam', model: 'fight' });

    it('adopts a staged file into clips/ with a row that describes it', async () => {
      const clock = manualClock();
      const clips = repo(clock.now);
      const path = staged('not really a video', 'webm');
      const clip = await clips.adopt(path, { kind: 'upload', name: 'hall.webm', model: 'fight' });
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
        timeline: null,
      });
      expect(existsSync(path)).to.equal(false);
      expect(await clips.videoPath(clip.id)).to.equal(join(layout.clips, `${clip.id}.webm`));
      expect(readFileSync(await clips.videoPath(clip.id), 'utf8')).to.equal('not really a video');
      expect(await clips.get(clip.id)).to.deep.equal(clip);
    });

    it('stores a recording with its camera and timeline; list leaves the timeline out', async () => {
      const clips = repo();
      await camera('hall');
      const rec = await clips.adopt(staged(Buffer.alloc(50)), {
        kind: 'recording',
        cameraId: 'hall',
        name: 'Hall 12:00',
        startedAtMs: 1_738_324_800_000,
        durationMs: 250,
        status: 'ready',
        timeline: TIMELINE,
      });
      expect((await clips.get(rec.id))?.timeline).to.deep.equal(TIMELINE);
      const [listed] = await clips.list();
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
      const clips = repo(clock.now);
      await camera('a');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const meta = i % 2 === 0 ? ({ kind: 'recording', cameraId: 'a' } as const) : ({ kind: 'upload' } as const);
        ids.push((await clips.adopt(staged(Buffer.alloc(10)), { ...meta, name: `c${i}` })).id);
        // Two in the same ms must still sort in creation order.
        if (i !== 2) clock.advance(1000);
      }
      expect([...ids].sort()).to.deep.equal(ids);
      const newest = [...ids].reverse();
      const names = async (q: Parameters<typeof clips.list>[0]) => (await clips.list(q)).map((c) => c.name);
      expect((await clips.list()).map((c) => c.id)).to.deep.equal(newest);
      expect(await names({ kind: 'upload' })).to.deep.equal(['c3', 'c1']);
      expect(await names({ cameraId: 'a' })).to.deep.equal(['c4', 'c2', 'c0']);
      const page1 = await clips.list({ limit: 2 });
      const page2 = await clips.list({ limit: 2, before: page1[1].id });
      const page3 = await clips.list({ limit: 2, before: page2[1].id });
      expect([...page1, ...page2, ...page3].map((c) => c.id)).to.deep.equal(newest);
      expect(await clips.list({ status: 'ready' })).to.deep.equal([]);
      expectCoded(
        await rejection(clips.list({ limit: 0 })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: clip query: limit: Number must be greater than or equal to 1',
      );
      expectCoded(
        await rejection(clips.list({ before: '../x' })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: clip query: before: a clip id',
      );
    });

    it('removes the row and the file', async () => {
      const clips = repo();
      const clip = await clips.adopt(staged(Buffer.alloc(10)), { kind: 'upload', name: 'x.mp4' });
      const file = await clips.videoPath(clip.id);
      expect(await clips.remove(clip.id)).to.equal(true);
      expect(existsSync(file)).to.equal(false);
      expect(await clips.get(clip.id)).to.equal(undefined);
      expect(await clips.remove(clip.id)).to.equal(false);
      expectCoded(await rejection(clips.videoPath(clip.id)), 'VIGIL_ERR_NOT_FOUND', `not found: clip ${clip.id}`);
    });

    it('refuses bad meta and unknown cameras, leaving the staged file in place', async () => {
      const clips = repo();
      const path = staged(Buffer.alloc(10));
      const err1 = await rejection(clips.adopt(path, { kind: 'upload', name: '' }));
      expectCoded(err1, 'VIGIL_ERR_INVALID_ARGUMENT', 'invalid argument: clip: name: String must contain at least 1 character(s)');
      const err2 = await rejection(clips.adopt(path, { kind: 'recording', name: 'r', cameraId: 'ghost' }));
      expectCoded(err2, 'VIGIL_ERR_NOT_FOUND', 'not found: camera ghost');
      const err3 = await rejection(clips.adopt(path, { kind: 'upload', name: 'r', status: 'failed' }));
      expectCoded(err3, 'VIGIL_ERR_INVALID_ARGUMENT', 'invalid argument: clip: error: error is required with status failed and only then');
      const err4 = await rejection(
        clips.adopt(path, { kind: 'upload', name: 'r', timeline: { schema: 'other/1' } as unknown as TimelineJson }),
      );
      expectCoded(
        err4,
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: clip: timeline.schema: Invalid literal value, expected "vigil.timeline/1"',
      );
      expect(existsSync(path)).to.equal(true);
      expect(readdirSync(layout.clips)).to.deep.equal([]);
      expect(await clips.list()).to.deep.equal([]);
      discardStaged(layout, path);
      const missing = await rejection(clips.adopt(path, { kind: 'upload', name: 'r' }));
      expectCoded(missing, 'VIGIL_ERR_NOT_FOUND', `not found: staged file ${path}`);
    });

    it('a failed insert leaves the staged file where it was', async () => {
      const clips = createPgClipRepo(pool, layout, Date.now, () => 'clp_000000001000000000001');
      await clips.adopt(staged('first'), { kind: 'upload', name: 'a' });
      const path = staged('second');
      const e = await rejection(clips.adopt(path, { kind: 'upload', name: 'b' }));
      expect(e.code).to.equal('VIGIL_ERR_STORE');
      expect(e.message).to.match(
        /^storage failed: PostgreSQL: duplicate key value violates unique constraint "clips_pkey" \(SQLSTATE 23505\)$/,
      );
      expect(readFileSync(path, 'utf8')).to.equal('second');
      expect(readFileSync(join(layout.clips, 'clp_000000001000000000001.mp4'), 'utf8')).to.equal('first');
    });

    it('adopts a file another writer put in a staging folder', async () => {
      const clips = repo();
      const prefix = newStagingPath(layout, '');
      mkdirSync(`${prefix}-dir`);
      writeFileSync(`${prefix}-dir/seg-000001.mp4`, 'segment');
      const clip = await clips.adopt(`${prefix}-dir/seg-000001.mp4`, { kind: 'upload', name: 'seg' });
      expect(clip.bytes).to.equal(7);
      discardStaged(layout, `${prefix}-dir`);
      expect(readdirSync(layout.staging)).to.deep.equal([]);
    });

    it('a removed camera leaves its recordings with cameraId null', async () => {
      const clips = repo();
      await camera('hall');
      const rec = await clips.adopt(staged(Buffer.alloc(10)), { kind: 'recording', cameraId: 'hall', name: 'r' });
      await createPgCameraRepo(pool, Date.now).remove('hall');
      expect((await clips.get(rec.id))?.cameraId).to.equal(null);
    });

    it('setStatus walks pending → processing → ready with a timeline, and failed with an error', async () => {
      const clips = repo();
      const clip = await clips.adopt(staged(Buffer.alloc(10)), { kind: 'upload', name: 'x' });
      expect((await clips.setStatus(clip.id, 'processing')).status).to.equal('processing');
      const ready = await clips.setStatus(clip.id, 'ready', { timeline: TIMELINE, durationMs: 250 });
      expect(ready).to.deep.include({ status: 'ready', durationMs: 250, error: null, timeline: TIMELINE });
      // A relabel keeps the old timeline until the new one replaces it.
      expect((await clips.setStatus(clip.id, 'processing')).timeline).to.deep.equal(TIMELINE);
      const failed = await clips.setStatus(clip.id, 'failed', {
        error: { code: 'VIGIL_ERR_DECODE', message: 'ffmpeg failed while decoding: x' },
        timeline: null,
      });
      expect(failed).to.deep.include({
        status: 'failed',
        error: { code: 'VIGIL_ERR_DECODE', message: 'ffmpeg failed while decoding: x' },
        timeline: null,
        durationMs: 250,
      });
      expect((await clips.setStatus(clip.id, 'pending')).error).to.equal(null);
      expect((await clips.setStatus(clip.id, 'pending', { durationMs: null })).durationMs).to.equal(null);
      expect(await clips.get(clip.id)).to.deep.include({ status: 'pending', durationMs: null, timeline: null });
    });

    it('setStatus refuses inconsistent updates and unknown clips', async () => {
      const clips = repo();
      const clip = await clips.adopt(staged(Buffer.alloc(10)), { kind: 'upload', name: 'x' });
      const msg = 'invalid argument: clip status failed needs an error, and only failed takes one';
      expectCoded(await rejection(clips.setStatus(clip.id, 'failed')), 'VIGIL_ERR_INVALID_ARGUMENT', msg);
      expectCoded(
        await rejection(clips.setStatus(clip.id, 'ready', { error: { code: 'X', message: 'y' } })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        msg,
      );
      expectCoded(
        await rejection(clips.setStatus(clip.id, 'done' as 'ready')),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: clip status must be one of pending, processing, ready, failed, got "done"',
      );
      const ghost = clip.id.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
      expectCoded(await rejection(clips.setStatus(ghost, 'ready')), 'VIGIL_ERR_NOT_FOUND', `not found: clip ${ghost}`);
      expect((await clips.get(clip.id))?.status).to.equal('pending');
    });
  });

  describe('model versions (as test/store/model-versions.test.ts)', () => {
    const RECORD = { from: 'fight@1.0.0', accepted: true } as unknown as AdaptationRecord;
    let layout: Layout;
    dataDirs((l) => (layout = l));
    /** A model folder written in staging, as the adaptation job writes one. */
    const staged = (text = 'weights') => {
      const dir = newStagingPath(layout, '');
      mkdirSync(dir);
      writeFileSync(join(dir, 'manifest.json'), text);
      return dir;
    };

    it('adds versions under models/<camera>/, makes one live, rolls back to the one before and then to the shipped model', async () => {
      const clock = manualClock();
      const models = createPgModelVersionRepo(pool, layout, clock.now);
      await createPgCameraRepo(pool, clock.now).create({ id: 'hall', source: '/x.mp4', model: 'fight' });
      expect(await models.live('hall', 'fight')).to.equal(undefined);
      expect(await models.lastAdaptedAtMs('hall', 'fight')).to.equal(0);
      const a = await models.add(staged('a'), { cameraId: 'hall', model: 'fight', version: '1.1.0', accepted: true, record: RECORD });
      clock.advance(1000);
      // Adapted again from the shipped model: the same version, a folder of its own.
      const b = await models.add(staged('b'), { cameraId: 'hall', model: 'fight', version: '1.1.0', accepted: false, record: RECORD });
      expect(a.folder).to.equal(join(layout.models, 'hall', 'fight-1.1.0'));
      expect(b.folder).to.equal(join(layout.models, 'hall', 'fight-1.1.0-2'));
      expect(readFileSync(join(b.folder, 'manifest.json'), 'utf8')).to.equal('b');
      expect(b).to.deep.include({ cameraId: 'hall', model: 'fight', version: '1.1.0', accepted: false, live: false, record: RECORD });
      expect(await models.lastAdaptedAtMs('hall', 'fight')).to.equal(clock.now());

      expect((await models.setLive('hall', 'fight', a.id))?.live).to.equal(true);
      expect((await models.setLive('hall', 'fight', b.id))?.id).to.equal(b.id);
      expect((await models.setLive('hall', 'fight', b.id))?.live).to.equal(true); // already live: a no-op
      expect(await models.liveFolder('hall', 'fight')).to.equal(b.folder);
      expect((await models.list('hall')).map((v) => v.live)).to.deep.equal([false, true]);
      expect(await models.list('hall', 'fall')).to.deep.equal([]);
      expect(await models.get(a.id)).to.deep.equal({ ...a, live: false });
      expect(await models.get(1.5)).to.equal(undefined);
      expect((await models.rollback('hall', 'fight'))?.id).to.equal(a.id);
      expect(await models.rollback('hall', 'fight')).to.equal(undefined);
      expectCoded(
        await rejection(models.rollback('hall', 'fight')),
        'VIGIL_ERR_CONFLICT',
        'conflict: camera hall runs the shipped fight already: nothing to roll back',
      );
      expectCoded(
        await rejection(models.setLive('hall', 'fall', a.id)),
        'VIGIL_ERR_NOT_FOUND',
        `not found: version ${a.id} of fall on camera hall`,
      );
      expectCoded(await rejection(models.setLive('nope', 'fight', null)), 'VIGIL_ERR_NOT_FOUND', 'not found: camera nope');
      const orphan = staged();
      expectCoded(
        await rejection(models.add(orphan, { cameraId: 'nope', model: 'fight', version: '1.1.0', accepted: true, record: RECORD })),
        'VIGIL_ERR_NOT_FOUND',
        'not found: camera nope',
      );
      expect(existsSync(orphan)).to.equal(false);
      expectCoded(
        await rejection(models.add(staged(), { cameraId: 'hall', model: 'fight', version: 'x', accepted: true, record: RECORD })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: version "x"',
      );
    });

    it('two nodes setting the live version at once take turns: the stack gets each change once', async () => {
      const models = createPgModelVersionRepo(pool, layout, Date.now);
      await createPgCameraRepo(pool, Date.now).create({ id: 'hall', source: '/x.mp4', model: 'fight' });
      const a = await models.add(staged(), { cameraId: 'hall', model: 'fight', version: '1.1.0', accepted: true, record: RECORD });
      const other = await connectPostgres(server.url, { log });
      try {
        const theirs = createPgModelVersionRepo(other, layout, Date.now);
        await Promise.all([models.setLive('hall', 'fight', a.id), theirs.setLive('hall', 'fight', a.id)]);
        expect((await pool.query('SELECT version_id FROM model_live')).rows).to.deep.equal([{ version_id: a.id }]);
      } finally {
        await other.end();
      }
    });

    it('deleting the camera deletes its versions (rows by the foreign key, folders by removeFolders)', async () => {
      const models = createPgModelVersionRepo(pool, layout, Date.now);
      const cameras = createPgCameraRepo(pool, Date.now);
      await cameras.create({ id: 'hall', source: '/x.mp4', model: 'fight' });
      const a = await models.add(staged(), { cameraId: 'hall', model: 'fight', version: '1.1.0', accepted: true, record: RECORD });
      await models.setLive('hall', 'fight', a.id);
      expect(await cameras.remove('hall')).to.equal(true);
      models.removeFolders('hall');
      expect(await models.list('hall')).to.deep.equal([]);
      expect(await models.live('hall', 'fight')).to.equal(undefined);
      expect(existsSync(join(layout.models, 'hall'))).to.equal(false);
    });
  });

  describe('outbox', () => {
    it('answers a run of calls exactly as the SQLite outbox does', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-outbox-'));
      const sqlite = openStore(dir);
      try {
        const expected = await outboxScenario(sqlite.outbox);
        expect(expected[0]).to.deep.equal({
          seq: 0,
          sink: 'mqtt',
          payload: { label: 'fight', n: 1 },
          attempts: 0,
          nextAttemptAtMs: 1000,
          lastError: null,
        });
        expect(await outboxScenario(createPgOutboxRepo(pool))).to.deep.equal(expected);
      } finally {
        sqlite.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('claims the head only when it is due, leases it, and never hands out the row behind a held head', async () => {
      const outbox = createPgOutboxRepo(pool);
      const a = await outbox.add('mqtt', 'a', 1000);
      const b = await outbox.add('mqtt', 'b', 1000);
      expect(await outbox.claim('mqtt', 999, 30_000)).to.equal(undefined); // not due yet
      expect(await outbox.claim('mqtt', 1000, 30_000)).to.deep.include({ seq: a, payload: 'a', nextAttemptAtMs: 31_000 });
      // Held: neither the head again nor b, which must wait for a.
      expect(await outbox.claim('mqtt', 2000, 30_000)).to.equal(undefined);
      // A holder that died: its lease runs out and the row is taken again (at least once).
      expect(await outbox.claim('mqtt', 31_000, 30_000)).to.deep.include({ seq: a });
      await outbox.failed(a, 70_000, 'VIGIL_ERR_SINK: down');
      expect(await outbox.claim('mqtt', 69_999, 30_000)).to.equal(undefined);
      expect(await outbox.claim('mqtt', 70_000, 30_000)).to.deep.include({ seq: a, attempts: 1, lastError: 'VIGIL_ERR_SINK: down' });
      await outbox.remove(a);
      expect(await outbox.claim('mqtt', 70_000, 30_000)).to.deep.include({ seq: b });
      expect(await outbox.claim('nope', 70_000, 30_000)).to.equal(undefined);
    });

    it('two pools claiming at once never take the same row, and each sink stays in order', async () => {
      const other = await connectPostgres(server.url, { log });
      try {
        const nodes = [createPgOutboxRepo(pool), createPgOutboxRepo(other)];
        const sinks = Array.from({ length: 12 }, (_, i) => `sink-${i}`);
        // Each sink's rows added in turn by alternating nodes, all sinks at once.
        await Promise.all(
          sinks.map(async (sink, i) => {
            for (const n of [0, 1, 2]) await nodes[(i + n) % 2].add(sink, { sink, n }, 0);
          }),
        );
        const taken: number[] = [];
        for (let round = 0; round < 4; round++) {
          // Every sink claimed by both nodes at once, several times each.
          const claims = await Promise.all(sinks.flatMap((sink) => [0, 1, 0, 1].map((n) => nodes[n].claim(sink, 1, 60_000))));
          const rows = claims.filter((r) => r !== undefined);
          // One claim per sink that still has rows; the rest got nothing.
          expect(rows.map((r) => r.sink).sort()).to.deep.equal(round < 3 ? [...sinks].sort() : []);
          for (const r of rows) expect(r.payload).to.deep.equal({ sink: r.sink, n: round });
          taken.push(...rows.map((r) => r.seq));
          await Promise.all(rows.map((r) => nodes[r.seq % 2].remove(r.seq)));
        }
        expect(taken).to.have.length(36);
        expect(new Set(taken).size).to.equal(36);
      } finally {
        await other.end();
      }
    });
  });

  // Last: it restarts the server under the shared pool.
  describe('the server going away', () => {
    it('fails the next call with VIGIL_ERR_STORE naming PostgreSQL, and works again once the pool reconnects', async () => {
      const cameras = createPgCameraRepo(pool, Date.now);
      const outbox = createPgOutboxRepo(pool);
      await cameras.create({ id: 'hall', source: 'webcam', model: 'fight' });
      await server.stop();
      try {
        for (const call of [cameras.list(), cameras.update('hall', { name: 'x' }), outbox.add('mqtt', {}, 0)]) {
          const e = await rejection(call);
          expect(e.code).to.equal('VIGIL_ERR_STORE');
          expect(e.message).to.match(/^storage failed: PostgreSQL: /);
        }
      } finally {
        await server.start();
      }
      expect(warnings.some((w) => w.includes('idle connection lost'))).to.equal(true);
      expect((await cameras.list()).map((c) => c.id)).to.deep.equal(['hall']);
      expect((await cameras.update('hall', { name: 'Hall' })).name).to.equal('Hall');
    });

    it('a statement that fails is VIGIL_ERR_STORE too, and leaves the pool usable', async () => {
      const events = createPgEventRepo(pool, layoutOf(tmpdir()), Date.now);
      await pool.query('DROP TABLE events');
      const e = await rejection(events.count());
      expect(e.code).to.equal('VIGIL_ERR_STORE');
      expect(e.message).to.equal('storage failed: PostgreSQL: relation "events" does not exist (SQLSTATE 42P01)');
      expect(await createPgCameraRepo(pool, Date.now).list()).to.deep.equal([]);
    });
  });
});
