/**
 * The fleet on its shared store: 3 worker processes and an API process of `vigil serve --fleet
 * --postgres`, one real Redis, one real PostgreSQL and one data folder (the shared volume),
 * 6 cameras on real clips. What only a shared store gives: events of any camera at the API
 * node, a dead worker's open events ended once by their camera's new worker, uploads to the API
 * node labelled by a worker, and events kept through a PostgreSQL restart.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VigilEvent } from '../../src/events/types.js';
import type { FleetView } from '../../src/fleet/node.js';
import type { ServerMessage } from '../../src/server/protocol.js';
import { startCliServer, type CliServer } from '../helpers/cli-server.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { connect, type TestClient } from '../helpers/server.js';
import { until } from '../helpers/until.js';

const FIXTURES = join(process.cwd(), 'fixtures');
/** The clips with fights come first: their cameras make the events. */
const CLIPS = [
  'fight-fi002.mp4',
  'fight-fi150.mp4',
  'demo.mp4',
  'nofight-nofi090.mp4',
  'gmdcsa24-subject3-fall19.mp4',
  'gmdcsa24-subject4-fall02.mp4',
];
const CAMERAS = CLIPS.map((_, i) => `cam${i + 1}`);
const FPS = 4;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

type EventMessage = Extract<ServerMessage, { type: 'event' }>;

/** What the API node's client heard of each event: its changes in order. */
function eventLog(messages: readonly ServerMessage[]): Map<string, { cameraId: string; changes: string[]; last: VigilEvent }> {
  const byId = new Map<string, { cameraId: string; changes: string[]; last: VigilEvent }>();
  for (const m of messages) {
    if (m.type !== 'event') continue;
    const e = m;
    const seen = byId.get(e.event.id) ?? { cameraId: e.cameraId, changes: [], last: e.event };
    seen.changes.push(e.change);
    seen.last = e.event;
    byId.set(e.event.id, seen);
  }
  return byId;
}

