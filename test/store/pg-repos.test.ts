/**
 * What only the PostgreSQL store has, against a real server: two nodes at once (cameras, model
 * versions, ending events, the outbox's claim, retention), the open of a node beside others
 * (staging and reconcile), and the server going away. The cases both backends share run on
 * both from test/store/{cameras,events,clips,model-versions}.test.ts; the outbox, which has no
 * repo test of its own, by one run of calls compared with the SQLite outbox's answers.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import type pg from 'pg';
import { openPgStore, openStore, type EventStart, type OutboxRepo, type Store } from '../../src/store/index.js';
import { layoutOf, type Layout } from '../../src/store/paths.js';
import { createPgEventRepo } from '../../src/store/pg/events.js';
import { createPgModelVersionRepo } from '../../src/store/pg/model-versions.js';
import type { AdaptationRecord } from '../../src/model/folder/adaptation-record.js';
import { createPgOutboxRepo } from '../../src/store/pg/outbox.js';
import { connectPostgres } from '../../src/store/pg/connect.js';
import { createPgCameraRepo } from '../../src/store/pg/cameras.js';
import { migratePostgres } from '../../src/store/pg/schema.js';
import { ORPHAN_GRACE_MS } from '../../src/store/pg/reconcile.js';
import { newStagingPath } from '../../src/store/staging.js';
import { expectCoded, rejection } from '../helpers/errors.js';
import { freePort } from '../helpers/mosquitto.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
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

  describe('cameras', () => {
    it('two nodes creating the same camera at once: one wins, the other gets the conflict', async () => {
      const cameras = createPgCameraRepo(pool, Date.now);
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
  });

  describe('model versions', () => {
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
        await sqlite.close();
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

  describe('events', () => {
    let layout: Layout;
    dataDirs((l) => (layout = l));

    it("two nodes ending a camera's active events at once end each once", async () => {
      const events = createPgEventRepo(pool, layout, Date.now);
      const opened = [];
      for (let i = 0; i < 20; i++) opened.push((await events.open(start({ startMs: i }))).id);
      const other = await connectPostgres(server.url, { log });
      try {
        const theirs = createPgEventRepo(other, layout, Date.now);
        const [a, b] = await Promise.all([events.endActive('hall'), theirs.endActive('hall')]);
        const ids = [...a, ...b].map((e) => e.id);
        expect(ids.sort()).to.deep.equal([...opened].sort());
        expect(await events.count({ cameraId: 'hall' })).to.equal(20);
        expect((await events.list()).events.every((e) => e.state === 'ended')).to.equal(true);
      } finally {
        await other.end();
      }
    });
  });

  describe('openPgStore', () => {
    let dataDir = '';
    const opened: Store[] = [];
    const open = async (nodeId: string, now?: () => number) => {
      const store = await openPgStore({ url: server.url, dataDir, nodeId, now, connect: { log } });
      opened.push(store);
      return store;
    };
    beforeEach(() => void (dataDir = mkdtempSync(join(tmpdir(), 'vigil-pg-store-'))));
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const old = (path: string) => utimesSync(path, new Date(Date.now() - 2 * ORPHAN_GRACE_MS), new Date(Date.now() - 2 * ORPHAN_GRACE_MS));

    it('stages per node under staging/<nodeId>/, and a node wipes only its own staging when it opens', async () => {
      const a = await open('node-a');
      const b = await open('node-b');
      expect(a.kind).to.equal('postgres');
      const mine = a.stagingPath('mp4');
      const theirs = b.stagingPath('mp4');
      expect(mine.startsWith(join(dataDir, 'staging', 'node-a') + sep)).to.equal(true);
      writeFileSync(mine, 'half');
      writeFileSync(theirs, 'half');
      await a.close();
      const again = await open('node-a');
      expect(again.reconciled.staging).to.equal(1);
      expect(existsSync(mine)).to.equal(false);
      expect(readFileSync(theirs, 'utf8')).to.equal('half');
      // A staged path of another node is not this node's to adopt.
      expect((await rejection(again.clips.adopt(theirs, { kind: 'upload', name: 'x' }))).code).to.equal('VIGIL_ERR_INVALID_ARGUMENT');
      expectCoded(
        await rejection(openPgStore({ url: server.url, dataDir, nodeId: '../x' })),
        'VIGIL_ERR_INVALID_ARGUMENT',
        'invalid argument: nodeId must be letters, digits, . _ : - (at most 100), starting with a letter or digit',
      );
    });

    it("opens without ending anyone's active events, repairs only its own clips, and leaves young strays to their writers", async () => {
      const a = await open('node-a');
      const b = await open('node-b');
      const active = await b.events.open(start());
      const stage = (s: Store) => {
        const path = s.stagingPath('mp4');
        writeFileSync(path, 'video');
        return path;
      };
      const mineGone = await a.clips.adopt(stage(a), { kind: 'upload', name: 'a' });
      const mineBusy = await a.clips.adopt(stage(a), { kind: 'upload', name: 'b' });
      await a.clips.setStatus(mineBusy.id, 'processing');
      const theirsGone = await b.clips.adopt(stage(b), { kind: 'upload', name: 'c' });
      const theirsBusy = await b.clips.adopt(stage(b), { kind: 'upload', name: 'd' });
      await b.clips.setStatus(theirsBusy.id, 'processing');
      expect(mineGone.node).to.equal('node-a');
      expect(theirsGone.node).to.equal('node-b');
      rmSync(await a.clips.videoPath(mineGone.id));
      rmSync(await a.clips.videoPath(theirsGone.id));
      const clips = join(dataDir, 'clips');
      writeFileSync(join(clips, 'young.mp4'), 'being adopted by someone');
      writeFileSync(join(clips, 'stale.mp4'), 'left over');
      old(join(clips, 'stale.mp4'));
      writeFileSync(join(dataDir, 'snapshots', 'ev_00000000000000aa.jpg'), 'young');
      writeFileSync(join(dataDir, 'snapshots', 'ev_00000000000000bb.jpg'), 'stale');
      old(join(dataDir, 'snapshots', 'ev_00000000000000bb.jpg'));
      await a.close();
      const again = await open('node-a');
      expect(again.reconciled).to.deep.include({
        endedEvents: [],
        missingFiles: [mineGone.id],
        requeued: [mineBusy.id],
        orphanFiles: ['stale.mp4'],
        orphanSnapshots: ['ev_00000000000000bb.jpg'],
      });
      expect(await again.events.get(active.id)).to.deep.include({ state: 'active' });
      expect(await again.clips.get(mineGone.id)).to.equal(undefined);
      expect(await again.clips.get(mineBusy.id)).to.deep.include({ status: 'pending' });
      expect(await again.clips.get(theirsGone.id)).to.deep.include({ node: 'node-b' });
      expect(await again.clips.get(theirsBusy.id)).to.deep.include({ status: 'processing' });
      expect(readdirSync(clips)).to.include('young.mp4');
      expect(readdirSync(join(dataDir, 'snapshots'))).to.deep.equal(['ev_00000000000000aa.jpg']);
    });

    it('retention from two nodes at once removes each recording once, oldest first, and unlinks its file', async () => {
      const clock = manualClock();
      const a = await open('node-a', clock.now);
      const b = await open('node-b', clock.now);
      await a.cameras.create({ id: 'hall', source: 'webcam', model: 'fight' });
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const s = i % 2 ? b : a;
        const path = s.stagingPath('mp4');
        writeFileSync(path, Buffer.alloc(100));
        ids.push((await s.clips.adopt(path, { kind: 'recording', name: `r${i}`, cameraId: 'hall', status: 'ready' })).id);
        clock.advance(60_000);
      }
      const upload = a.stagingPath('mp4');
      writeFileSync(upload, Buffer.alloc(100));
      const kept = await a.clips.adopt(upload, { kind: 'upload', name: 'mine' });
      const [x, y] = await Promise.all([a.applyRetention({ maxBytes: 250 }), b.applyRetention({ maxBytes: 250 })]);
      expect([...x, ...y]).to.deep.equal(ids.slice(0, 4));
      expect(x.length === 0 || y.length === 0, 'one took its turn first and found them gone').to.equal(true);
      expect((await a.clips.list()).map((c) => c.id)).to.deep.equal([kept.id, ids[5], ids[4]]);
      expect(readdirSync(join(dataDir, 'clips')).sort()).to.deep.equal([kept.id, ids[4], ids[5]].map((id) => `${id}.mp4`).sort());
      expect(await a.applyRetention({ maxAgeMs: 0 })).to.deep.equal([ids[4], ids[5]]);
    });

    it('close ends the pool: later calls fail with VIGIL_ERR_STORE, a second close does nothing', async () => {
      const a = await open('node-a');
      await a.close();
      await a.close();
      const e = await rejection(a.cameras.list());
      expect(e.code).to.equal('VIGIL_ERR_STORE');
      expect(e.message).to.match(/^storage failed: PostgreSQL: /);
    });

    it('an unreachable server fails the open with VIGIL_ERR_STORE naming PostgreSQL, the password masked', async () => {
      const url = `postgres://vigil:s3cret@127.0.0.1:${await freePort()}/vigil`;
      const e = await rejection(openPgStore({ url, dataDir, nodeId: 'node-a', connect: { connectTimeoutMs: 500 } }));
      expect(e.code).to.equal('VIGIL_ERR_STORE');
      expect(e.message).to.match(/^storage failed: cannot reach PostgreSQL at postgres:\/\/vigil:\*\*\*@127\.0\.0\.1:\d+\/vigil: /);
      expect(e.message).not.to.contain('s3cret');
    });
  });
});
