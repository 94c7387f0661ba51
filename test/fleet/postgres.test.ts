/**
 * `vigil serve --postgres`: the store in a real PostgreSQL, alone and as a fleet over a real
 * Redis whose nodes share it (and a data folder), and the start failing when PostgreSQL is away.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FleetView } from '../../src/fleet/node.js';
import { startServer, type VigilServer } from '../../src/server/app.js';
import { resolveConfig } from '../../src/server/config.js';
import { CLI } from '../helpers/cli-server.js';
import { freePort } from '../helpers/mosquitto.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { connect } from '../helpers/server.js';
import { until } from '../helpers/until.js';

const FIXTURES = join(process.cwd(), 'fixtures');

describe('store: vigil serve --postgres', function () {
  this.timeout(120_000);
  let pg: PostgresServer;
  let redis: RedisServer;
  let dataDir: string;
  const servers: VigilServer[] = [];

  before(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  });
  after(async () => {
    await Promise.all([pg?.dispose(), redis?.dispose()]);
  });
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'vigil-pg-serve-'));
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('takes the URL from --postgres, VIGIL_POSTGRES_URL or the config file, flags winning; refuses one that is not postgres://', () => {
    expect(resolveConfig({}, { VIGIL_POSTGRES_URL: 'postgres://a/b' }).postgres).to.equal('postgres://a/b');
    expect(resolveConfig({ postgres: 'postgresql://c/d' }, { VIGIL_POSTGRES_URL: 'postgres://a/b' }).postgres).to.equal('postgresql://c/d');
    expect(resolveConfig({}, {}).postgres).to.equal(undefined);
    expect(() => resolveConfig({ postgres: 'mysql://x' }, {})).to.throw('bad configuration: postgres: a postgres:// or postgresql:// URL');
  });

  it('an unreachable PostgreSQL fails the start: exit 1, VIGIL_ERR_STORE naming it, the password masked', async () => {
    const url = `postgres://vigil:s3cret@127.0.0.1:${await freePort()}/vigil`;
    const r = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = execFile(
        process.execPath,
        [CLI, 'serve', '--port', '0', '--data', dataDir, '--no-demo', '--postgres', url],
        (_e, _o, stderr) => done({ code: child.exitCode, stderr }),
      );
    });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(
      /^vigil: VIGIL_ERR_STORE: storage failed: cannot reach PostgreSQL at postgres:\/\/vigil:\*\*\*@127\.0\.0\.1:\d+\/vigil: /m,
    );
    expect(r.stderr).not.to.contain('s3cret');
  });

  it('a fleet on PostgreSQL: the API adds, changes and removes cameras on any node, and the placement runs what is stored', async () => {
    const node = async (id: string) => {
      const s = await startServer({
        port: 0,
        dataDir,
        demo: false,
        workers: 0,
        postgres: pg.url,
        fleet: { redis: redis.url, nodeId: id, leaseMs: 1000, prefix: `pg${Date.now()}` },
      });
      servers.push(s);
      return s;
    };
    const a = await node('node-a');
    expect(a.store.kind).to.equal('postgres');
    const b = await node('node-b');
    const post = await fetch(`${a.url}/api/cameras`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'hall', source: join(FIXTURES, 'demo.mp4'), model: 'fight', fps: 2, loop: true }),
    });
    expect(post.status, await post.clone().text()).to.equal(201);
    // The other node's store is the same one.
    const listed = (await (await fetch(`${b.url}/api/cameras/hall`)).json()) as { id: string };
    expect(listed.id).to.equal('hall');
    const held = await until('a node holds hall', async () => {
      const view = (await (await fetch(`${b.url}/api/fleet`)).json()) as FleetView;
      return view.cameras.find((c) => c.cameraId === 'hall' && c.node !== null)?.node;
    });
    expect(['node-a', 'node-b']).to.include(held);
    // Changed on the node that does not run it: the one that does restarts it with the change.
    const [holder, other] = held === 'node-a' ? [a, b] : [b, a];
    const client = await connect(`${holder.url}/ws`);
    try {
      client.send({ type: 'subscribe', cameras: ['hall'] });
      await client.next('label', (m) => m.model === 'fight');
      const patch = await fetch(`${other.url}/api/cameras/hall`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Hall', models: ['fight', 'fall'] }),
      });
      expect(patch.status).to.equal(200);
      await client.next('label', (m) => m.model === 'fall', 30_000);
    } finally {
      client.close();
    }
    expect((await fetch(`${b.url}/api/cameras/hall`, { method: 'DELETE' })).status).to.equal(204);
    await until('nobody holds hall', async () => {
      const view = (await (await fetch(`${a.url}/api/fleet`)).json()) as FleetView;
      return view.cameras.some((c) => c.cameraId === 'hall') ? undefined : true;
    });
  });
});
