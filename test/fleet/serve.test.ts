import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FleetView } from '../../src/fleet/node.js';
import type { ServerMessage } from '../../src/server/protocol.js';
import { startCliServer, type CliServer } from '../helpers/cli-server.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { connect, type TestClient } from '../helpers/server.js';
import { until } from '../helpers/until.js';

const FIXTURES = join(process.cwd(), 'fixtures');
/** Six real clips, each a camera played live in a loop. */
const CLIPS = [
  'demo.mp4',
  'fight-fi002.mp4',
  'fight-fi150.mp4',
  'nofight-nofi090.mp4',
  'gmdcsa24-subject3-fall19.mp4',
  'gmdcsa24-subject4-fall02.mp4',
];
const CAMERAS = CLIPS.map((_, i) => `cam${i + 1}`);
const FPS = 2;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function fleetOf(node: CliServer): Promise<FleetView> {
  const res = await fetch(`${node.url}/api/fleet`);
  expect(res.status).to.equal(200);
  return (await res.json()) as FleetView;
}

/** Worker id → cameras it holds, when every camera is held by exactly one live worker. */
function placement(view: FleetView): Map<string, string[]> | undefined {
  const workers = view.nodes.filter((n) => n.roles.includes('worker'));
  const held = workers.flatMap((n) => n.cameras);
  if (held.length !== CAMERAS.length || new Set(held).size !== CAMERAS.length) return undefined;
  return new Map(workers.map((n) => [n.id, [...n.cameras].sort()]));
}

const spread = (p: Map<string, string[]>) => [...p.values()].map((c) => c.length).sort();

/** Labels of each camera that reached the client after `sinceMs` (arrival time). */
function labelsSince(arrivals: { t: number; msg: ServerMessage }[], sinceMs: number): Map<string, number> {
  const counts = new Map(CAMERAS.map((c) => [c, 0]));
  for (const { t, msg } of arrivals)
    if (t >= sinceMs && msg.type === 'label') counts.set(msg.cameraId, (counts.get(msg.cameraId) ?? 0) + 1);
  return counts;
}

