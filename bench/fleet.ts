/**
 * `npm run bench:fleet`: a fleet of `vigil serve` processes on this machine over a real Redis
 * (Debian's redis-server, started here on a free port), as an operator feels it.
 *
 * 1. Capacity: 2 worker processes (each one inference worker thread: its share of 2 cores) and
 *    an API node; at each step every worker carries N cameras (the demo clip looped at 5 fps).
 *    Latency from the source (`Date.now() - sourceMs`) of labels at the API node's WebSocket
 *    client, and each camera's `lagMs`; the largest N with p95 latency < 250 ms and lag p95 < 1 s
 *    is the cameras per worker at the goal.
 * 2. The Redis hop: the same labels seen by a client of the worker that made them and by a client
 *    of the API node, which gets them through Redis pub/sub: the difference, per label.
 * 3. Failover: 3 workers, 6 cameras; BENCH_KILLS times (10) a worker holding cameras is killed
 *    with SIGKILL, and the time until every one of its cameras labels again at the API node is
 *    taken; the worker is started again and the fleet settles before the next kill.
 * 4. Redis load: commands per second by command over a steady window (INFO commandstats),
 *    per worker and per camera, and what they come to at 100 workers and 2 000 cameras; and
 *    PostgreSQL's (pg_stat_database: transactions, rows written and read) over the same window.
 *
 * The nodes share one store, as a fleet is meant to run: a real PostgreSQL (Debian's, started
 * here on a free port) and one data folder. Env: BENCH_STORE (postgres; `sqlite`: each node its
 * own store), BENCH_STEP_S (10 s a capacity step), BENCH_PER_WORKER (4,8,10,12), BENCH_KILLS
 * (10), BENCH_FPS (5), BENCH_LEASE_MS (the lease, 5000: the default).
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { WebSocket } from 'ws';
import type { FleetView } from '../src/fleet/node.js';
import { percentile } from '../src/numbers.js';
import type { ServerMessage } from '../src/server/protocol.js';
import { textRow } from '../src/text-table.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { startRedis } from '../test/helpers/redis.js';
import { startServe, type ServeProcess } from './serve-process.js';

const STEP_S = Number(process.env.BENCH_STEP_S ?? 10);
const PER_WORKER = (process.env.BENCH_PER_WORKER ?? '4,8,10,12').split(',').map(Number);
const KILLS = Number(process.env.BENCH_KILLS ?? 10);
const FPS = Number(process.env.BENCH_FPS ?? 5);
const LEASE_MS = Number(process.env.BENCH_LEASE_MS ?? 5000);
const ON_POSTGRES = (process.env.BENCH_STORE ?? 'postgres') === 'postgres';
const CLIP = join(process.cwd(), 'fixtures/demo.mp4');
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => percentile(xs, 50);
const ms = (x: number) => `${Math.round(x)} ms`;

const redis = await startRedis();
const admin = new Redis(redis.url);
const root = mkdtempSync(join(tmpdir(), 'vigil-bench-fleet-'));
const postgres = ON_POSTGRES ? await startPostgres() : undefined;
const pgAdmin = postgres ? new pg.Pool({ connectionString: postgres.url, max: 1 }) : undefined;

/** A fresh start for the next part: Redis emptied, and the shared store's schema dropped (the next node makes it again). */
async function resetStores(): Promise<void> {
  await admin.flushall();
  await pgAdmin?.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
}

/**
 * PostgreSQL's counters so far (none on SQLite): commits of the fleet's database, and the rows
 * its tables took and gave (the database's own tuple counters also count the catalog's).
 */
async function pgStats(): Promise<Map<string, number>> {
  if (!pgAdmin) return new Map();
  const { rows } = await pgAdmin.query<Record<string, string>>(
    `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS transactions,
            sum(n_tup_ins) AS inserted, sum(n_tup_upd) AS updated, sum(n_tup_del) AS deleted,
            sum(seq_tup_read) + sum(coalesce(idx_tup_fetch, 0)) AS "rows read"
     FROM pg_stat_user_tables`,
  );
  return new Map(Object.entries(rows[0]).map(([k, v]) => [k, Number(v)]));
}

type Node = ServeProcess & { id: string };

