import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cameraReviews } from '../../src/events/reviews.js';
import type { AdaptationRecord } from '../../src/model/folder/adaptation-record.js';
import { readManifest } from '../../src/model/folder/model-folder.js';
import type { Store } from '../../src/store/index.js';
import { SHIPPED_MODELS_DIR } from '../../src/model/folder/paths.js';
import { expectCoded, rejection } from '../helpers/errors.js';
import { storeBackends } from '../helpers/store-backends.js';
import { manualClock } from './temp-dir.js';

const RECORD = { from: 'fight@1.0.0', accepted: true } as unknown as AdaptationRecord;

/** A model folder written in staging, as the adaptation job writes one. */
function staged(store: Store, text = 'weights'): string {
  const dir = store.stagingPath('');
  mkdirSync(dir);
  writeFileSync(join(dir, 'manifest.json'), text);
  return dir;
}

for (const backend of storeBackends()) {
  describe(`store: model versions (${backend.name})`, () => {
    const stores = backend.stores();

    it('adds versions under models/<camera>/, makes one live, rolls back to the one before and then to the shipped model', async () => {
      const clock = manualClock();
      const store = await stores.open({ now: clock.now });
      await store.cameras.create({ id: 'hall', source: '/x.mp4', model: 'fight' });
      expect(await store.models.live('hall', 'fight')).to.equal(undefined);
      expect(await store.models.lastAdaptedAtMs('hall', 'fight')).to.equal(0);
      const a = await store.models.add(staged(store, 'a'), {
        cameraId: 'hall',
        model: 'fight',
        version: '1.1.0',
        accepted: true,
        record: RECORD,
      });
      clock.advance(1000);
      // Adapted again from the shipped model: the same version, a folder of its own.
      const b = await store.models.add(staged(store, 'b'), {
        cameraId: 'hall',
        model: 'fight',
        version: '1.1.0',
        accepted: false,
        record: RECORD,
      });
      expect(a.folder).to.equal(join(stores.dir(), 'models', 'hall', 'fight-1.1.0'));
      expect(b.folder).to.equal(join(stores.dir(), 'models', 'hall', 'fight-1.1.0-2'));
      expect(readFileSync(join(b.folder, 'manifest.json'), 'utf8')).to.equal('b');
      expect(b).to.deep.include({ cameraId: 'hall', model: 'fight', version: '1.1.0', accepted: false, live: false, record: RECORD });
      expect(await store.models.lastAdaptedAtMs('hall', 'fight')).to.equal(clock.now());

      expect((await store.models.setLive('hall', 'fight', a.id))?.live).to.equal(true);
      expect((await store.models.setLive('hall', 'fight', b.id))?.id).to.equal(b.id);
      expect(await store.models.liveFolder('hall', 'fight')).to.equal(b.folder);
      expect((await store.models.list('hall')).map((v) => v.live)).to.deep.equal([false, true]);
      expect((await store.models.rollback('hall', 'fight'))?.id).to.equal(a.id);
      expect(await store.models.rollback('hall', 'fight')).to.equal(undefined);
      expectCoded(
        await rejection(store.models.rollback('hall', 'fight')),
        'VIGIL_ERR_CONFLICT',
        'conflict: camera hall runs the shipped fight already: nothing to roll back',
      );
      expectCoded(
        await rejection(store.models.setLive('hall', 'fall', a.id)),
        'VIGIL_ERR_NOT_FOUND',
        `not found: version ${a.id} of fall on camera hall`,
      );
      expectCoded(
        await rejection(
          store.models.add(staged(store), { cameraId: 'nope', model: 'fight', version: '1.1.0', accepted: true, record: RECORD }),
        ),
        'VIGIL_ERR_NOT_FOUND',
        'not found: camera nope',
      );
    });

    // SQLite's reconcile; PostgreSQL's leaves young strays to their writer (pg-repos.test.ts).
    if (backend.name === 'sqlite')
      it('persists across a reopen; deleting the camera deletes its versions and folders; reconcile drops strays', async () => {
        let store = await stores.open();
        await store.cameras.create({ id: 'hall', source: '/x.mp4', model: 'fight' });
        const a = await store.models.add(staged(store), {
          cameraId: 'hall',
          model: 'fight',
          version: '1.1.0',
          accepted: true,
          record: RECORD,
        });
        const b = await store.models.add(staged(store), {
          cameraId: 'hall',
          model: 'fight',
          version: '1.2.0',
          accepted: true,
          record: RECORD,
        });
        await store.models.setLive('hall', 'fight', a.id);
        await store.models.setLive('hall', 'fight', b.id);
        await store.close();
        // A folder whose row never committed, and a row whose folder someone deleted.
        mkdirSync(join(stores.dir(), 'models', 'hall', 'fight-9.9.0'));
        writeFileSync(join(stores.dir(), 'models', 'hall', 'fight-9.9.0', 'x'), '');
        rmSync(b.folder, { recursive: true });
        store = await stores.open();
        expect(store.reconciled).to.deep.include({ orphanModels: ['hall/fight-9.9.0'], missingModels: ['models/hall/fight-1.2.0'] });
        // The live one lost its folder: the one before it is live again.
        expect((await store.models.live('hall', 'fight'))?.id).to.equal(a.id);
        expect(await store.cameras.remove('hall')).to.equal(true);
        expect(await store.models.list('hall')).to.deep.equal([]);
        expect(existsSync(join(stores.dir(), 'models', 'hall'))).to.equal(false);
      });

    it("turns a camera's reviewed events into reviews in clip time, counting those without a clip and those since the last adaptation", async () => {
      const clock = manualClock();
      const store = await stores.open({ now: clock.now });
      await store.cameras.create({ id: 'hall', source: '/x.mp4', model: 'fight' });
      const path = store.stagingPath('mp4');
      writeFileSync(path, 'video');
      const t0 = 1_700_000_000_000;
      const clip = await store.clips.adopt(path, {
        kind: 'recording',
        cameraId: 'hall',
        name: 'rec',
        startedAtMs: t0,
        durationMs: 10_000,
        status: 'ready',
      });
      const event = async (fromS: number, toS: number, model = 'fight') => {
        const e = await store.events.open({
          cameraId: 'hall',
          model,
          label: model,
          startMs: fromS * 1000,
          endMs: toS * 1000,
          startedAtMs: t0 + fromS * 1000,
          endedAtMs: t0 + toS * 1000,
          peak: 0.9,
          mean: 0.8,
        });
        return await store.events.end(e.id, { endMs: toS * 1000, endedAtMs: t0 + toS * 1000, peak: 0.9, mean: 0.8 });
      };
      const fight = await event(2, 4);
      const alarm = await event(6, 12);
      const gone = await event(30, 31);
      await event(1, 2); // unreviewed
      await event(3, 4, 'fall');
      await store.events.linkClip('hall', clip.id, t0, t0 + 10_000);
      await store.events.review(fight.id, { state: 'confirmed' });
      await store.events.review(alarm.id, { state: 'false_alarm' });
      await store.models.add(staged(store), { cameraId: 'hall', model: 'fight', version: '1.1.0', accepted: true, record: RECORD });
      clock.advance(1);
      await store.events.review(gone.id, { state: 'false_alarm' });

      const manifest = readManifest(join(SHIPPED_MODELS_DIR, 'fight'));
      const got = await cameraReviews(store, 'hall', manifest);
      const video = await store.clips.videoPath(clip.id);
      expect(got).to.deep.equal({
        reviews: [
          { id: gone.id, clip: '', label: 'no_fight' },
          { id: alarm.id, clip: video, label: 'no_fight', startMs: 6000, endMs: 10_000 },
          { id: fight.id, clip: video, label: 'fight', startMs: 2000, endMs: 4000 },
        ],
        withoutClip: 1,
        sinceAdapted: 1,
      });
    });
  });
}
