import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectCoded, rejection } from '../helpers/errors.js';
import type { EventStart, Store } from '../../src/store/index.js';
import { storeBackends } from '../helpers/store-backends.js';
import { manualClock } from './temp-dir.js';

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

async function recording(store: Store, startedAtMs: number, durationMs: number): Promise<string> {
  await store.cameras.create({ id: 'hall', source: '/x.mp4', model: 'fight' });
  const path = store.stagingPath('mp4');
  writeFileSync(path, 'video');
  return (await store.clips.adopt(path, { kind: 'recording', cameraId: 'hall', name: 'rec', startedAtMs, durationMs, status: 'ready' })).id;
}

for (const backend of storeBackends()) {
  describe(`store: events (${backend.name})`, () => {
    const stores = backend.stores();

    it('opens an active event, moves it on, ends it, and reads it back the same', async () => {
      const store = await stores.open();
      const e = await store.events.open(start());
      expect(e.id).to.match(/^ev_[0-9a-f]{16}$/);
      expect(e).to.deep.equal({
        ...start(),
        id: e.id,
        state: 'active',
        snapshot: false,
        clipId: null,
        review: { state: 'unreviewed' },
      });
      await store.events.progress(e.id, { endMs: 3000, endedAtMs: 1_700_000_003_000, peak: 0.9, mean: 0.7 });
      expect(await store.events.get(e.id)).to.deep.include({ endMs: 3000, peak: 0.9, state: 'active' });
      const ended = await store.events.end(e.id, { endMs: 2900, endedAtMs: 1_700_000_002_900, peak: 0.88, mean: 0.69 });
      expect(ended).to.deep.include({ endMs: 2900, peak: 0.88, mean: 0.69, state: 'ended' });
      // An ended event takes no more progress: a late frame cannot reopen it.
      await store.events.progress(e.id, { endMs: 5000, endedAtMs: 1_700_000_005_000, peak: 1, mean: 1 });
      expect(await store.events.get(e.id)).to.deep.equal(ended);
    });

    it('lists newest first with filters, and pages with a cursor that skips nothing', async () => {
      const store = await stores.open();
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        ids.push(
          (await store.events.open(start({ cameraId: i % 2 ? 'yard' : 'hall', startedAtMs: 1000 * i, label: i < 5 ? 'fight' : 'falling' })))
            .id,
        );
      }
      await store.events.review(ids[3], { state: 'confirmed' });
      const all = await store.events.list();
      expect(all.events.map((e) => e.id)).to.deep.equal([...ids].reverse());
      expect(all.next).to.equal(null);
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await store.events.list({ limit: 3, cursor });
        pages.push(page.events.map((e) => e.id));
        cursor = page.next ?? undefined;
      } while (cursor);
      expect(pages.map((p) => p.length)).to.deep.equal([3, 3, 1]);
      expect(pages.flat()).to.deep.equal([...ids].reverse());
      expect((await store.events.list({ cameraId: 'yard' })).events.map((e) => e.id)).to.deep.equal([ids[5], ids[3], ids[1]]);
      expect((await store.events.list({ label: 'falling' })).events.map((e) => e.id)).to.deep.equal([ids[6], ids[5]]);
      expect((await store.events.list({ review: 'confirmed' })).events.map((e) => e.id)).to.deep.equal([ids[3]]);
      expect((await store.events.list({ review: 'unreviewed' })).events).to.have.length(6);
      expect((await store.events.list({ after: 2000, before: 4000 })).events.map((e) => e.id)).to.deep.equal([ids[3], ids[2]]);
      expect((await store.events.list({ model: 'fall' })).events).to.deep.equal([]);
      expectCoded(
        await rejection(store.events.list({ cursor: 'abc' })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: event query: cursor: the next of a previous page',
      );
      expectCoded(
        await rejection(store.events.list({ review: 'maybe' as never })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        "invalid argument: event query: review: Invalid enum value. Expected 'unreviewed' | 'confirmed' | 'false_alarm', received 'maybe'",
      );
    });

    it('prunes ended, unconfirmed events by age and beyond the newest `keep`, with their snapshots; confirmed and active ones stay', async () => {
      const store = await stores.open();
      // Six events ending 1 s apart: the oldest confirmed, the newest still active.
      const ids: string[] = [];
      for (const i of [0, 1, 2, 3, 4, 5]) {
        const e = await store.events.open(start({ startedAtMs: 1_000_000 + i * 1000, endedAtMs: 1_000_100 + i * 1000 }));
        if (i < 5) await store.events.end(e.id, { endMs: 2200, endedAtMs: 1_000_500 + i * 1000, peak: 0.7, mean: 0.6 });
        await store.events.saveSnapshot(e.id, Buffer.from([0xff, 0xd8, i, 0xff, 0xd9]));
        ids.push(e.id);
      }
      await store.events.review(ids[0], { state: 'confirmed' });
      const file = (id: string) => join(stores.dir(), 'snapshots', `${id}.jpg`);
      // Ended before 1 002 000: events 0 (confirmed: kept) and 1.
      expect(await store.events.prune({ beforeMs: 1_002_000 })).to.deep.equal([ids[1]]);
      expect(existsSync(file(ids[1]))).to.equal(false);
      // Keep the newest 2 of what is left (0, 2, 3, 4, 5): 2 and 3 go; 0 is confirmed.
      expect(await store.events.prune({ keep: 2 })).to.deep.equal([ids[2], ids[3]]);
      expect((await store.events.list()).events.map((e) => e.id)).to.deep.equal([ids[5], ids[4], ids[0]]);
      expect(existsSync(file(ids[4])) && existsSync(file(ids[0]))).to.equal(true);
      expect(await store.events.prune({ keep: 0 })).to.deep.equal([ids[4]]); // never the active one
      expect(await store.events.prune({ keep: 0 })).to.deep.equal([]);
    });

    it('reviews with a note and who, and refuses a state that is not one of the three', async () => {
      const clock = manualClock();
      const store = await stores.open({ now: clock.now });
      const { id } = await store.events.open(start());
      expect((await store.events.review(id, { state: 'false_alarm', note: 'a hug\nnot a fight', by: 'ana' })).review).to.deep.equal({
        state: 'false_alarm',
        note: 'a hug\nnot a fight',
        by: 'ana',
        atMs: clock.now(),
      });
      expectCoded(
        await rejection(store.events.review(id, { state: 'wrong' as never })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        "invalid argument: review: state: Invalid enum value. Expected 'unreviewed' | 'confirmed' | 'false_alarm', received 'wrong'",
      );
      expectCoded(
        await rejection(store.events.review('ev_0000000000000000', { state: 'confirmed' })),
        'VIGIL_ERR_NOT_FOUND',
        'not found: event ev_0000000000000000',
      );
      expectCoded(
        await rejection(store.events.get('../../etc/passwd')),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: event id must look like ev_0f1e2d3c4b5a6978, got "../../etc/passwd"',
      );
    });

    it('keeps a snapshot as a whole file, replaces it, and deletes it with its event', async () => {
      const store = await stores.open();
      const { id } = await store.events.open(start());
      expectCoded(await rejection(store.events.snapshotPath(id)), 'VIGIL_ERR_NOT_FOUND', `not found: event ${id} has no snapshot (yet)`);
      expect(await store.events.saveSnapshot(id, Buffer.from('first'))).to.equal(true);
      expect(await store.events.saveSnapshot(id, Buffer.from('second'))).to.equal(true);
      const path = await store.events.snapshotPath(id);
      expect(path).to.equal(join(stores.dir(), 'snapshots', `${id}.jpg`));
      expect(readFileSync(path, 'utf8')).to.equal('second');
      expect(readdirSync(stores.stagingDir())).to.deep.equal([]);
      expect((await store.events.get(id))?.snapshot).to.equal(true);
      expect(await store.events.remove(id)).to.equal(true);
      expect(existsSync(path)).to.equal(false);
      expect(await store.events.remove(id)).to.equal(false);
      expect(await store.events.saveSnapshot(id, Buffer.from('late'))).to.equal(false);
      expect(readdirSync(join(stores.dir(), 'snapshots'))).to.deep.equal([]);
    });

    it('links a recording that overlaps an event, and unlinks it when retention removes the clip; the event stays', async () => {
      const store = await stores.open();
      const e = await store.events.open(start({ startedAtMs: 10_000, endedAtMs: 12_000 }));
      const other = await store.events.open(start({ startedAtMs: 50_000, endedAtMs: 52_000 }));
      const clipId = await recording(store, 9_000, 2_000);
      expect((await store.events.linkClip('hall', clipId, 9_000, 11_000)).map((x) => x.id)).to.deep.equal([e.id]);
      expect((await store.events.get(e.id))?.clipId).to.equal(clipId);
      expect((await store.events.get(other.id))?.clipId).to.equal(null);
      // Already linked: a second clip over the same time does not take it.
      expect(await store.events.linkClip('hall', clipId, 9_000, 11_000)).to.deep.equal([]);
      await store.clips.remove(clipId);
      await store.cameras.remove('hall');
      expect(await store.events.get(e.id)).to.deep.include({ clipId: null, cameraId: 'hall' });
    });

    it('an open given its id is one event however often it is tried; another start cannot take the id', async () => {
      const store = await stores.open();
      const id = 'ev_00000000000000aa';
      const first = await store.events.open(start(), id);
      expect(first).to.deep.include({ id, state: 'active', cameraId: 'hall' });
      // The same open again (its first try committed, but its answer was lost).
      expect(await store.events.open(start(), id)).to.deep.equal(first);
      expect((await store.events.list()).events.map((e) => e.id)).to.deep.equal([id]);
      expectCoded(
        await rejection(store.events.open(start({ cameraId: 'yard' }), id)),
        'VIGIL_ERR_CONFLICT',
        `conflict: event ${id} exists already, for another start`,
      );
      expectCoded(
        await rejection(store.events.open(start(), 'nope')),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: event id must look like ev_0f1e2d3c4b5a6978, got "nope"',
      );
    });

    it("endActive ends a camera's active events at their stored figures, once, and leaves other cameras' alone", async () => {
      const store = await stores.open();
      const a = await store.events.open(start());
      await store.events.progress(a.id, { endMs: 4000, endedAtMs: 1_700_000_004_000, peak: 0.9, mean: 0.8 });
      const b = await store.events.open(start({ label: 'falling' }));
      const done = await store.events.open(start());
      await store.events.end(done.id, { endMs: 3000, endedAtMs: 1_700_000_003_000, peak: 0.7, mean: 0.6 });
      const yard = await store.events.open(start({ cameraId: 'yard' }));
      const ended = await store.events.endActive('hall');
      expect(ended.map((e) => e.id)).to.deep.equal([a.id, b.id]);
      expect(ended[0]).to.deep.equal({ ...(await store.events.get(a.id))!, state: 'ended' });
      expect(ended[0]).to.deep.include({ state: 'ended', endMs: 4000, endedAtMs: 1_700_000_004_000, peak: 0.9, mean: 0.8 });
      expect(ended[1]).to.deep.include({ state: 'ended', endMs: 2125, peak: 0.6, mean: 0.55 });
      expect(await store.events.get(done.id)).to.deep.include({ state: 'ended', endMs: 3000 });
      expect(await store.events.get(yard.id)).to.deep.include({ state: 'active' });
      expect(await store.events.endActive('hall')).to.deep.equal([]);
      expect(await store.events.endActive('nobody')).to.deep.equal([]);
      // The old runner, cut off, ends it late: the first end stands.
      expectCoded(
        await rejection(store.events.end(a.id, { endMs: 9000, endedAtMs: 1_700_000_009_000, peak: 1, mean: 1 })),
        'VIGIL_ERR_CONFLICT',
        `conflict: event ${a.id} has ended already`,
      );
      expect(await store.events.get(a.id)).to.deep.include({ endMs: 4000, peak: 0.9 });
      expectCoded(
        await rejection(store.events.end('ev_0000000000000000', { endMs: 1, endedAtMs: 1, peak: 1, mean: 1 })),
        'VIGIL_ERR_NOT_FOUND',
        'not found: event ev_0000000000000000',
      );
      expectCoded(
        await rejection(store.events.endActive('Hall')),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: camera id must be 1-64 lowercase letters, digits, - or _ (starting with a letter or digit), got "Hall"',
      );
    });

    // SQLite's crash recovery of its one process; a PostgreSQL node ends no other node's events (pg-repos.test.ts).
    if (backend.name === 'sqlite')
      it('after a crash: an active event is ended where it had got, a snapshot file decides the flag, a stray snapshot goes', async () => {
        const first = await stores.open();
        const cut = await first.events.open(start());
        await first.events.progress(cut.id, { endMs: 4000, endedAtMs: 1_700_000_004_000, peak: 0.9, mean: 0.8 });
        const done = await first.events.open(start());
        await first.events.end(done.id, { endMs: 3000, endedAtMs: 1_700_000_003_000, peak: 0.7, mean: 0.6 });
        await first.events.saveSnapshot(done.id, Buffer.from('jpeg'));
        // A rename that landed before its row was flagged, and a file whose row is gone.
        writeFileSync(join(stores.dir(), 'snapshots', `${cut.id}.jpg`), 'jpeg');
        writeFileSync(join(stores.dir(), 'snapshots', 'ev_00000000000000aa.jpg'), 'jpeg');
        await first.close();
        const second = await stores.open();
        expect(second.reconciled).to.deep.include({ endedEvents: [cut.id], orphanSnapshots: ['ev_00000000000000aa.jpg'] });
        expect(await second.events.get(cut.id)).to.deep.include({
          state: 'ended',
          endMs: 4000,
          endedAtMs: 1_700_000_004_000,
          snapshot: true,
        });
        expect(await second.events.get(done.id)).to.deep.include({ state: 'ended', endMs: 3000, snapshot: true });
        expect((await second.events.list()).events).to.have.length(2);
      });
  });
}
