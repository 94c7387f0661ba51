/**
 * `npm run bench:live`: the live service under load, on this machine, as the user feels it.
 * The server is `vigil serve` in its own process (through tsx: no build needed), so the
 * bench's client does not share its CPU and its main thread can be told apart in /proc.
 *
 * 1. Stage costs, from 2 cameras for one step: ffmpeg's CPU and vigil's (main thread and
 *    inference workers) per labelled frame, summed; the bench's own arithmetic then says how
 *    many cameras the machine can carry: cores × 1000 / core-ms per frame / fps.
 * 2. A sweep of camera counts. At each: labels/s against expected, drops/s, latency from the
 *    source (`Date.now() - sourceMs` at a WebSocket client: when the source showed the frame
 *    to when its label arrived), each camera's `lagMs` (polled from `GET /api/status`,
 *    p95 over cameras and polls), and how long `GET /api/status` takes (p99).
 *    A count is sustained when labels ≥ 95% of expected, lag p95 < 1 s, latency p95 < 250 ms
 *    and status p99 < 50 ms; the count at which each criterion first fails is printed, and
 *    the sustained count as a share of the arithmetic's.
 * 3. Memory per camera (vigil + its ffmpeg, slope over the sweep) and a soak: one camera for
 *    BENCH_SOAK_MIN minutes, memory after the first minute against the end.
 *
 * Env: BENCH_STEP_S (seconds a step, 10), BENCH_MAX_CAMERAS (40), BENCH_SOAK_MIN (2; 0 skips),
 * BENCH_WORKERS (inference workers; 0 = label on the main thread, as before issue 14),
 * BENCH_MODEL (fight), BENCH_CLIP (fixtures/demo.mp4; `quiet`: the demo clip then 20 s of its last
 * frame held, a mostly still scene for motion gating), BENCH_FPS (5), VIGIL_MOTION_GATE (the server's),
 * BENCH_RECORD=1 (every camera also records continuously, in 10 s segments),
 * BENCH_MODELS (e.g. `fight,fall`: every camera runs these models on one decode; the stage costs
 * are then per camera frame, measured first with the first model alone and then with all, and
 * the difference is what the further models cost a camera; overrides BENCH_MODEL).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { percentile } from '../src/numbers.js';
import type { CameraStatus, ServerMessage } from '../src/server/protocol.js';
import { textRow } from '../src/text-table.js';
import { quietClip } from './clips.js';
import { startServe } from './serve-process.js';

const QUIET = process.env.BENCH_CLIP === 'quiet';
const CLIP = QUIET ? await quietClip() : join(process.cwd(), process.env.BENCH_CLIP ?? 'fixtures/demo.mp4');
const MODELS = (process.env.BENCH_MODELS ?? process.env.BENCH_MODEL ?? 'fight').split(',').filter(Boolean);
const MODEL = MODELS.join(', ');
const FPS = Number(process.env.BENCH_FPS ?? 5);
const STEP_S = Number(process.env.BENCH_STEP_S ?? 10);
const MAX_CAMERAS = Number(process.env.BENCH_MAX_CAMERAS ?? 40);
const SOAK_MIN = Number(process.env.BENCH_SOAK_MIN ?? 2);
const WORKERS = process.env.BENCH_WORKERS === undefined ? undefined : Number(process.env.BENCH_WORKERS);
const RECORD = process.env.BENCH_RECORD === '1' ? { mode: 'continuous', segmentS: 10 } : { mode: 'off' };
const CORES = availableParallelism();
/** /proc/<pid>/stat counts CPU time in clock ticks: USER_HZ is 100 on Linux. */
const TICK_S = 1 / 100;

const mib = (kb: number) => (kb / 1024).toFixed(0);
const wait = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

/** CPU seconds (user + system) from a /proc stat line: utime and stime follow the command. */
function cpuSeconds(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_S;
}

const rssKbOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

