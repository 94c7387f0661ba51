import Database from 'better-sqlite3';
import { expect } from 'chai';
import { join } from 'node:path';
import { expectCoded, rejection } from '../helpers/errors.js';
import type { CameraInput } from '../../src/store/index.js';
import { storeBackends } from '../helpers/store-backends.js';
import { manualClock } from './temp-dir.js';

for (const backend of storeBackends()) {
  describe(`store cameras (${backend.name})`, () => {
    const stores = backend.stores();

    it('creates with defaults filled in, gets, lists oldest first', async () => {
      const clock = manualClock();
      const store = await stores.open({ now: clock.now });
      const hall = await store.cameras.create({ id: 'hall', name: 'Hall', source: 'rtsp://10.0.0.5/stream', model: 'fight' });
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
      const gen = await store.cameras.create({ source: 'webcam', model: 'fight', record: { mode: 'events', labels: ['fight'] } });
      expect(gen.id).to.match(/^cam-[0-9a-f]{8}$/);
      expect(gen.name).to.equal(gen.id);
      expect(gen.record).to.deep.equal({ mode: 'events', labels: ['fight'], preRollS: 5, postRollS: 10 });
      expect(await store.cameras.get('hall')).to.deep.equal(hall);
      expect((await store.cameras.list()).map((c) => c.id)).to.deep.equal(['hall', gen.id]);
    });

    it('refuses a second camera with the same id', async () => {
      const store = await stores.open();
      await store.cameras.create({ id: 'hall', source: 'webcam', model: 'fight' });
      expectCoded(
        await rejection(store.cameras.create({ id: 'hall', source: 'x.mp4', model: 'fight' })),
        'VIGIL_ERR_CONFLICT',
        'conflict: camera hall already exists',
      );
      expect((await store.cameras.get('hall'))?.source).to.equal('webcam');
    });

    it('updates the given fields, keeps the rest, bumps updatedAt', async () => {
      const clock = manualClock();
      const store = await stores.open({ now: clock.now });
      await store.cameras.create({ id: 'yard', name: 'Yard', source: 'yard.mp4', model: 'fight', loop: true, fps: 4 });
      clock.advance(60_000);
      const next = await store.cameras.update('yard', { name: 'Back yard', record: { mode: 'continuous' }, fps: undefined });
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
      expect((await store.cameras.update('yard', { fps: null })).fps).to.equal(null);
      expect((await store.cameras.get('yard'))?.fps).to.equal(null);
    });

    it('update and remove of unknown cameras', async () => {
      const store = await stores.open();
      expectCoded(await rejection(store.cameras.update('nope', { name: 'x' })), 'VIGIL_ERR_NOT_FOUND', 'not found: camera nope');
      expect(await store.cameras.remove('nope')).to.equal(false);
      await store.cameras.create({ id: 'gone', source: 'webcam', model: 'fight' });
      expect(await store.cameras.remove('gone')).to.equal(true);
      expect(await store.cameras.get('gone')).to.equal(undefined);
      expect(await store.cameras.list()).to.deep.equal([]);
    });

    it('persists across close and reopen', async () => {
      const first = await stores.open();
      const a = await first.cameras.create({
        id: 'a',
        name: 'A',
        source: 'rtsp://10.0.0.9/live',
        model: 'fight',
        fps: 2.5,
        record: { mode: 'events', labels: ['fight', 'fall'], preRollS: 0, postRollS: 30 },
      });
      const b = await first.cameras.create({ id: 'b', source: 'b.mp4', model: 'fight', loop: true });
      await first.close();
      const second = await stores.open();
      expect(await second.cameras.list()).to.deep.equal([a, b]);
    });

    describe('models', () => {
      it('keeps a list; model is its first, and either field alone replaces both on update', async () => {
        const store = await stores.open();
        const both = await store.cameras.create({ id: 'room', source: 'webcam', models: ['fight', 'fall'] });
        expect([both.model, both.models]).to.deep.equal(['fight', ['fight', 'fall']]);
        expect((await store.cameras.get('room'))?.models).to.deep.equal(['fight', 'fall']);
        const one = await store.cameras.update('room', { model: 'fall' });
        expect([one.model, one.models]).to.deep.equal(['fall', ['fall']]);
        const again = await store.cameras.update('room', { models: ['fall', 'fight'] });
        expect([again.model, again.models]).to.deep.equal(['fall', ['fall', 'fight']]);
        expect((await store.cameras.update('room', { model: 'fall', models: ['fall'] })).models).to.deep.equal(['fall']);
      });

      const cases: Array<[string, unknown, string]> = [
        ['an empty list', { source: 'webcam', models: [] }, 'camera: models: name at least one model'],
        ['a model twice', { source: 'webcam', models: ['fight', 'fall', 'fight'] }, 'camera: models: fight is listed twice'],
        [
          'a model that is not the first of models',
          { source: 'webcam', model: 'fall', models: ['fight', 'fall'] },
          'camera: model fall is not the first of models (fight, fall): send one of them',
        ],
        [
          'a bad name in the list',
          { source: 'webcam', models: ['fight', '../x'] },
          'camera: models.1: a model name: lowercase letters, digits, - and _',
        ],
        ['models not a list', { source: 'webcam', models: 'fight' }, 'camera: models: Expected array, received string'],
      ];
      for (const [what, input, detail] of cases) {
        it(`refuses ${what}`, async () => {
          const store = await stores.open();
          expectCoded(
            await rejection(store.cameras.create(input as CameraInput)),
            'VIGIL_ERR_INVALID_ARGUMENT',
            `invalid argument: ${detail}`,
          );
          expect(await store.cameras.list()).to.deep.equal([]);
        });
      }

      // The SQLite file's own migration; PostgreSQL's schema has its test (pg-schema.test.ts).
      if (backend.name === 'sqlite')
        it('gives the cameras of a version 3 database their model as a list of one (migration 4)', async () => {
          const dir = stores.dir();
          await (await stores.open()).close();
          const raw = new Database(join(dir, 'vigil.db'));
          // Back to version 3: later migrations' tables go too.
          raw.exec(
            'DROP TABLE model_live; DROP TABLE model_versions; ALTER TABLE cameras DROP COLUMN models; ALTER TABLE clips DROP COLUMN node',
          );
          raw
            .prepare(
              `INSERT INTO cameras (id, name, source, model, fps, loop, record, created_at, updated_at)
         VALUES ('old', 'old', 'webcam', 'fall', NULL, 0, '{"mode":"off"}', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')`,
            )
            .run();
          raw.pragma('user_version = 3');
          raw.close();
          expect(await (await stores.open()).cameras.get('old'))
            .to.include({ model: 'fall' })
            .and.have.deep.property('models', ['fall']);
        });
    });

    describe('validation', () => {
      const base: CameraInput = { source: 'webcam', model: 'fight' };
      const cases: Array<[string, unknown, string]> = [
        ['a bad id', { ...base, id: 'Hall' }, 'camera: id: 1-64 lowercase letters, digits, - and _, starting with a letter or digit'],
        ['an empty source', { ...base, source: '' }, 'camera: source: String must contain at least 1 character(s)'],
        ['a source with a newline', { ...base, source: 'a.mp4\nrm -rf' }, 'camera: source: no control characters'],
        ['a missing model', { source: 'webcam' }, 'camera: model: Required (or models: a list)'],
        ['a bad model name', { ...base, model: '../fight' }, 'camera: model: a model name: lowercase letters, digits, - and _'],
        ['fps over 60', { ...base, fps: 120 }, 'camera: fps: Number must be less than or equal to 60'],
        ['fps zero', { ...base, fps: 0 }, 'camera: fps: Number must be greater than 0'],
        ['loop as a string', { ...base, loop: 'yes' }, 'camera: loop: Expected boolean, received string'],
        [
          'an unknown record mode',
          { ...base, record: { mode: 'always' } },
          "camera: record.mode: Invalid discriminator value. Expected 'off' | 'continuous' | 'events'",
        ],
        [
          'events without labels',
          { ...base, record: { mode: 'events', labels: [] } },
          'camera: record.labels: name at least one label to record',
        ],
        [
          'a fractional segment',
          { ...base, record: { mode: 'continuous', segmentS: 1.5 } },
          'camera: record.segmentS: Expected integer, received float',
        ],
        ['an unknown field', { ...base, url: 'x' }, "camera: (root): Unrecognized key(s) in object: 'url'"],
        [
          'two problems at once',
          { ...base, name: ' ', fps: -1 },
          'camera: name: String must contain at least 1 character(s); fps: Number must be greater than 0',
        ],
      ];
      for (const [what, input, detail] of cases) {
        it(`refuses ${what}`, async () => {
          const store = await stores.open();
          expectCoded(
            await rejection(store.cameras.create(input as CameraInput)),
            'VIGIL_ERR_INVALID_ARGUMENT',
            `invalid argument: ${detail}`,
          );
          expect(await store.cameras.list()).to.deep.equal([]);
        });
      }

      it('refuses a bad patch and leaves the camera as it was', async () => {
        const store = await stores.open();
        const cam = await store.cameras.create({ id: 'hall', source: 'webcam', model: 'fight' });
        expectCoded(
          await rejection(store.cameras.update('hall', { fps: 0 })),
          'VIGIL_ERR_INVALID_ARGUMENT',
          'invalid argument: camera: fps: Number must be greater than 0',
        );
        expectCoded(
          await rejection(store.cameras.update('hall', { id: 'other' })),
          'VIGIL_ERR_INVALID_ARGUMENT',
          'invalid argument: camera id cannot change (hall to other)',
        );
        expect(await store.cameras.get('hall')).to.deep.equal(cam);
      });
    });
  });
}
