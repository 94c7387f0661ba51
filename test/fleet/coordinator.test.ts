import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { isVigilError, type VigilError } from '../../src/errors.js';
import { createCoordinator, type Coordinator, type DropReason } from '../../src/fleet/coordinator.js';
import { createMembers, FLEET_PROTOCOL } from '../../src/fleet/members.js';
import { connectRedis } from '../../src/fleet/redis.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const TTL = 1200;
const INTERVAL = 400;
const CAMERAS = ['cam1', 'cam2', 'cam3', 'cam4', 'cam5', 'cam6'];
const quiet = { warn: () => {}, info: () => {}, debug: () => {} };
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

interface Event {
  t: number;
  node: string;
  camera: string;
  kind: 'take' | 'drop';
  reason?: DropReason;
}

interface Node {
  id: string;
  redis: Redis;
  coordinator: Coordinator;
  /** Stopped or halted: nothing left to close. */
  done: boolean;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
  return performance.now() - started;
}

/**
 * For each camera, the longest time two different nodes both ran it: every node's take/drop
 * timeline turned into intervals (one still open ends now).
 */
function maxOverlap(events: Event[]): number {
  const end = performance.now();
  const intervals = new Map<string, { node: string; from: number; to: number }[]>();
  const open = new Map<string, number>();
  for (const e of events) {
    const k = `${e.node}\u0000${e.camera}`;
    if (e.kind === 'take') open.set(k, e.t);
    else if (open.has(k)) {
      const list = intervals.get(e.camera) ?? [];
      list.push({ node: e.node, from: open.get(k)!, to: e.t });
      intervals.set(e.camera, list);
      open.delete(k);
    }
  }
  for (const [k, from] of open) {
    const [node, camera] = k.split('\u0000');
    const list = intervals.get(camera) ?? [];
    list.push({ node, from, to: end });
    intervals.set(camera, list);
  }
  let worst = 0;
  for (const list of intervals.values()) {
    for (const a of list)
      for (const b of list) if (a.node < b.node) worst = Math.max(worst, Math.min(a.to, b.to) - Math.max(a.from, b.from));
  }
  return worst;
}