function writeConfig(cameras: number): string {
  const file = join(root, `fleet-${cameras}.json`);
  const list = Array.from({ length: cameras }, (_, i) => ({ id: `cam${i + 1}`, source: CLIP, model: 'fight', fps: FPS, loop: true }));
  writeFileSync(file, JSON.stringify({ demo: false, cameras: list, fleet: { leaseMs: LEASE_MS } }));
  return file;
}

async function startNode(id: string, role: 'worker' | 'api', config: string): Promise<Node> {
  // On PostgreSQL one data folder is the fleet's shared volume; on SQLite each node has its own.
  const args = ['-c', config, '--port', '0', '--data', join(root, postgres ? 'shared' : id), '-q'];
  args.push('--redis', redis.url, '--role', role, '--node-id', id, '--workers', '1');
  if (postgres) args.push('--postgres', postgres.url);
  return { id, ...(await startServe(args, `node ${id}`)) };
}

const stopNode = (n: Node): Promise<void> => n.stop();

/** A client subscribed to every camera; `on` sees each label with its arrival time. */
async function watch(url: string, on: (msg: Extract<ServerMessage, { type: 'label' }>, at: number) => void): Promise<WebSocket> {
  const ws = new WebSocket(url.replace('http', 'ws') + '/ws');
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'subscribe', cameras: '*' }));
  ws.on('message', (d) => {
    const at = Date.now();
    const m = JSON.parse((d as Buffer).toString()) as ServerMessage;
    if (m.type === 'label') on(m, at);
  });
  return ws;
}

async function fleet(api: Node): Promise<FleetView> {
  return (await (await fetch(`${api.url}/api/fleet`)).json()) as FleetView;
}

/** Worker id → its cameras, once every camera is held once and the spread is even. */
async function settled(api: Node, cameras: number, workers: number, timeoutMs = 60_000): Promise<Map<string, string[]>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fleet(api);
    const ws = v.nodes.filter((n) => n.roles.includes('worker'));
    const held = ws.flatMap((n) => n.cameras);
    const even = ws.length === workers && ws.every((n) => Math.abs(n.cameras.length - cameras / workers) < 1);
    if (held.length === cameras && new Set(held).size === cameras && even) return new Map(ws.map((n) => [n.id, n.cameras]));
    if (Date.now() > end) throw new Error(`the fleet did not settle: ${JSON.stringify(v.nodes.map((n) => [n.id, n.cameras.length]))}`);
    await wait(200);
  }
}

async function lagP95(api: Node): Promise<number> {
  const cams = ((await (await fetch(`${api.url}/api/cameras`)).json()) as { cameras: { status: { lagMs: number } }[] }).cameras;
  return percentile(
    cams.map((c) => c.status.lagMs),
    95,
  );
}

const machine = cpus()[0]?.model.trim() ?? 'unknown CPU';
console.log(
  `vigil fleet bench on ${machine}, ${availableParallelism()} cores; Redis ${redis.url}; ` +
    `${postgres ? 'one store on PostgreSQL' : 'a SQLite store per node'}; lease ${LEASE_MS} ms`,
);

// 1 and 2: capacity steps, and the Redis hop on the way.
console.log(`\n1. capacity: 2 workers (1 inference thread each) + an API node, ${FPS} fps cameras, ${STEP_S} s a step`);
const HEAD = ['per worker', 'cameras', 'labels/s', 'of expected', 'latency p50', 'p95 (API node)', 'lag p95', 'hop p50', 'hop p95'];
const WIDTHS = HEAD.map((h) => Math.max(h.length, 8));
const row = (cells: readonly (string | number)[]) => textRow(cells.map(String), WIDTHS, { align: 'right' });
console.log(row(HEAD));
let atGoal = 0;
const hops: number[] = [];
let commandWindow:
  { cameras: number; workers: number; perSec: Map<string, number>; pgPerSec: Map<string, number>; labelsPerSec: number } | undefined;