describe('fleet: vigil serve --fleet --postgres, 3 workers and an API node sharing one store', function () {
  this.timeout(300_000);
  let redis: RedisServer;
  let pg: PostgresServer;
  let dir: string;
  let data: string;
  let config: string;
  const workers = new Map<string, CliServer>();
  let api: CliServer;
  let client: TestClient;
  /** A webhook every node is configured with: what it received, in order. */
  let hook: Server;
  const hooked: Array<{ type: string; event: VigilEvent }> = [];

  const node = (id: string, role: 'worker' | 'api') =>
    startCliServer([
      '--config',
      config,
      '--data',
      data,
      '--redis',
      redis.url,
      '--postgres',
      pg.url,
      '--role',
      role,
      '--node-id',
      id,
      '--workers',
      '1',
    ]);

  async function holders(): Promise<Map<string, string>> {
    const view = (await (await fetch(`${api.url}/api/fleet`)).json()) as FleetView;
    return new Map(view.cameras.filter((c) => c.node !== null).map((c) => [c.cameraId, c.node!]));
  }

  before(async () => {
    [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
    dir = await mkdtemp(join(tmpdir(), 'vigil-fleet-pg-'));
    data = join(dir, 'shared');
    config = join(dir, 'vigil.json');
    const cameras = CLIPS.map((clip, i) => ({ id: CAMERAS[i], source: join(FIXTURES, clip), model: 'fight', fps: FPS, loop: true }));
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        hooked.push(JSON.parse(body) as { type: string; event: VigilEvent });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((done) => hook.listen(0, '127.0.0.1', done));
    const webhooks = [{ url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` }];
    await writeFile(config, JSON.stringify({ demo: false, cameras, webhooks }));
    // One first: it creates the schema and writes the file's cameras; the others find them.
    workers.set('w1', await node('w1', 'worker'));
    for (const id of ['w2', 'w3']) workers.set(id, await node(id, 'worker'));
    api = await node('api', 'api');
    client = await connect(`${api.url}/ws`);
    client.send({ type: 'subscribe', cameras: '*', clips: true });
  });

  after(async () => {
    client?.close();
    await Promise.all([api?.stop(), ...[...workers.values()].map((w) => w.stop())]);
    await Promise.all([redis?.dispose(), pg?.dispose()]);
    await new Promise((done) => hook?.close(done));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the API node streams every camera and hears every event, and its /api/events lists them', async () => {
    await until('every camera held', async () => ((await holders()).size === CAMERAS.length ? true : undefined), 60_000);
    const started = await until('an event of a worker’s camera at the API node', () =>
      client.messages.find((m): m is EventMessage => m.type === 'event' && m.change === 'start'),
    );
    // The API node runs no camera, yet it serves the event: the store is the fleet's.
    const res = await fetch(`${api.url}/api/events/${started.event.id}`);
    expect(res.status).to.equal(200);
    expect(((await res.json()) as VigilEvent).cameraId).to.equal(started.cameraId);
  });

  it('a webhook every node has gets each event’s start and end once, from whichever node sends it', async () => {
    // Events that have started and ended since the client connected.
    const done = await until(
      'two events started and ended',
      () => {
        const ended = [...eventLog(client.messages)].filter(([, e]) => e.changes[0] === 'start' && e.changes.includes('end'));
        return ended.length >= 2 ? ended.map(([id]) => id) : undefined;
      },
      60_000,
    );
    await sleep(1500); // the sends, and room for a second one were there one
    for (const id of done) {
      for (const type of ['new', 'end']) {
        const got = hooked.filter((h) => h.type === type && h.event.id === id);
        expect(got, `${type} of ${id}`).to.have.length(1);
      }
    }
    // Four nodes deliver from one outbox, and no body came twice.
    const bodies = hooked.map((h) => JSON.stringify(h));
    expect(new Set(bodies).size).to.equal(bodies.length);
  });

  it('kill -9 the worker of a camera mid-event: its new worker ends that event once, where it had got', async () => {
    // A worker's camera with an event open now.
    const [eventId, victim] = await until(
      'an open event on a worker',
      async () => {
        const open = [...eventLog(client.messages)].filter(([, e]) => !e.changes.includes('end'));
        const held = await holders();
        const found = open.find(([, e]) => held.has(e.cameraId));
        return found && ([found[0], held.get(found[1].cameraId)!] as const);
      },
      60_000,
    );
    const cameraId = eventLog(client.messages).get(eventId)!.cameraId;
    const killedAt = Date.now();
    workers.get(victim)!.child.kill('SIGKILL');
    await workers.get(victim)!.exited;
    workers.delete(victim);
    await until(
      'the event’s end at the API node',
      () => (eventLog(client.messages).get(eventId)!.changes.includes('end') ? true : undefined),
      20_000,
    );
    const endedAfter = Date.now() - killedAt;
    console.log(`      event ${eventId} of ${cameraId} ended by its camera's new worker ${endedAfter} ms after kill -9 of ${victim}`);
    expect(endedAfter).to.be.below(10_000);
    const seen = eventLog(client.messages).get(eventId)!;
    expect(seen.changes.filter((c) => c === 'end')).to.have.length(1);
    expect(seen.last.state).to.equal('ended');
    const stored = (await (await fetch(`${api.url}/api/events/${eventId}`)).json()) as VigilEvent;
    expect(stored).to.deep.include({ state: 'ended', endMs: seen.last.endMs });
    // Its camera labels again from a survivor.
    const mark = client.messages.length;
    await until(
      `a label of ${cameraId} from its new worker`,
      () => (client.messages.slice(mark).some((m) => m.type === 'label' && m.cameraId === cameraId) ? true : undefined),
      15_000,
    );
    // No second end comes later (the dead worker cannot send one; the taker ended it once).
    await sleep(2000);
    expect(
      eventLog(client.messages)
        .get(eventId)!
        .changes.filter((c) => c === 'end'),
    ).to.have.length(1);
  });

  it('an upload posted to the API node is labelled by a worker, and the API node serves its timeline', async () => {
    const body = await readFile(join(FIXTURES, 'fight-fi002.mp4'));
    const res = await fetch(`${api.url}/api/clips?model=fight`, { method: 'POST', headers: { 'content-type': 'video/mp4' }, body });
    expect(res.status, await res.clone().text()).to.equal(202);
    const clip = (await res.json()) as { id: string; node: string | null };
    expect(clip.node).to.equal('api');
    await client.next('clip', (m) => m.clipId === clip.id && m.status === 'ready', 120_000);
    const timeline = await fetch(`${api.url}/api/clips/${clip.id}/timeline.json`);
    expect(timeline.status).to.equal(200);
    const json = (await timeline.json()) as { frames: unknown[]; source: { uri: string } };
    expect(json.frames.length).to.be.above(10);
    expect(json.source.uri).to.equal(`clip:${clip.id}`);
  });

  it('PostgreSQL restarted mid-run: labelling goes on, and no event is lost or doubled', async () => {
    await pg.stop();
    const mark = client.messages.length;
    await sleep(1500);
    // Labels do not wait on the store: every camera labelled while it was down.
    const during = new Set(
      client.messages
        .slice(mark)
        .filter((m) => m.type === 'label')
        .map((m) => (m as { cameraId: string }).cameraId),
    );
    await pg.start();
    expect([...during].sort()).to.deep.equal(CAMERAS);
    // Whatever was written meanwhile is written now: let the retries and a few frames pass.
    await sleep(5000);
    const heard = eventLog(client.messages);
    const res = await fetch(`${api.url}/api/events?limit=1000`);
    expect(res.status).to.equal(200);
    const stored = ((await res.json()) as { events: VigilEvent[] }).events;
    // Every event the API node heard of is stored (some began before its client connected)...
    expect(stored.map((e) => e.id)).to.include.members([...heard.keys()]);
    expect(heard.size).to.be.above(0);
    // ...once: no two rows of one camera's model started at the same moment.
    const starts = stored.map((e) => `${e.cameraId} ${e.model} ${e.label} ${e.startedAtMs}`);
    expect(new Set(starts).size).to.equal(starts.length);
    for (const [id, e] of heard) {
      expect(
        e.changes.filter((c) => c === 'start'),
        id,
      ).to.have.length(1);
      expect(e.changes.filter((c) => c === 'end').length, id).to.be.at.most(1);
    }
  });
});