describe('fleet: coordinators over a real Redis', () => {
  let server: RedisServer;
  let admin: Redis;
  let nodes: Node[] = [];
  let events: Event[] = [];

  async function addNode(id: string, extra: { onTake?: (camera: string) => void } = {}): Promise<Node> {
    const redis = await connectRedis(server.url, { maxRetryDelayMs: 100, commandTimeoutMs: 500, name: id, log: quiet });
    const coordinator = createCoordinator({
      redis,
      nodeId: id,
      ttlMs: TTL,
      intervalMs: INTERVAL,
      prefix: 'test',
      cameras: () => CAMERAS,
      onTake: (camera) => {
        events.push({ t: performance.now(), node: id, camera, kind: 'take' });
        extra.onTake?.(camera);
      },
      onDrop: (camera, reason) => void events.push({ t: performance.now(), node: id, camera, kind: 'drop', reason }),
      log: quiet,
    });
    const node = { id, redis, coordinator, done: false };
    nodes.push(node);
    await coordinator.start();
    return node;
  }

  /** What a crash looks like to the others: the loop stops, nothing is released, the process's cameras stop with it. */
  function crash(node: Node): number {
    const t = performance.now();
    for (const camera of node.coordinator.held()) events.push({ t, node: node.id, camera, kind: 'drop', reason: 'lost' });
    node.coordinator.halt();
    node.redis.disconnect();
    node.done = true;
    return t;
  }

  const live = () => nodes.filter((n) => !n.done);
  const spread = () =>
    live()
      .map((n) => n.coordinator.held().length)
      .sort();
  const allHeldOnce = () => {
    const held = live().flatMap((n) => n.coordinator.held());
    return held.length === CAMERAS.length && new Set(held).size === CAMERAS.length;
  };

  before(async () => {
    server = await startRedis();
    admin = await connectRedis(server.url, { maxRetryDelayMs: 100, log: quiet });
  });
  after(async () => {
    await admin?.quit();
    await server?.dispose();
  });
  beforeEach(async () => {
    await admin.flushall();
    nodes = [];
    events = [];
  });
  afterEach(async () => {
    for (const n of live()) {
      await n.coordinator.stop();
      n.done = true;
    }
    for (const n of nodes) n.redis.disconnect();
  });

  it('3 coordinators spread 6 cameras 2/2/2, each camera on exactly one, matching the leases in Redis', async () => {
    await Promise.all(['a', 'b', 'c'].map((id) => addNode(id)));
    const ms = await until('2/2/2', () => allHeldOnce() && spread().join() === '2,2,2');
    console.log(`      converged 2/2/2 in ${Math.round(ms)} ms after start`);
    for (const n of nodes) for (const camera of n.coordinator.held()) expect(await admin.get(`test:lease:${camera}`)).to.equal(n.id);
    const members = await nodes[0].coordinator.members();
    expect(members.map((m) => m.id)).to.deep.equal(['a', 'b', 'c']);
    expect(members[0]).to.include({ protocol: FLEET_PROTOCOL, pid: process.pid });
    expect(members[0].roles).to.deep.equal(['worker']);
    expect(maxOverlap(events)).to.equal(0);
  });

  it('a crashed node (no release): its cameras start elsewhere within ttl + interval, well under 10 s', async () => {
    const [, b] = await Promise.all(['a', 'b', 'c'].map((id) => addNode(id)));
    await until('2/2/2', () => allHeldOnce() && spread().join() === '2,2,2');
    const orphaned = b.coordinator.held();
    const crashedAt = crash(b);
    await until('the survivors hold everything', () => allHeldOnce() && spread().join() === '3,3');
    const takenAt = Math.max(...events.filter((e) => e.kind === 'take' && orphaned.includes(e.camera) && e.t > crashedAt).map((e) => e.t));
    const failoverMs = takenAt - crashedAt;
    console.log(
      `      failover: ${orphaned.join(', ')} of the crashed node running elsewhere after ${Math.round(failoverMs)} ms (ttl ${TTL}, interval ${INTERVAL})`,
    );
    expect(failoverMs).to.be.below(10_000);
    expect(failoverMs).to.be.below(TTL + 2 * INTERVAL + 300);
    expect(maxOverlap(events)).to.equal(0);
  });

  it('a 4th joins: takes some over one at a time, and no camera ever has two holders beyond one interval', async () => {
    await Promise.all(['a', 'b', 'c'].map((id) => addNode(id)));
    await until('2/2/2', () => allHeldOnce() && spread().join() === '2,2,2');
    const before = events.length;
    const d = await addNode('d');
    // Sample while it moves: at no moment two nodes both claim a camera for longer than an interval.
    const ms = await until('2/2/1/1', () => allHeldOnce() && spread().join() === '1,1,2,2' && d.coordinator.held().length === 1);
    console.log(`      the joiner took its share in ${Math.round(ms)} ms; ${events.length - before} take/drop events`);
    const moved = events.slice(before);
    expect(moved.filter((e) => e.kind === 'drop').map((e) => e.reason)).to.deep.equal(['released']);
    const overlap = maxOverlap(events);
    console.log(`      max overlap of two holders: ${Math.round(overlap)} ms`);
    expect(overlap).to.be.at.most(INTERVAL);
  });

  it('Redis stopped and restarted mid-run: cameras stop by the lease deadline, then all leases are re-established', async () => {
    await Promise.all(['a', 'b', 'c'].map((id) => addNode(id)));
    await until('2/2/2', () => allHeldOnce() && spread().join() === '2,2,2');
    const stoppedAt = performance.now();
    await server.stop();
    const droppedMs = await until('every camera dropped as lost', () => live().every((n) => n.coordinator.held().length === 0));
    console.log(`      with Redis down, cameras stopped ${Math.round(droppedMs)} ms after it stopped (ttl ${TTL})`);
    expect(droppedMs).to.be.at.most(TTL + 100);
    expect(events.filter((e) => e.kind === 'drop' && e.t > stoppedAt).every((e) => e.reason === 'lost')).to.equal(true);
    await server.start();
    const back = await until('all leases back', () => allHeldOnce() && spread().join() === '2,2,2');
    console.log(`      after the restart, all 6 cameras ran again within ${Math.round(back)} ms`);
    await sleep(INTERVAL);
    for (const n of live()) for (const camera of n.coordinator.held()) expect(await admin.get(`test:lease:${camera}`)).to.equal(n.id);
    expect(maxOverlap(events)).to.equal(0);
  });

  it('Redis restarted empty within a lease: no camera stops, each node takes its own leases back', async () => {
    await Promise.all(['a', 'b', 'c'].map((id) => addNode(id)));
    await until('2/2/2', () => allHeldOnce() && spread().join() === '2,2,2');
    const before = new Map(live().map((n) => [n.id, n.coordinator.held()]));
    const stoppedAt = performance.now();
    await server.stop();
    await sleep(TTL / 3);
    await server.start();
    await until('every lease back in Redis with its holder', async () => {
      // The test's own connection is back only after its reconnect delay too.
      const holders = await Promise.all(CAMERAS.map((c) => admin.get(`test:lease:${c}`))).catch(() => []);
      return [...before].every(([id, cameras]) => cameras.every((c) => holders[CAMERAS.indexOf(c)] === id));
    });
    expect(events.filter((e) => e.t > stoppedAt)).to.deep.equal([]);
    for (const n of live()) expect(n.coordinator.held()).to.deep.equal(before.get(n.id));
  });

  it('a clean stop drops its cameras as released, deletes its leases and heartbeat; the others take over at once', async () => {
    const [a, b] = await Promise.all(['a', 'b'].map((id) => addNode(id)));
    await until('3/3', () => allHeldOnce() && spread().join() === '3,3');
    const mine = b.coordinator.held();
    await b.coordinator.stop();
    b.done = true;
    expect(b.coordinator.held()).to.deep.equal([]);
    expect(events.filter((e) => e.node === 'b' && e.kind === 'drop').map((e) => e.reason)).to.deep.equal([
      'released',
      'released',
      'released',
    ]);
    for (const camera of mine) expect(await admin.get(`test:lease:${camera}`)).to.not.equal('b');
    expect(await admin.exists('test:member:b')).to.equal(0);
    const ms = await until('a holds all', () => a.coordinator.held().length === 6);
    expect(ms).to.be.below(2 * INTERVAL + 200);
  });

  it('a lease taken from under a node (its compare-and-set renewal fails) drops that camera as lost within an interval', async () => {
    const a = await addNode('a');
    await until('a holds all', () => a.coordinator.held().length === 6);
    await admin.set('test:lease:cam3', 'intruder', 'PX', 60_000);
    const at = performance.now();
    await until('cam3 dropped', () => !a.coordinator.held().includes('cam3'));
    expect(performance.now() - at).to.be.at.most(INTERVAL + 100);
    expect(events.filter((e) => e.kind === 'drop').map((e) => [e.node, e.camera, e.reason])).to.deep.equal([['a', 'cam3', 'lost']]);
    await sleep(2 * INTERVAL);
    expect(a.coordinator.held()).to.not.include('cam3');
    expect(await admin.get('test:lease:cam3')).to.equal('intruder');
  });

  it('an onTake that throws does not stop the loop', async () => {
    const a = await addNode('a', {
      onTake: () => {
        throw new Error('camera would not start');
      },
    });
    await until('a holds all', () => a.coordinator.held().length === 6);
    await sleep(TTL + INTERVAL);
    expect(a.coordinator.held()).to.have.length(6);
    expect(await admin.pttl('test:lease:cam1')).to.be.above(TTL - INTERVAL - 100);
  });

  it('refuses to join a fleet whose live member speaks another protocol, naming both versions', async () => {
    const other = createMembers({
      redis: admin,
      prefix: 'test',
      ttlMs: 5000,
      protocol: FLEET_PROTOCOL + 1,
      self: { id: 'old', roles: ['worker'], capacity: 4, schema: 3 },
    });
    await other.join();
    const e = await addNode('a').catch((err: unknown) => err);
    expect(isVigilError(e, 'VIGIL_ERR_FLEET')).to.equal(true);
    expect((e as VigilError).message).to.match(
      new RegExp(
        `^fleet coordination failed: node a speaks fleet protocol ${FLEET_PROTOCOL} but live member old .* speaks protocol ${FLEET_PROTOCOL + 1}`,
      ),
    );
    expect(nodes[0].coordinator.held()).to.deep.equal([]);
    expect(await admin.exists('test:member:a')).to.equal(0);
    await other.leave();
  });

  it('refuses to join a fleet whose live member was built for another store schema, naming both', async () => {
    const other = createMembers({
      redis: admin,
      prefix: 'test',
      ttlMs: 5000,
      self: { id: 'newer', roles: ['worker'], capacity: 4, schema: 99 },
    });
    await other.join();
    const e = await addNode('a').catch((err: unknown) => err);
    expect(isVigilError(e, 'VIGIL_ERR_FLEET')).to.equal(true);
    expect((e as VigilError).message).to.match(/node a is built for store schema 0 but live member newer .* is built for schema 99/);
    expect(await admin.exists('test:member:a')).to.equal(0);
    await other.leave();
  });

  it('refuses to join a fleet whose live member keeps its store in another kind (sqlite, postgres), naming both', async () => {
    const other = createMembers({
      redis: admin,
      prefix: 'test',
      ttlMs: 5000,
      self: { id: 'shared', roles: ['worker'], capacity: 4, schema: 0, store: 'postgres' },
    });
    await other.join();
    const e = await addNode('a').catch((err: unknown) => err);
    expect(isVigilError(e, 'VIGIL_ERR_FLEET')).to.equal(true);
    expect((e as VigilError).message).to.match(
      /node a keeps its store in sqlite but live member shared .* keeps it in postgres; run every node with --postgres, or none$/,
    );
    expect(await admin.exists('test:member:a')).to.equal(0);
    await other.leave();
  });
});
