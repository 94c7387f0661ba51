/**
 * Delivery from an outbox several nodes share (a fleet on PostgreSQL): every node runs a
 * delivery for the sink, and each row reaches the far side once, in order, whichever node
 * queued it; a node that dies holding a row lets another send it once the claim runs out.
 */
import { expect } from 'chai';
import type pg from 'pg';
import { vigilError } from '../../src/errors.js';
import { createDelivery, type Delivery, type Sender } from '../../src/sinks/outbox.js';
import { connectPostgres } from '../../src/store/pg/connect.js';
import { createPgOutboxRepo } from '../../src/store/pg/outbox.js';
import { migratePostgres } from '../../src/store/pg/schema.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { until } from './events.js';

/** The far side: what arrived, and from which node, in arrival order. */
function farSide() {
  const arrived: Array<{ node: string; payload: unknown }> = [];
  const tries = new Map<string, number>();
  const sender = (node: string, behave: { fail?: boolean; hang?: boolean } = {}): Sender => ({
    name: 'hook',
    deliver(payload) {
      tries.set(node, (tries.get(node) ?? 0) + 1);
      if (behave.hang) return new Promise(() => undefined);
      if (behave.fail) return Promise.reject(vigilError('VIGIL_ERR_SINK', `${node}: down`));
      arrived.push({ node, payload });
      return Promise.resolve();
    },
  });
  return { arrived, tries, sender };
}

describe('sinks: delivery from an outbox a fleet shares (PostgreSQL)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  const pools: pg.Pool[] = [];
  const deliveries: Delivery[] = [];
  const log = { warn: () => undefined };

  /** One node's pool on the shared database. */
  async function node(): Promise<pg.Pool> {
    const pool = await connectPostgres(server.url, { log });
    pools.push(pool);
    return pool;
  }

  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.dispose();
  });
  beforeEach(async () => {
    const pool = await node();
    await pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    await migratePostgres(pool);
  });
  afterEach(async () => {
    // A hung send never settles: stop only marks those deliveries stopped.
    for (const d of deliveries.splice(0)) void d.stop();
    for (const p of pools.splice(0)) await p.end();
  });

  it('sends each row once and in order, whichever of two nodes queued it', async () => {
    const far = farSide();
    const a = await createDelivery({ repo: createPgOutboxRepo(await node()), sender: far.sender('a'), pollMs: 50 });
    const b = await createDelivery({ repo: createPgOutboxRepo(await node()), sender: far.sender('b'), pollMs: 50 });
    deliveries.push(a, b);
    // One writer at a time, as events of one camera are: the sink's order is the queueing order.
    for (let i = 0; i < 40; i++) await (i % 2 === 0 ? a : b).enqueue({ i });
    await until(() => far.arrived.length >= 40, '40 deliveries');
    await new Promise((r) => setTimeout(r, 300)); // room for a second send, were there one
    expect(far.arrived.map((x) => x.payload)).to.deep.equal([...Array(40).keys()].map((i) => ({ i })));
    expect(await createPgOutboxRepo(pools[0]).count('hook')).to.equal(0);
    await until(() => a.stats().queued === 0 && b.stats().queued === 0, 'both nodes to count nothing queued');
  });

  it('a row held by a node that died is sent by another once its claim runs out, then the rest', async () => {
    const far = farSide();
    const dead = await createDelivery({ repo: createPgOutboxRepo(await node()), sender: far.sender('dead', { hang: true }), claimMs: 400 });
    deliveries.push(dead);
    await dead.enqueue({ i: 0 });
    await dead.enqueue({ i: 1 });
    const t0 = Date.now();
    const alive = await createDelivery({ repo: createPgOutboxRepo(await node()), sender: far.sender('alive'), claimMs: 400, pollMs: 50 });
    deliveries.push(alive);
    await until(() => far.arrived.length >= 2, 'the dead node’s rows');
    expect(Date.now() - t0).to.be.at.least(300);
    expect(far.arrived).to.deep.equal([
      { node: 'alive', payload: { i: 0 } },
      { node: 'alive', payload: { i: 1 } },
    ]);
  });

  it('a node whose sink is down leaves its rows, with their backoff, to a node that can send them', async () => {
    const far = farSide();
    const down = await createDelivery({
      repo: createPgOutboxRepo(await node()),
      sender: far.sender('down', { fail: true }),
      minBackoffMs: 200,
      maxBackoffMs: 200,
      pollMs: 50,
    });
    deliveries.push(down);
    await down.enqueue({ i: 0 });
    await until(() => down.stats().lastError !== null, 'a failed attempt');
    const up = await createDelivery({ repo: createPgOutboxRepo(await node()), sender: far.sender('up'), pollMs: 50 });
    deliveries.push(up);
    await until(() => far.arrived.length >= 1, 'the retry from the other node');
    expect(far.arrived).to.deep.equal([{ node: 'up', payload: { i: 0 } }]);
    // The failing node looks again a poll after the row is due: the working one gets there first.
    expect(far.tries.get('down')).to.be.at.most(2);
    const [row] = (await pools[0].query<{ n: number }>('SELECT COUNT(*) AS n FROM outbox')).rows;
    expect(row.n).to.equal(0);
  });
});
