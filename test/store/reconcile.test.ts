import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expectCoded, rejection, thrown } from '../helpers/errors.js';
import { setLogLevel } from '../../src/log.js';
import { SCHEMA_VERSION } from '../../src/store/db.js';
import { openStore, type Store } from '../../src/store/index.js';
import { tempStores } from './temp-dir.js';

/** Runs `fn` with info logging on, returning what it wrote to stderr, line by line. */
function logsOf<T>(fn: () => T): { result: T; lines: string[] } {
  const lines: string[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- saved and restored, not called
  const write = process.stderr.write;
  process.stderr.write = (chunk: string) => (lines.push(...chunk.trimEnd().split('\n')), true);
  setLogLevel('info');
  try {
    return { result: fn(), lines };
  } finally {
    process.stderr.write = write;
    setLogLevel('warn');
  }
}

async function upload(store: Store, name: string): Promise<string> {
  const path = store.stagingPath('mp4');
  writeFileSync(path, name);
  return (await store.clips.adopt(path, { kind: 'upload', name })).id;
}

describe('store reconcile', () => {
  const stores = tempStores();

  it('a fresh directory needs nothing repaired', () => {
    const store = stores.open();
    expect(store.reconciled).to.deep.equal({
      staging: 0,
      orphanFiles: [],
      missingFiles: [],
      requeued: [],
      endedEvents: [],
      orphanSnapshots: [],
      orphanModels: [],
      missingModels: [],
    });
    expect(readdirSync(stores.dir()).sort()).to.deep.equal(['clips', 'models', 'snapshots', 'staging', 'vigil.db', 'vigil.db-wal']);
  });

  it('repairs what a crash can leave: staged files, files without rows, rows without files, clips mid-labelling', async () => {
    const first = stores.open();
    const kept = await upload(first, 'kept');
    const labelling = await upload(first, 'labelling');
    const lost = await upload(first, 'lost');
    await first.clips.setStatus(labelling, 'processing');
    // A crash mid-upload or mid-recording: partial files in staging, also inside a segment folder.
    writeFileSync(first.stagingPath('mp4'), 'half an upl');
    mkdirSync(join(first.dataDir, 'staging', 'abc-dir'));
    writeFileSync(join(first.dataDir, 'staging', 'abc-dir', 'seg-000001.mp4'), 'half a segment');
    // A crash between the rename into clips/ and the commit: a file without a row.
    writeFileSync(join(first.dataDir, 'clips', 'clp_0m6k0000000000000000001.mp4'), 'orphan');
    writeFileSync(join(first.dataDir, 'clips', 'stray.tmp'), 'junk');
    // A file lost under a row (deleted by hand, or a rename the disk never persisted).
    rmSync(await first.clips.videoPath(lost));
    await first.close();

    const { result: second, lines } = logsOf(() => stores.open());
    expect(lines).to.deep.equal([
      `vigil info: store: deleted 2 unfinished file(s) from ${join(second.dataDir, 'staging')}`,
      `vigil warn: store: 1 clip(s) had no video file and were removed: ${lost}`,
      'vigil info: store: 1 clip(s) interrupted while labelling are pending again',
      `vigil warn: store: deleted 2 file(s) without a clip from ${join(second.dataDir, 'clips')}: clp_0m6k0000000000000000001.mp4, stray.tmp`,
    ]);
    expect(second.reconciled).to.deep.equal({
      staging: 2,
      orphanFiles: ['clp_0m6k0000000000000000001.mp4', 'stray.tmp'],
      missingFiles: [lost],
      requeued: [labelling],
      endedEvents: [],
      orphanSnapshots: [],
      orphanModels: [],
      missingModels: [],
    });
    expect(readdirSync(join(second.dataDir, 'staging'))).to.deep.equal([]);
    expect(readdirSync(join(second.dataDir, 'clips')).sort()).to.deep.equal([`${kept}.mp4`, `${labelling}.mp4`]);
    expect((await second.clips.list()).map((c) => [c.name, c.status])).to.deep.equal([
      ['labelling', 'pending'],
      ['kept', 'pending'],
    ]);
    expect(await second.clips.get(lost)).to.equal(undefined);
    await second.close();
    expect(stores.open().reconciled).to.deep.equal({
      staging: 0,
      orphanFiles: [],
      missingFiles: [],
      requeued: [],
      endedEvents: [],
      orphanSnapshots: [],
      orphanModels: [],
      missingModels: [],
    });
  });

  it('a row whose file was replaced by a folder counts as missing', async () => {
    const first = stores.open();
    const id = await upload(first, 'x');
    const file = await first.clips.videoPath(id);
    await first.close();
    rmSync(file);
    mkdirSync(file);
    const second = logsOf(() => stores.open()).result;
    expect(second.reconciled.missingFiles).to.deep.equal([id]);
    expect(second.reconciled.orphanFiles).to.deep.equal([`${id}.mp4`]);
    expect(existsSync(file)).to.equal(false);
  });

  describe('database failures', () => {
    it('a file that is not a database gives VIGIL_ERR_STORE naming it, not a crash', () => {
      const db = join(stores.dir(), 'vigil.db');
      writeFileSync(db, 'these are my notes, not a database\n'.repeat(10));
      expectCoded(
        thrown(() => openStore(stores.dir())),
        'VIGIL_ERR_STORE',
        `storage failed: ${db}: file is not a database (move the file away to start with an empty store)`,
      );
    });

    it('a second server on the same directory is refused while the first has it open', async () => {
      const first = stores.open();
      const db = join(first.dataDir, 'vigil.db');
      expectCoded(
        thrown(() => openStore(stores.dir())),
        'VIGIL_ERR_STORE',
        `storage failed: ${db}: database is locked (is another vigil server using this data directory?)`,
      );
      // The refused open must not have touched the first one's state.
      await first.cameras.create({ id: 'still-works', source: 'webcam', model: 'fight' });
      await first.close();
      expect((await stores.open().cameras.list()).map((c) => c.id)).to.deep.equal(['still-works']);
    });

    it('a database from a newer vigil is refused', async () => {
      await stores.open().close();
      const db = join(stores.dir(), 'vigil.db');
      const raw = new Database(db);
      raw.pragma('user_version = 99');
      raw.close();
      expectCoded(
        thrown(() => openStore(stores.dir())),
        'VIGIL_ERR_STORE',
        `storage failed: ${db}: schema version 99 is newer than this vigil understands (${SCHEMA_VERSION})`,
      );
    });

    it('calls after close fail with VIGIL_ERR_STORE', async () => {
      const store = stores.open();
      await store.close();
      await store.close();
      const err = await rejection(store.cameras.list());
      expect(err).to.include({ code: 'VIGIL_ERR_STORE' });
      expect((err as Error).message).to.equal(`storage failed: ${join(store.dataDir, 'vigil.db')}: The database connection is not open`);
    });

    it('a data directory that cannot be created gives VIGIL_ERR_STORE', () => {
      // A file where a folder should be fails for root too, unlike a permission bit.
      const file = join(stores.dir(), 'a-file');
      writeFileSync(file, '');
      expectCoded(
        thrown(() => openStore(join(file, 'data'))),
        'VIGIL_ERR_STORE',
        `storage failed: ${join(file, 'data')}: ENOTDIR: not a directory, mkdir '${join(file, 'data')}'`,
      );
    });

    it('keeps the schema across reopen (migrations run once)', async () => {
      await stores.open().close();
      const raw = new Database(join(stores.dir(), 'vigil.db'));
      expect(raw.pragma('user_version', { simple: true })).to.equal(SCHEMA_VERSION);
      expect(raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all()).to.deep.equal([
        { name: 'cameras' },
        { name: 'clips' },
        { name: 'events' },
        { name: 'model_live' },
        { name: 'model_versions' },
        { name: 'outbox' },
        // AUTOINCREMENT's counter (events', the outbox's and the model versions' seq)
        { name: 'sqlite_sequence' },
      ]);
      raw.close();
      expect(await stores.open().cameras.list()).to.deep.equal([]);
    });
  });

  it('the write order keeps a row from ever pointing at a missing file', async () => {
    // adopt renames before its commit; simulate the commit never happening by renaming back.
    const store = stores.open();
    const id = await upload(store, 'x');
    const file = await store.clips.videoPath(id);
    renameSync(file, `${file}.moved`);
    await store.close();
    const again = logsOf(() => stores.open()).result;
    expect(again.reconciled.missingFiles).to.deep.equal([id]);
    expect(again.reconciled.orphanFiles).to.deep.equal([`${id}.mp4.moved`]);
  });
});