describe('fleet: vigil serve --fleet, 3 workers and an API node over a real Redis, 6 cameras on real clips', function () {
  this.timeout(240_000);
  let redis: RedisServer;
  let dir: string;
  let config: string;
  const workers = new Map<string, CliServer>();
  let api: CliServer;
  let client: TestClient;
  /** Every message the API node's client got, with when. */
  const arrivals: { t: number; msg: ServerMessage }[] = [];

  const startWorker = async (id: string) => {
    const w = await startCliServer(['--config', config, '--redis', redis.url, '--role', 'worker', '--node-id', id, '--workers', '1']);
    workers.set(id, w);
    return w;
  };

  before(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'vigil-fleet-'));
    config = join(dir, 'vigil.json');
    const cameras = CLIPS.map((clip, i) => ({ id: CAMERAS[i], source: join(FIXTURES, clip), model: 'fight', fps: FPS, loop: true }));
    await writeFile(config, JSON.stringify({ demo: false, cameras }));
    await Promise.all(['w1', 'w2', 'w3'].map(startWorker));
    api = await startCliServer(['--config', config, '--redis', redis.url, '--role', 'api', '--node-id', 'api']);
    client = await connect(`${api.url}/ws`);
    client.ws.on('message', () => arrivals.push({ t: Date.now(), msg: client.messages[client.messages.length - 1] }));
    client.send({ type: 'subscribe', cameras: '*' });
  });

  after(async () => {
    client?.close();
    await Promise.all([api?.stop(), ...[...workers.values()].map((w) => w.stop())]);
    await redis?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('every camera is held by exactly one worker, spread 2/2/2, and the API node streams all six', async () => {
    const p = await until('a 2/2/2 placement', async () => {
      const found = placement(await fleetOf(api));
      return found && spread(found).join() === '2,2,2' ? found : undefined;
    });
    expect([...p.keys()].sort()).to.deep.equal(['w1', 'w2', 'w3']);
    const view = await fleetOf(api);
    expect(view.node).to.equal('api');
    expect(view.nodes.map((n) => n.id)).to.deep.equal(['api', 'w1', 'w2', 'w3']);
    expect(view.nodes.find((n) => n.id === 'api')!.cameras).to.deep.equal([]);
    // Labels of every camera reach the API node, which runs none of them.
    const since = Date.now();
    await until('labels of all six cameras at the API node', () =>
      [...labelsSince(arrivals, since).values()].every((n) => n > 0) ? true : undefined,
    );
    // Its camera list says where each stands, from the workers' statuses.
    const list = (await (await fetch(`${api.url}/api/cameras`)).json()) as {
      cameras: { id: string; status: { state: string; frames: number } }[];
    };
    expect(list.cameras.map((c) => c.id).sort()).to.deep.equal(CAMERAS);
    await until('frame counts from the workers', async () => {
      const again = (await (await fetch(`${api.url}/api/cameras`)).json()) as typeof list;
      return again.cameras.every((c) => c.status.state === 'live' && c.status.frames > 0) ? true : undefined;
    });
  });

  it('kill -9 a worker: its cameras label again from another worker within 10 s, and the client keeps receiving', async () => {
    const before = placement(await fleetOf(api))!;
    const victim = 'w3';
    const orphans = before.get(victim)!;
    const killedAt = Date.now();
    workers.get(victim)!.child.kill('SIGKILL');
    await workers.get(victim)!.exited;
    workers.delete(victim);
    // The first label of each orphan after the kill comes from its new worker.
    const back = await until(
      'the killed worker’s cameras labelling again',
      () => {
        const firsts = orphans.map((c) => arrivals.find((a) => a.t > killedAt + 200 && a.msg.type === 'label' && a.msg.cameraId === c)?.t);
        return firsts.every((t) => t !== undefined) ? Math.max(...firsts) - killedAt : undefined;
      },
      20_000,
    );
    console.log(`      ${orphans.join(', ')} labelled again ${back} ms after kill -9 of ${victim} (lease 5000 ms)`);
    expect(back).to.be.below(10_000);
    const after = await until('a 3/3 placement on the survivors', async () => {
      const p = placement(await fleetOf(api));
      return p && spread(p).join() === '3,3' ? p : undefined;
    });
    expect([...after.keys()].sort()).to.deep.equal(['w1', 'w2']);
    // The survivors kept theirs: only the orphans moved.
    for (const id of ['w1', 'w2']) expect(after.get(id)).to.include.members(before.get(id)!);
  });

  it('a fourth worker joins: it takes cameras over and no camera runs twice', async () => {
    await startWorker('w4');
    const p = await until('w4 holding cameras, spread 2/2/2', async () => {
      const found = placement(await fleetOf(api));
      return found && spread(found).join() === '2,2,2' ? found : undefined;
    });
    expect(p.get('w4')).to.have.length(2);
    // A camera run twice would label at twice its rate.
    const since = Date.now();
    await sleep(6000);
    const counts = labelsSince(arrivals, since);
    for (const [camera, n] of counts) {
      expect(n, camera).to.be.above(0);
      expect(n, `${camera}: ${n} labels in 6 s at ${FPS} fps`).to.be.at.most(6 * FPS * 1.5);
    }
  });

  it('Redis restarted mid-run: workers keep labelling, re-establish their leases, and the API node streams again', async () => {
    // Each camera's stream time so far: a camera restarted meanwhile would start again near 0.
    const lastT = new Map<string, number>();
    for (const { msg } of arrivals) if (msg.type === 'label') lastT.set(msg.cameraId, msg.tMs);
    await redis.stop();
    const downAt = Date.now();
    await sleep(1500);
    await redis.start();
    const p = await until('every camera held once again', async () => {
      const res = await fetch(`${api.url}/api/fleet`);
      if (res.status !== 200) return undefined;
      return placement((await res.json()) as FleetView);
    });
    expect([...p.values()].flat().sort()).to.deep.equal(CAMERAS);
    const since = Date.now();
    await until('labels of all six cameras after the restart', () =>
      [...labelsSince(arrivals, since).values()].every((n) => n > 0) ? true : undefined,
    );
    console.log(`      all six labelling at the API node again ${Date.now() - downAt} ms after Redis stopped (down 1500 ms)`);
    // The workers kept running them through the outage: stream time went on, it did not start over.
    for (const camera of CAMERAS) {
      const first = arrivals.find((a) => a.t >= since && a.msg.type === 'label' && a.msg.cameraId === camera)!.msg as { tMs: number };
      expect(first.tMs, camera).to.be.above(lastT.get(camera)!);
    }
    expect(client.ws.readyState).to.equal(client.ws.OPEN);
  });

  it('refuses the API’s camera changes that would make nodes disagree: cameras come from the config file', async () => {
    const res = await fetch(`${api.url}/api/cameras`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'extra', source: join(FIXTURES, 'demo.mp4'), model: 'fight' }),
    });
    expect(res.status).to.equal(409);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).to.equal('VIGIL_ERR_CONFLICT');
    expect(body.error.message).to.match(/fleet.*config file/);
    for (const [method, body] of [
      ['PATCH', JSON.stringify({ fps: 1 })],
      ['DELETE', undefined],
    ] as const) {
      const r = await fetch(`${api.url}/api/cameras/cam1`, { method, headers: { 'content-type': 'application/json' }, body });
      expect(r.status, method).to.equal(409);
      expect(((await r.json()) as { error: { code: string } }).error.code).to.equal('VIGIL_ERR_CONFLICT');
    }
    // ...and a camera it does not know is still a 404, not a 409.
    expect((await fetch(`${api.url}/api/cameras/nope`, { method: 'DELETE' })).status).to.equal(404);
  });
});
