/**
 * The PostgreSQL repositories against a real server, case for case with the SQLite repos'
 * tests (test/store/cameras.test.ts, events.test.ts; the outbox's through test/sinks), plus
 * what only a shared server has: two nodes at once, and the server going away.
 */
import { expect } from 'chai';
import type pg from 'pg';
import type { CameraInput } from '../../src/store/index.js';
import { connectPostgres } from '../../src/store/pg/connect.js';
import { createPgCameraRepo } from '../../src/store/pg/cameras.js';
import { migratePostgres } from '../../src/store/pg/schema.js';
import { expectCoded, rejection } from '../helpers/errors.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { manualClock } from './temp-dir.js';

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
});
