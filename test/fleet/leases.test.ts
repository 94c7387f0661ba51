import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { isVigilError, VigilError } from '../../src/errors.js';
import { createLeaseStore, type LeaseStore } from '../../src/fleet/leases.js';
import { connectRedis } from '../../src/fleet/redis.js';
import { freePort } from '../helpers/mosquitto.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('fleet: Redis connection', () => {
  it('rejects at once with VIGIL_ERR_FLEET naming Redis and the URL (no password) when Redis is unreachable', async () => {
    const port = await freePort();
    const started = Date.now();
    const e = await connectRedis(`redis://:s3cret@127.0.0.1:${port}/0`).then(
      () => expect.fail('connected to nothing'),
      (err: unknown) => err,
    );
    expect(Date.now() - started).to.be.below(3000);
    expect(e).to.be.instanceOf(VigilError);
    expect(isVigilError(e, 'VIGIL_ERR_FLEET')).to.equal(true);
    const message = (e as VigilError).message;
    expect(message).to.match(
      new RegExp(`^fleet coordination failed: cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0: `),
    );
    expect(message).to.not.contain('s3cret');
    expect((e as VigilError).httpStatus).to.equal(503);
  });

  it('refuses a URL that is not redis:// with VIGIL_ERR_CONFIG', async () => {
    const e = await connectRedis('http://127.0.0.1:1').catch((err: unknown) => err);
    expect(isVigilError(e, 'VIGIL_ERR_CONFIG')).to.equal(true);
    expect((e as VigilError).message).to.equal('bad configuration: Redis URL must start with redis:// or rediss://: http://127.0.0.1:1');
  });
});

describe('fleet: leases', () => {
  let server: RedisServer;
  let redis: Redis;
  let leases: LeaseStore;

  before(async () => {
    server = await startRedis();
    redis = await connectRedis(server.url);
    leases = createLeaseStore(redis, 'test');
  });
  after(async () => {
    await redis?.quit();
    await server?.dispose();
  });
  beforeEach(() => redis.flushall());

  it('one holder at a time: a second acquire fails until the first releases', async () => {
    expect(await leases.acquire('cam1', 'a', 5000)).to.equal(true);
    expect(await leases.acquire('cam1', 'b', 5000)).to.equal(false);
    expect(await leases.acquire('cam1', 'a', 5000)).to.equal(false);
    expect(await leases.holderOf('cam1')).to.equal('a');
    expect(await redis.get('test:lease:cam1')).to.equal('a');
    expect(await leases.release('cam1', 'a')).to.equal(true);
    expect(await leases.holderOf('cam1')).to.equal(null);
    expect(await leases.acquire('cam1', 'b', 5000)).to.equal(true);
  });

  it('a non-holder can neither renew nor release (compare-and-set)', async () => {
    await leases.acquire('cam1', 'a', 1000);
    expect(await leases.renew('cam1', 'b', 60_000)).to.equal(false);
    expect(await redis.pttl('test:lease:cam1')).to.be.at.most(1000);
    expect(await leases.release('cam1', 'b')).to.equal(false);
    expect(await leases.holderOf('cam1')).to.equal('a');
    expect(await leases.renew('cam1', 'a', 60_000)).to.equal(true);
    expect(await redis.pttl('test:lease:cam1')).to.be.above(50_000);
    expect(await leases.renew('nothing', 'a', 1000)).to.equal(false);
  });

  it('expires: another can take it after the ttl, and the old holder can no longer renew', async () => {
    await leases.acquire('cam1', 'a', 200);
    await sleep(300);
    expect(await leases.holderOf('cam1')).to.equal(null);
    expect(await leases.renew('cam1', 'a', 200)).to.equal(false);
    expect(await leases.acquire('cam1', 'b', 5000)).to.equal(true);
    expect(await leases.renew('cam1', 'a', 5000)).to.equal(false);
    expect(await leases.holderOf('cam1')).to.equal('b');
  });

  it('bulk forms: one round trip each, answering per camera', async () => {
    expect(await leases.acquireAll(['c1', 'c2', 'c3'], 'a', 5000)).to.deep.equal(['c1', 'c2', 'c3']);
    expect(await leases.acquireAll(['c3', 'c4'], 'b', 5000)).to.deep.equal(['c4']);
    await redis.set('test:lease:c2', 'b', 'PX', 5000); // c2 expired and was taken by b
    const calls: string[] = [];
    const monitor = await redis.duplicate().monitor();
    monitor.on('monitor', (_t: string, args: string[]) => calls.push(args[0].toLowerCase()));
    expect(await leases.renewAll(['c1', 'c2', 'c3'], 'a', 5000)).to.deep.equal(['c1', 'c3']);
    expect(await leases.holders(['c1', 'c2', 'c3', 'c4', 'c5'])).to.deep.equal(
      new Map([
        ['c1', 'a'],
        ['c2', 'b'],
        ['c3', 'a'],
        ['c4', 'b'],
      ]),
    );
    expect(await leases.releaseAll(['c1', 'c2', 'c3'], 'a')).to.deep.equal(['c1', 'c3']);
    await sleep(100);
    monitor.disconnect();
    // The scripts' inner calls show up too; what matters is one client request per bulk call.
    expect(calls.filter((c) => c === 'evalsha' || c === 'eval' || c === 'mget')).to.have.length(3);
    expect(await leases.holders(['c1', 'c2', 'c3', 'c4'])).to.deep.equal(
      new Map([
        ['c2', 'b'],
        ['c4', 'b'],
      ]),
    );
  });

  it('scripts survive a Redis restart (its script cache is empty again)', async () => {
    await leases.acquire('cam1', 'a', 5000);
    expect(await leases.renew('cam1', 'a', 5000)).to.equal(true);
    await redis.script('FLUSH');
    expect(await leases.renew('cam1', 'a', 5000)).to.equal(true);
    expect(await leases.release('cam1', 'a')).to.equal(true);
  });
});