/** The server's ffmpeg children: pid → CPU seconds so far and RSS in KiB. */
function ffmpegs(): Map<number, { cpuS: number; rssKb: number }> {
  const out = new Map<number, { cpuS: number; rssKb: number }>();
  let pids: number[] = [];
  try {
    pids = execFileSync('ps', ['--ppid', String(serverPid), '-o', 'pid=,comm='], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([, comm]) => comm?.startsWith('ffmpeg'))
      .map(([pid]) => Number(pid));
  } catch {
    // no children
  }
  for (const pid of pids) {
    try {
      out.set(pid, { cpuS: cpuSeconds(`/proc/${pid}/stat`), rssKb: rssKbOf(pid) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

const rss = () => ({ node: rssKbOf(serverPid), ffmpeg: [...ffmpegs().values()].reduce((s, p) => s + p.rssKb, 0) });

async function startServerProcess(dataDir: string) {
  const args = ['--port', '0', '--data', dataDir, '--no-demo', '-q'];
  if (WORKERS !== undefined) args.push('--workers', String(WORKERS));
  const served = await startServe(args);
  return { url: served.url, pid: served.child.pid!, close: () => served.stop() };
}

const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
const server = await startServerProcess(dataDir);
const serverPid = server.pid;
const latencies: number[] = [];
let labels = 0;
const ws = new WebSocket(server.url.replace('http', 'ws') + '/ws');
await new Promise((r) => ws.once('open', r));
ws.send(JSON.stringify({ type: 'subscribe', cameras: '*' }));
ws.on('message', (d) => {
  // binaryType is the default 'nodebuffer', so each message arrives as one Buffer.
  const m = JSON.parse((d as Buffer).toString()) as ServerMessage;
  if (m.type !== 'label') return;
  labels += 1;
  latencies.push(Date.now() - m.sourceMs);
});

async function addCamera(i: number, models = MODELS): Promise<void> {
  const res = await fetch(`${server.url}/api/cameras`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: `cam-${i}`, source: CLIP, models, fps: FPS, loop: true, record: RECORD }),
  });
  if (res.status !== 201) throw new Error(`camera ${i}: ${res.status} ${await res.text()}`);
}

async function setModels(i: number, models: string[]): Promise<void> {
  const res = await fetch(`${server.url}/api/cameras/cam-${i}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ models }),
  });
  if (res.status !== 200) throw new Error(`camera ${i}: ${res.status} ${await res.text()}`);
}

/** A step's CPU per camera frame (each model labels every frame: labels / models). */
function perCameraFrame(r: Step, models: number) {
  const frames = (r.labelsPerS * STEP_S) / models;
  return { frames, ff: r.cpu.ffmpeg / frames, node: r.cpu.node / frames, main: r.cpu.main / frames };
}

interface Step {
  cameras: number;
  labelsPerS: number;
  droppedPerS: number;
  latency: number[];
  lag: number[];
  statusMs: number[];
  behind: number;
  /** Share of the step's labelled frames that skipped the CNN (motion gating). */
  gatedShare: number;
  /** CPU ms in the step: the server process (all threads), its main thread, its ffmpegs. */
  cpu: { node: number; main: number; ffmpeg: number };
  workersBusy: number[];
}

/** One step: polls /api/status every 250 ms (lag, and how fast it answers) while labels arrive. */
async function step(cameras: number): Promise<Step> {
  const statusMs: number[] = [];
  const lag: number[] = [];
  let dropped0 = -1;
  let dropped = 0;
  let gated0 = -1;
  let gated = 0;
  let frames0 = -1;
  let framesN = 0;
  let behind = 0;
  let workersBusy: number[] = [];
  const poll = async () => {
    const t = performance.now();
    const s = (await (await fetch(`${server.url}/api/status`)).json()) as { cameras: CameraStatus[]; workers: Array<{ busy: number }> };
    statusMs.push(performance.now() - t);
    const d = s.cameras.reduce((a, c) => a + c.dropped, 0);
    if (dropped0 < 0) dropped0 = d;
    dropped = d - dropped0;
    const g = s.cameras.reduce((a, c) => a + c.gated, 0);
    const n = s.cameras.reduce((a, c) => a + c.frames, 0);
    if (gated0 < 0) [gated0, frames0] = [g, n];
    [gated, framesN] = [g - gated0, n - frames0];
    for (const c of s.cameras) if (c.state === 'live' || c.state === 'behind') lag.push(c.lagMs);
    behind = Math.max(behind, s.cameras.filter((c) => c.state === 'behind').length);
    workersBusy = s.workers.map((w) => w.busy);
  };
  await poll(); // also resets the workers' busy window
  statusMs.length = 0; // the first poll of a step warms up; it is not a figure
  latencies.length = 0;
  labels = 0;
  const ff0 = ffmpegs();
  const node0 = cpuSeconds(`/proc/${serverPid}/stat`);
  const main0 = cpuSeconds(`/proc/${serverPid}/task/${serverPid}/stat`);
  const t0 = performance.now();
  const until = t0 + STEP_S * 1000;
  while (performance.now() < until) {
    await wait(0.25);
    await poll();
  }
  const s = (performance.now() - t0) / 1000;
  const node = (cpuSeconds(`/proc/${serverPid}/stat`) - node0) * 1000;
  const main = (cpuSeconds(`/proc/${serverPid}/task/${serverPid}/stat`) - main0) * 1000;
  let ffCpu = 0;
  for (const [pid, p] of ffmpegs()) ffCpu += p.cpuS - (ff0.get(pid)?.cpuS ?? p.cpuS);
  return {
    cameras,
    labelsPerS: labels / s,
    droppedPerS: dropped / s,
    latency: [...latencies],
    lag,
    statusMs,
    behind,
    gatedShare: framesN > 0 ? gated / framesN : 0,
    cpu: { node, main, ffmpeg: ffCpu * 1000 },
    workersBusy,
  };
}

const machine = cpus()[0]?.model.trim() ?? 'unknown CPU';
console.log(`vigil live bench on ${machine}, ${CORES} cores; ${server.url}`);
console.log(
  `${FPS}-fps file cameras on ${CLIP} (model ${MODEL}, looped, realtime), ${STEP_S} s a step, recording ${RECORD.mode}, ` +
    `inference ${WORKERS === 0 ? 'on the main thread' : `in ${WORKERS ?? CORES} worker threads`}`,
);

// 1. Stage costs at 2 cameras: well inside capacity, so nothing is dropped and every
// frame's cost is counted. With several models, first the first one alone: the difference is
// what the others cost a camera.
const stageLine = (what: string, c: ReturnType<typeof perCameraFrame>) =>
  `${what} (2 cameras, ${c.frames.toFixed(0)} frames): ffmpeg ${c.ff.toFixed(1)} core-ms/frame + vigil ${c.node.toFixed(1)} ` +
  `(main thread ${c.main.toFixed(1)}, other threads: inference workers, GC ${(c.node - c.main).toFixed(1)}) = ${(c.ff + c.node).toFixed(1)} core-ms/frame`;
let alone: ReturnType<typeof perCameraFrame> | undefined;
if (MODELS.length > 1) {
  await addCamera(0, MODELS.slice(0, 1));
  await addCamera(1, MODELS.slice(0, 1));
  await wait(4);
  alone = perCameraFrame(await step(2), 1);
  console.log(`\n${stageLine(`stage costs, ${MODELS[0]} alone`, alone)}`);
  await setModels(0, MODELS);
  await setModels(1, MODELS);
} else {
  await addCamera(0);
  await addCamera(1);
}
let cameras = 2;
await wait(4);
const probe = await step(2);
const cost = perCameraFrame(probe, MODELS.length);
const coreMs = cost.ff + cost.node;
const capacity = (CORES * 1000) / coreMs / FPS;
console.log(`${alone ? '' : '\n'}${stageLine(MODELS.length > 1 ? `stage costs, ${MODEL} on one decode` : 'stage costs', cost)}`);
if (alone) {
  const more = coreMs - (alone.ff + alone.node);
  console.log(
    `${MODELS.slice(1).join(', ')} on the same decode: +${more.toFixed(1)} core-ms per camera frame ` +
      `(ffmpeg +${(cost.ff - alone.ff).toFixed(1)}, vigil +${(cost.node - alone.node).toFixed(1)}), ` +
      `${((100 * more) / (alone.ff + alone.node)).toFixed(0)}% more than ${MODELS[0]} alone`,
  );
}
console.log(`arithmetic: ${CORES} cores × 1000 / ${coreMs.toFixed(1)} core-ms / ${FPS} fps = ${capacity.toFixed(1)} cameras`);

// 2. Sweep.
const header = [
  'cameras',
  'labels/s',
  'expected',
  'dropped/s',
  'latency p50/p95 ms',
  'lagMs p50/p95',
  'status p99 ms',
  'behind',
  'gated',
  'main core',
  'workers busy',
  'node MiB',
  'ffmpeg MiB',
  'ok',
];
// Rows print as each step ends: the header's cells set the widths.
const sweepRow = (cells: string[]) =>
  textRow(
    cells,
    header.map((h) => h.length),
    { align: 'right' },
  );
console.log(`\n${sweepRow(header)}`);
const firstFail: Record<string, number | undefined> = { labels: undefined, lag: undefined, latency: undefined, status: undefined };
let best = 0;
const mem: Array<{ n: number; node: number; ffmpeg: number }> = [];
const counts = [2, 4, 8, 12, 16, 18, 20, 22, 24, 28, 32, 36, 40, 48, 56, 64].filter((n) => n <= MAX_CAMERAS);
for (const target of counts) {
  while (cameras < target) await addCamera(cameras++);
  await wait(3); // ffmpeg start, first frames
  const r = target === 2 ? probe : await step(cameras);
  const m = rss();
  mem.push({ n: cameras, ...m });
  const lat = [percentile(r.latency, 50), percentile(r.latency, 95)];
  const lag = [percentile(r.lag, 50), percentile(r.lag, 95)];
  const st = percentile(r.statusMs, 99);
  const checks = {
    labels: r.labelsPerS >= 0.95 * cameras * FPS * MODELS.length,
    lag: lag[1] < 1000,
    latency: lat[1] < 250,
    status: st < 50,
  };
  for (const [k, ok] of Object.entries(checks)) if (!ok) firstFail[k] ??= cameras;
  const ok = Object.values(checks).every(Boolean);
  if (ok && Object.values(firstFail).every((f) => f === undefined)) best = cameras;
  console.log(
    sweepRow([
      String(cameras),
      r.labelsPerS.toFixed(1),
      String(cameras * FPS * MODELS.length),
      r.droppedPerS.toFixed(1),
      `${lat[0].toFixed(0)}/${lat[1].toFixed(0)}`,
      `${lag[0].toFixed(0)}/${lag[1].toFixed(0)}`,
      st.toFixed(1),
      String(r.behind),
      `${(100 * r.gatedShare).toFixed(0)}%`,
      (r.cpu.main / (STEP_S * 1000)).toFixed(2),
      r.workersBusy.map((b) => b.toFixed(2)).join(' '),
      mib(m.node),
      mib(m.ffmpeg),
      ok ? 'yes' : 'no',
    ]),
  );
  // Far past the machine: stop adding.
  if (!ok && r.labelsPerS < 0.6 * cameras * FPS * MODELS.length) break;
}
const fails = Object.entries(firstFail).map(([k, n]) => `${k} at ${n ?? `> ${cameras}`}`);
console.log(
  `\nsustained: ${best} cameras = ${((100 * best) / capacity).toFixed(0)}% of the arithmetic's ${capacity.toFixed(1)} (goal ≥ 85%)`,
);
console.log(`first failures: ${fails.join(', ')} (labels ≥ 95% of expected, lagMs p95 < 1000, latency p95 < 250 ms, status p99 < 50 ms)`);
const last = mem[mem.length - 1];
const first = mem[0];
const perCam = (last.node + last.ffmpeg - first.node - first.ffmpeg) / Math.max(1, last.n - first.n);
console.log(`memory per camera: ${mib(perCam)} MiB (node + ffmpeg, slope from ${first.n} to ${last.n} cameras)`);

// 3. Soak: one camera; memory after the first minute vs at the end.
if (SOAK_MIN > 0) {
  const all = (await (await fetch(`${server.url}/api/cameras`)).json()) as { cameras: Array<{ id: string }> };
  for (const c of all.cameras.slice(1)) await fetch(`${server.url}/api/cameras/${c.id}`, { method: 'DELETE' });
  latencies.length = 0;
  await wait(60);
  const atOne = rss();
  const oneMin = [percentile(latencies, 50), percentile(latencies, 95)];
  await wait(Math.max(0, SOAK_MIN - 1) * 60);
  const atEnd = rss();
  console.log(
    `one camera: latency from the source p50 ${oneMin[0].toFixed(0)} ms, p95 ${oneMin[1].toFixed(0)} ms (first minute); ` +
      `p50 ${percentile(latencies, 50).toFixed(0)}, p95 ${percentile(latencies, 95).toFixed(0)} ms (whole soak)`,
  );
  console.log(
    `memory: node ${mib(atOne.node)} → ${mib(atEnd.node)} MiB, ffmpeg ${mib(atOne.ffmpeg)} → ${mib(atEnd.ffmpeg)} MiB ` +
      `(after 1 min → after ${SOAK_MIN} min)`,
  );
}
ws.close();
await server.close();
rmSync(dataDir, { recursive: true, force: true });