for (const per of PER_WORKER) {
  const cameras = per * 2;
  const config = writeConfig(cameras);
  await resetStores();
  // One first on a fresh store: it makes the schema and writes the file's cameras.
  const workers = [await startNode('w1', 'worker', config)];
  workers.push(await startNode('w2', 'worker', config));
  const api = await startNode('api', 'api', config);
  await settled(api, cameras, 2);
  const direct = new Map<string, number>();
  const latencies: number[] = [];
  const stepHops: number[] = [];
  let labels = 0;
  let measuring = false;
  const key = (m: { cameraId: string; model: string; tMs: number }) => `${m.cameraId}|${m.model}|${m.tMs}`;
  const clients = await Promise.all(
    workers.map((w) =>
      watch(w.url, (m, at) => {
        if (measuring) direct.set(key(m), at);
      }),
    ),
  );
  clients.push(
    await watch(api.url, (m, at) => {
      if (!measuring) return;
      labels += 1;
      latencies.push(at - m.sourceMs);
      const d = direct.get(key(m));
      if (d !== undefined) stepHops.push(at - d);
    }),
  );
  await wait(3000); // every camera past its start
  const before = await commandStats();
  const pgBefore = await pgStats();
  const t0 = Date.now();
  measuring = true;
  const lags: number[] = [];
  while (Date.now() - t0 < STEP_S * 1000) {
    await wait(1000);
    lags.push(await lagP95(api));
  }
  measuring = false;
  const seconds = (Date.now() - t0) / 1000;
  const after = await commandStats();
  const pgAfter = await pgStats();
  const perSec = new Map([...after].map(([c, n]) => [c, (n - (before.get(c) ?? 0)) / seconds]));
  const pgPerSec = new Map([...pgAfter].map(([c, n]) => [c, (n - (pgBefore.get(c) ?? 0)) / seconds]));
  commandWindow = { cameras, workers: 2, perSec, pgPerSec, labelsPerSec: labels / seconds };
  for (const c of clients) c.close();
  await Promise.all([...workers, api].map(stopNode));
  const p95 = percentile(latencies, 95);
  const lag = percentile(lags, 95);
  if (p95 < 250 && lag < 1000 && labels / seconds >= 0.95 * cameras * FPS) atGoal = per;
  hops.push(...stepHops);
  console.log(
    row([
      per,
      cameras,
      (labels / seconds).toFixed(1),
      `${Math.round((100 * labels) / seconds / (cameras * FPS))}%`,
      ms(percentile(latencies, 50)),
      ms(p95),
      ms(lag),
      ms(percentile(stepHops, 50)),
      ms(percentile(stepHops, 95)),
    ]),
  );
}
console.log(`cameras per worker at the goal (p95 < 250 ms, lag p95 < 1 s, labels >= 95%): ${atGoal || 'none of the steps'}`);
console.log(
  `2. the Redis hop (API node's client against the worker's own, same labels, ${hops.length} labels): ` +
    `median ${ms(median(hops))}, p95 ${ms(percentile(hops, 95))}`,
);

// 3: failover.
console.log(`\n3. failover: 3 workers, 6 cameras, ${KILLS} kills (SIGKILL) of a worker holding cameras`);
await resetStores();
const config = writeConfig(6);
const workers = new Map<string, Node>();
workers.set('w1', await startNode('w1', 'worker', config));
for (const n of await Promise.all(['w2', 'w3'].map((id) => startNode(id, 'worker', config)))) workers.set(n.id, n);
const api = await startNode('api', 'api', config);
let placement = await settled(api, 6, 3);
const lastLabel = new Map<string, number>();
const client = await watch(api.url, (m, at) => lastLabel.set(m.cameraId, at));
const failovers: number[] = [];
for (let k = 0; k < KILLS; k++) {
  const victim = [...placement.keys()][k % placement.size];
  const orphans = placement.get(victim)!;
  const killedAt = Date.now();
  workers.get(victim)!.child.kill('SIGKILL');
  await workers.get(victim)!.exited;
  for (;;) {
    if (orphans.every((c) => (lastLabel.get(c) ?? 0) > killedAt + 200)) break;
    if (Date.now() - killedAt > 30_000) throw new Error(`kill ${k + 1}: ${orphans.join(', ')} did not come back within 30 s`);
    await wait(20);
  }
  failovers.push(Math.max(...orphans.map((c) => lastLabel.get(c)!)) - killedAt);
  workers.set(victim, await startNode(victim, 'worker', config));
  placement = await settled(api, 6, 3);
}
client.close();
await Promise.all([...workers.values(), api].map(stopNode));
console.log(
  `labels of the killed worker's cameras back at the API node after: median ${ms(median(failovers))}, max ${ms(Math.max(...failovers))} ` +
    `(${failovers.map((f) => (f / 1000).toFixed(1)).join(', ')} s)`,
);

