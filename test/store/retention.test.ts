import { expect } from 'chai';
import { existsSync, writeFileSync } from 'node:fs';
import { expectCoded, rejection } from '../helpers/errors.js';
import type { ClipKind, Store } from '../../src/store/index.js';
import { manualClock, tempStores } from './temp-dir.js';

const HOUR = 3_600_000;

async function add(store: Store, kind: ClipKind, name: string, bytes: number): Promise<string> {
  const path = store.stagingPath('mp4');
  writeFileSync(path, Buffer.alloc(bytes));
  return (await store.clips.adopt(path, { kind, name, cameraId: kind === 'recording' ? 'cam' : null })).id;
}

describe('store retention', () => {
  const stores = tempStores();

  /** r0..r3 recordings of 100 bytes an hour apart, an old 1000-byte upload among them; clock then at +4 h. */
  async function fill(): Promise<{ store: Store; ids: Record<string, string>; clock: ReturnType<typeof manualClock> }> {
    const clock = manualClock();
    const store = stores.open({ now: clock.now });
    await store.cameras.create({ id: 'cam', source: 'webcam', model: 'fight' });
    const ids: Record<string, string> = {};
    ids.u = await add(store, 'upload', 'u', 1000);
    for (const name of ['r0', 'r1', 'r2', 'r3']) {
      ids[name] = await add(store, 'recording', name, 100);
      clock.advance(HOUR);
    }
    return { store, ids, clock };
  }

  it('removes recordings older than maxAgeMs, files included, never uploads', async () => {
    const { store, ids } = await fill();
    const files = { r0: await store.clips.videoPath(ids.r0), r1: await store.clips.videoPath(ids.r1) };
    // r0 is 4 h old, r1 3 h, r2 2 h, r3 1 h.
    expect(await store.applyRetention({ maxAgeMs: 2.5 * HOUR })).to.deep.equal([ids.r0, ids.r1]);
    expect(existsSync(files.r0) || existsSync(files.r1)).to.equal(false);
    expect((await store.clips.list()).map((c) => c.name)).to.deep.equal(['r3', 'r2', 'u']);
    expect(await store.applyRetention({ maxAgeMs: 2.5 * HOUR })).to.deep.equal([]);
    // Exactly as old as the limit stays.
    expect(await store.applyRetention({ maxAgeMs: 2 * HOUR })).to.deep.equal([]);
  });

  it('removes the oldest recordings until recordings total maxBytes, whatever the uploads weigh', async () => {
    const { store, ids } = await fill();
    expect(await store.applyRetention({ maxBytes: 250 })).to.deep.equal([ids.r0, ids.r1]);
    expect((await store.clips.list()).map((c) => c.name)).to.deep.equal(['r3', 'r2', 'u']);
    expect(await store.applyRetention({ maxBytes: 200 })).to.deep.equal([]);
    expect(await store.applyRetention({ maxBytes: 0 })).to.deep.equal([ids.r2, ids.r3]);
    expect((await store.clips.list()).map((c) => c.name)).to.deep.equal(['u']);
  });

  it('applies age, then size, and spares clips being labelled', async () => {
    const { store, ids, clock } = await fill();
    await store.clips.setStatus(ids.r1, 'processing');
    clock.advance(HOUR);
    // Age: r0 (5 h) goes, r1 (4 h) is processing; size: 300 bytes left > 150, so r2 goes, then r3.
    expect(await store.applyRetention({ maxAgeMs: 3.5 * HOUR, maxBytes: 150 })).to.deep.equal([ids.r0, ids.r2, ids.r3]);
    expect((await store.clips.list()).map((c) => c.name)).to.deep.equal(['r1', 'u']);
  });

  it('refuses a bad policy', async () => {
    const store = stores.open();
    expectCoded(
      await rejection(store.applyRetention({ maxAgeMs: -1 })),
      'VIGIL_ERR_INVALID_ARGUMENT',
      'invalid argument: retention maxAgeMs must be a number >= 0, got -1',
    );
    expectCoded(
      await rejection(store.applyRetention({ maxBytes: 1.5 })),
      'VIGIL_ERR_INVALID_ARGUMENT',
      'invalid argument: retention maxBytes must be an integer >= 0, got 1.5',
    );
    expect(await store.applyRetention({})).to.deep.equal([]);
  });
});
