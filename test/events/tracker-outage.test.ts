/**
 * The event tracker when its store goes away: a PostgreSQL stopped mid-event and started again
 * within the retry bound loses nothing and doubles nothing; one gone for longer than the bound
 * costs the writes of that outage only (logged), and the tracker works again once it is back.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { createEventTracker, type EventTracker } from '../../src/events/tracker.js';
import type { EventChange } from '../../src/events/types.js';
import { layoutOf } from '../../src/store/paths.js';
import { connectPostgres } from '../../src/store/pg/connect.js';
import { createPgEventRepo } from '../../src/store/pg/events.js';
import { migratePostgres } from '../../src/store/pg/schema.js';
import type { SegmentEvent } from '../../src/timeline/segments.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

const WALL0 = 1_700_000_000_000;
const segment = (startMs: number, endMs: number, peak = 0.9) => ({ label: 'fight', startMs, endMs, confidence: peak / 2, peak });

describe('events: tracker on a PostgreSQL that goes away', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let pool: pg.Pool;
  let dir: string;
  const log = { warn: () => undefined };

  before(async () => {
    server = await startPostgres();
    pool = await connectPostgres(server.url, { log });
    await migratePostgres(pool);
  });
  after(async () => {
    await pool?.end();
    await server?.dispose();
  });
  beforeEach(async () => {
    await pool.query('TRUNCATE events');
    dir = mkdtempSync(join(tmpdir(), 'vigil-tracker-outage-'));
    mkdirSync(join(dir, 'snapshots'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function tracker(retryForMs: number): {
    t: EventTracker;
    changes: EventChange[];
    push: (events: SegmentEvent[], tMs: number) => Promise<void>;
  } {
    const changes: EventChange[] = [];
    const t = createEventTracker({
      cameraId: 'hall',
      model: 'fight',
      rule: { labels: ['fight'], minDurationMs: 0, minConfidence: 0 },
      repo: createPgEventRepo(pool, layoutOf(dir), Date.now),
      snapshot: () => undefined,
      onChange: (c) => changes.push(c),
      retryForMs,
    });
    return { t, changes, push: (events, tMs) => t.push(events, { tMs, wallMs: WALL0 + tMs }) };
  }

  it('a restart within the bound: the frames wait, then every write lands in order, the event ends once', async () => {
    const { changes, push } = tracker(30_000);
    await push([{ type: 'start', segment: segment(0, 0) }], 0);
    await server.stop();
    // Frames go on while the server is down: pushed without waiting, as the camera does.
    const pending = [1, 2, 3].map((i) => push([{ type: 'update', segment: segment(0, i * 125) }], i * 125));
    const ended = push([{ type: 'end', segment: segment(0, 500, 0.95) }], 500);
    await new Promise((r) => setTimeout(r, 500));
    await server.start();
    await Promise.all([...pending, ended]);
    expect(changes.map((c) => c.type)).to.deep.equal(['start', 'end']);
    const { rows } = await pool.query<{ n: number }>('SELECT COUNT(*) AS n FROM events');
    expect(rows[0].n).to.equal(1);
    const stored = (await pool.query('SELECT state, end_ms, peak FROM events')).rows[0] as Record<string, unknown>;
    expect(stored).to.deep.equal({ state: 'ended', end_ms: 500, peak: 0.95 });
  });

  it('past the bound the outage’s writes are given up, later ones tried once each, and the next event is stored', async () => {
    const { changes, push } = tracker(300);
    await server.stop();
    const t0 = Date.now();
    await push([{ type: 'start', segment: segment(0, 0) }], 0);
    await push([{ type: 'end', segment: segment(0, 125) }], 125);
    // The first write spent the bound; the second was tried once.
    expect(Date.now() - t0).to.be.below(3000);
    expect(changes).to.deep.equal([]);
    await server.start();
    await push([{ type: 'start', segment: segment(1000, 1000) }], 1000);
    await push([{ type: 'end', segment: segment(1000, 1250) }], 1250);
    expect(changes.map((c) => [c.type, c.event.startMs])).to.deep.equal([
      ['start', 1000],
      ['end', 1000],
    ]);
  });
});