// 4: Redis load, and what it comes to at scale.
if (commandWindow) {
  const { cameras, workers: n, perSec, labelsPerSec } = commandWindow;
  const total = [...perSec.values()].reduce((a, b) => a + b, 0);
  console.log(
    `\n4. Redis commands/s at the last capacity step (${n} workers, ${cameras} cameras, ${labelsPerSec.toFixed(0)} labels/s): ${total.toFixed(0)}`,
  );
  for (const [c, r] of [...perSec].sort((a, b) => b[1] - a[1])) if (r >= 0.05) console.log(`   ${c.padEnd(10)} ${r.toFixed(1)}/s`);
  const publishes = perSec.get('publish') ?? 0;
  const perCamera = publishes / cameras;
  const perWorker = (total - publishes) / n;
  const W = 100;
  const C = 2000;
  const intervalS = LEASE_MS / 3 / 1000;
  // Per worker and interval the coordinator sends: the heartbeat (MULTI SET SADD EXEC), one renewal
  // (EVALSHA), the members list (EVALSHA over W members) and the holders (MGET of all C leases).
  const mgetKeysPerSec = (W * C) / intervalS;
  const memberReadsPerSec = (W * W) / intervalS;
  const publishAtScale = perCamera * C;
  console.log(
    [
      `at ${W} workers and ${C} cameras (${FPS} fps, one API node):`,
      `   live fan-out: ${perCamera.toFixed(2)} PUBLISH/s per camera x ${C} = ${publishAtScale.toFixed(0)} PUBLISH/s, each delivered to every API node`,
      `   coordination: ${perWorker.toFixed(1)} commands/s per worker x ${W} = ${(perWorker * W).toFixed(0)} commands/s, but the keys they touch grow as`,
      `     workers x cameras: every worker MGETs all ${C} leases every ${intervalS.toFixed(2)} s = ${(mgetKeysPerSec / 1000).toFixed(0)}k key reads/s,`,
      `     and lists ${W} members = ${(memberReadsPerSec / 1000).toFixed(1)}k reads/s`,
      `   what runs out first: one Redis thread serves roughly 100k-200k small operations/s, so the ${(mgetKeysPerSec / 1000).toFixed(0)}k lease reads/s`,
      `     of placement, then the ${(publishAtScale / 1000).toFixed(0)}k PUBLISH/s of labels; reading only the leases a worker needs (or a`,
      `     leases hash read by one leader) and publishing per-camera channels to the API nodes that have subscribers would fix both.`,
    ].join('\n'),
  );
  if (commandWindow.pgPerSec.size > 0) {
    const pgs = commandWindow.pgPerSec;
    const writes = (pgs.get('inserted') ?? 0) + (pgs.get('updated') ?? 0) + (pgs.get('deleted') ?? 0);
    const reads = pgs.get('rows read') ?? 0;
    const tx = pgs.get('transactions') ?? 0;
    console.log(
      [
        `PostgreSQL at the same step: ${[...pgs].map(([k, v]) => `${k} ${v.toFixed(1)}/s`).join(', ')}`,
        `   rows written: ${(writes / cameras).toFixed(2)}/s per camera on this clip (events opening and ending, an open one's`,
        `     figures with each update, a second apart; labels are not stored) x ${C} = ${((writes / cameras) * C).toFixed(0)}/s,`,
        `     and ${(tx / cameras).toFixed(2)} transactions/s per camera (reads included) x ${C} = ${((tx / cameras) * C).toFixed(0)}/s;`,
        `   rows read: ${(reads / n).toFixed(0)}/s per worker (each placement tick reads the camera list)` +
          ` x ${W} = ${(((reads / n) * W) / 1000).toFixed(0)}k/s`,
        `     at ${C} cameras that list alone is ${C} rows x ${W} workers every ${intervalS.toFixed(2)} s` +
          ` = ${((C * W) / intervalS / 1000).toFixed(0)}k rows/s.`,
      ].join('\n'),
    );
  }
}

await admin.quit();
await pgAdmin?.end();
await Promise.all([redis.dispose(), postgres?.dispose()]);
rmSync(root, { recursive: true, force: true });

/** Calls so far by command, from INFO commandstats. */
async function commandStats(): Promise<Map<string, number>> {
  const info = await admin.info('commandstats');
  const out = new Map<string, number>();
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([a-z|]+):calls=(\d+)/.exec(line.trim());
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}
