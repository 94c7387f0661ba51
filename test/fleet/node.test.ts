import { expect } from 'chai';
import { testEvent } from '../sinks/events.js';
import type { Redis } from 'ioredis';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVigilError, type VigilError } from '../../src/errors.js';
import { connectRedis } from '../../src/fleet/redis.js';
import { createRelay, SEGMENT_UPDATE_MS, type CameraMessage, type RelayedMessage } from '../../src/fleet/relay.js';
import { startServer } from '../../src/server/app.js';
import { resolveConfig } from '../../src/server/config.js';
import type { CameraStatus } from '../../src/server/protocol.js';
import { freePort } from '../helpers/mosquitto.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const quiet = { warn: () => {} };
const status: CameraStatus = { cameraId: 'cam1', state: 'live', frames: 7, dropped: 0, gated: 0, lagMs: 40 };

describe('fleet: settings, start-up errors and the live relay', () => {
  let redis: RedisServer;
  const clients: Redis[] = [];
  const client = async (name: string) => {
    const c = await connectRedis(redis.url, { name, log: quiet, maxRetryDelayMs: 100 });
    clients.push(c);
    return c;
  };

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    await redis?.dispose();
  });

  describe('settings', () => {
    it('--fleet alone needs a Redis from somewhere, and says where it may come from', () => {
      const e = (() => {
        try {
          return resolveConfig({ fleet: {} }, {});
        } catch (err) {
          return err;
        }
      })() as VigilError;
      expect(isVigilError(e, 'VIGIL_ERR_CONFIG')).to.equal(true);
      expect(e.message).to.include("fleet.redis: name the fleet's Redis: --redis, VIGIL_REDIS_URL or fleet.redis in the config file");
    });

    it('takes the Redis, node id and role from the environment, flags winning; checks the id and the role', () => {
      const c = resolveConfig(
        { fleet: { role: 'api' } },
        { VIGIL_REDIS_URL: 'redis://r:6379', VIGIL_NODE_ID: 'box-1', VIGIL_ROLE: 'worker' },
      );
      expect(c.fleet).to.deep.equal({ redis: 'redis://r:6379', nodeId: 'box-1', role: 'api', leaseMs: 5000, prefix: 'vigil' });
      expect(resolveConfig({}, {}).fleet).to.equal(undefined);
      expect(() => resolveConfig({ fleet: { redis: 'redis://r', nodeId: '../x' } }, {})).to.throw(/fleet\.nodeId: letters, digits/);
      expect(() => resolveConfig({ fleet: { redis: 'redis://r', role: 'boss' as 'api' } }, {})).to.throw(/fleet\.role/);
      expect(() => resolveConfig({ fleet: { redis: 'redis://r', leaseMs: 100 } }, {})).to.throw(/fleet\.leaseMs/);
    });

    it('a config file may set the fleet and leave the Redis to a flag or the environment', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'vigil-fleet-'));
      try {
        const file = join(dir, 'vigil.json');
        await writeFile(file, JSON.stringify({ fleet: { leaseMs: 3000, role: 'worker' } }));
        expect(resolveConfig({ configFile: file, fleet: { redis: 'redis://r:1' } }, {}).fleet).to.include({
          redis: 'redis://r:1',
          leaseMs: 3000,
        });
        expect(resolveConfig({ configFile: file }, { VIGIL_REDIS_URL: 'redis://r:2' }).fleet).to.include({
          redis: 'redis://r:2',
          role: 'worker',
        });
        // Without one anywhere, the merged settings say what is missing; a wrong field is still the file's.
        expect(() => resolveConfig({ configFile: file }, {})).to.throw(/fleet\.redis: name the fleet's Redis/);
        await writeFile(file, JSON.stringify({ fleet: { leaseMs: 1 } }));
        expect(() => resolveConfig({ configFile: file, fleet: { redis: 'redis://r:1' } }, {})).to.throw(/vigil\.json: fleet\.leaseMs/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('start-up', () => {
    it('an unreachable Redis fails the start with VIGIL_ERR_FLEET naming it, and leaves the data folder free', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'vigil-fleet-'));
      try {
        const url = `redis://user:secret@127.0.0.1:${await freePort()}`;
        const e = (await startServer({ port: 0, dataDir, demo: false, fleet: { redis: url } }).catch((err: unknown) => err)) as VigilError;
        expect(isVigilError(e, 'VIGIL_ERR_FLEET'), String(e)).to.equal(true);
        expect(e.message).to.match(/cannot reach Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:\d+/);
        expect(e.message).not.to.include('secret');
        // The store was closed: the same folder opens again at once.
        const alone = await startServer({ port: 0, dataDir, demo: false });
        await alone.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });

    it('a fleet node stops cleanly: its heartbeat leaves Redis and its port closes', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'vigil-fleet-'));
      const admin = await client('admin');
      try {
        const server = await startServer({ port: 0, dataDir, demo: false, fleet: { redis: redis.url, nodeId: 'solo', prefix: 'stop' } });
        expect(server.fleet?.id).to.equal('solo');
        expect(await admin.exists('stop:member:solo')).to.equal(1);
        const status = (await (await fetch(`${server.url}/api/status`)).json()) as { fleet: unknown };
        expect(status.fleet).to.deep.equal({ node: 'solo', roles: ['worker', 'api'] });
        await server.close();
        expect(await admin.exists('stop:member:solo')).to.equal(0);
        const refused = await fetch(`${server.url}/api/status`).then(
          () => 'answered',
          () => 'refused',
        );
        expect(refused).to.equal('refused');
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });

  describe('the live relay', () => {
    it('delivers what other nodes publish, never a node its own; a refresh updates the status without a delivery', async () => {
      const got: Array<{ msg: RelayedMessage; from: string }> = [];
      const [pa, pb, sub] = await Promise.all([client('a'), client('b'), client('b/live')]);
      const a = await createRelay({
        redis: pa,
        nodeId: 'a',
        prefix: 'relay',
        deliver: () => expect.fail('a has no subscriber'),
        log: quiet,
      });
      const b = await createRelay({
        redis: pb,
        subscriber: sub,
        nodeId: 'b',
        prefix: 'relay',
        deliver: (msg, from) => got.push({ msg, from }),
        log: quiet,
      });
      a.publish({ type: 'status', ...status });
      b.publish({ type: 'status', ...status, cameraId: 'mine' });
      a.refresh({ ...status, frames: 99 });
      await sleep(200);
      expect(got).to.deep.equal([{ msg: { type: 'status', ...status }, from: 'a' }]);
      expect(b.status('cam1')).to.deep.equal({ node: 'a', status: { ...status, frames: 99 } });
      expect(b.status('mine')).to.equal(undefined);
      expect(a.counts()).to.include({ published: 2, dropped: 0 });
      await Promise.all([a.close(), b.close()]);
    });

    it('a status stands for staleMs only: a node that died stops making its cameras look live', async () => {
      const [pa, pb, sub] = await Promise.all([client('a'), client('b'), client('b/live')]);
      const a = await createRelay({ redis: pa, nodeId: 'a', prefix: 'stale', deliver: () => {}, log: quiet });
      const b = await createRelay({
        redis: pb,
        subscriber: sub,
        nodeId: 'b',
        prefix: 'stale',
        deliver: () => {},
        log: quiet,
        staleMs: 300,
      });
      a.refresh({ ...status, state: 'live' });
      await sleep(100);
      expect(b.status('cam1')?.status.state).to.equal('live');
      await sleep(400);
      expect(b.status('cam1')).to.equal(undefined);
      a.refresh({ ...status, state: 'live', frames: 7 });
      await sleep(100);
      expect(b.status('cam1')?.status.frames).to.equal(7);
      await Promise.all([a.close(), b.close()]);
    });

    it('relays event messages (the server sends them only when the fleet shares its store)', async () => {
      const got: RelayedMessage[] = [];
      const [pa, pb, sub] = await Promise.all([client('a'), client('b'), client('b/live')]);
      const a = await createRelay({ redis: pa, nodeId: 'a', prefix: 'events', deliver: () => {}, log: quiet });
      const b = await createRelay({ redis: pb, subscriber: sub, nodeId: 'b', prefix: 'events', deliver: (m) => got.push(m), log: quiet });
      const event = testEvent(1, { cameraId: 'cam1' });
      a.publish({ type: 'event', cameraId: 'cam1', change: 'start', event });
      a.publish({ type: 'event', cameraId: 'cam1', change: 'end', event: { ...event, state: 'ended' } });
      await sleep(200);
      expect(got).to.deep.equal([
        { type: 'event', cameraId: 'cam1', change: 'start', event },
        { type: 'event', cameraId: 'cam1', change: 'end', event: { ...event, state: 'ended' } },
      ]);
      await Promise.all([a.close(), b.close()]);
    });

    it('relays an upload’s clip messages, progress included, so a worker labelling it reaches the API node’s clients', async () => {
      const got: RelayedMessage[] = [];
      const [pa, pb, sub] = await Promise.all([client('a'), client('b'), client('b/live')]);
      const a = await createRelay({ redis: pa, nodeId: 'a', prefix: 'clips', deliver: () => {}, log: quiet });
      const b = await createRelay({
        redis: pb,
        subscriber: sub,
        nodeId: 'b',
        prefix: 'clips',
        deliver: (msg) => got.push(msg),
        log: quiet,
      });
      const sent: RelayedMessage[] = [
        { type: 'clip', clipId: 'c1', status: 'processing', progress: 0 },
        { type: 'clip', clipId: 'c1', status: 'processing', progress: 0.5 },
        { type: 'clip', clipId: 'c1', status: 'ready', progress: 1 },
      ];
      for (const m of sent) a.publish(m);
      await sleep(200);
      expect(got).to.deep.equal(sent);
      await Promise.all([a.close(), b.close()]);
    });

    it('sends a segment’s updates at most every SEGMENT_UPDATE_MS, the latest winning, and none after its end', async () => {
      const got: RelayedMessage[] = [];
      const [pa, pb, sub] = await Promise.all([client('a'), client('b'), client('b/live')]);
      const a = await createRelay({ redis: pa, nodeId: 'a', prefix: 'seg', deliver: () => {}, log: quiet });
      const b = await createRelay({ redis: pb, subscriber: sub, nodeId: 'b', prefix: 'seg', deliver: (msg) => got.push(msg), log: quiet });
      const segment = (event: 'start' | 'update' | 'end', endMs: number, model = 'fight'): CameraMessage => ({
        type: 'segment',
        cameraId: 'cam1',
        model,
        event,
        segment: { label: 'fight', startMs: 0, endMs, confidence: 0.9, peak: 0.95 },
      });
      const ends = () => got.map((m) => (m.type === 'segment' ? `${m.model}:${m.event}:${m.segment.endMs}` : m.type));
      a.publish(segment('start', 0));
      for (let i = 1; i <= 10; i++) a.publish(segment('update', i * 100));
      // Another model of the camera has its own turn.
      a.publish(segment('update', 5, 'fall'));
      await sleep(SEGMENT_UPDATE_MS + 300);
      expect(ends()).to.deep.equal(['fight:start:0', 'fight:update:100', 'fall:update:5', 'fight:update:1000']);
      got.length = 0;
      // Updates queued behind the last one sent, then the end: the end goes, the waiting update never does.
      a.publish(segment('update', 1100));
      a.publish(segment('update', 1200));
      a.publish(segment('end', 1250));
      await sleep(SEGMENT_UPDATE_MS + 300);
      expect(ends()).to.deep.equal(['fight:end:1250']);
      await Promise.all([a.close(), b.close()]);
    });

    it('counts malformed channel messages and goes on; a publish while Redis is away is dropped and counted', async () => {
      const got: RelayedMessage[] = [];
      const [pb, sub, stray] = await Promise.all([client('b'), client('b/live'), client('stray')]);
      const b = await createRelay({ redis: pb, subscriber: sub, nodeId: 'b', prefix: 'junk', deliver: (msg) => got.push(msg), log: quiet });
      const junks = ['not json', '{"n":"x"}', '{"n":"x","m":{"type":"hello"}}', '{"n":"x","m":{"type":"label"}}', 'null'];
      for (const junk of [...junks, '{"n":"x","m":{"type":"clip","cameraId":"cam1"}}']) await stray.publish('junk:live', junk);
      await stray.publish('junk:live', JSON.stringify({ n: 'x', m: { type: 'status', ...status } }));
      await sleep(200);
      expect(b.counts()).to.include({ malformed: 6, received: 1 });
      expect(got.map((m) => m.type === 'status' && m.cameraId)).to.deep.equal(['cam1']);

      await redis.stop();
      await sleep(100);
      b.publish({ type: 'status', ...status });
      await sleep(100);
      expect(b.counts().dropped).to.equal(1);
      await redis.start();
      await b.close();
    });
  });
});
