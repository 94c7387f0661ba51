/**
 * `npm run bench:live`: the live service under load, on this machine.
 *   frame → label latency at a WebSocket client (p50, p95) for one camera and under load ·
 *   how many 5-fps file cameras run without falling behind · memory per camera (vigil plus
 *   its ffmpeg processes) · memory at the end of a long run vs after its first minute.
 * Goals (issue 5; figures, not pass/fail): p95 ≤ 250 ms, ≥ 16 cameras on 2 cores, flat memory.
 * Latency is from the moment a frame leaves ffmpeg (`wallMs`) to its label at the client.
 * Env: BENCH_STEP_S (seconds per load step, 10), BENCH_MAX_CAMERAS (32), BENCH_SOAK_MIN (2),
 * BENCH_RECORD=1 (every camera also records continuously, in 10 s segments).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startServer } from '../src/server/app.js';
import type { ServerMessage } from '../src/server/protocol.js';

const FIXTURE = join(process.cwd(), 'fixtures', 'fight-fi002.mp4');
const FPS = 5;
const STEP_S = Number(process.env.BENCH_STEP_S ?? 10);
const MAX_CAMERAS = Number(process.env.BENCH_MAX_CAMERAS ?? 32);
const SOAK_MIN = Number(process.env.BENCH_SOAK_MIN ?? 2);
const RECORD = process.env.BENCH_RECORD === '1' ? { mode: 'continuous', segmentS: 10 } : { mode: 'off' };

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const mib = (kb: number) => (kb / 1024).toFixed(0);

/** RSS in KiB of this process and every ffmpeg it started. */
function rss(): { node: number; ffmpeg: number } {
  const node = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  let ffmpeg = 0;
  try {
    const out = execFileSync('ps', ['--ppid', String(process.pid), '-o', 'rss=,comm='], { encoding: 'utf8' });
    for (const line of out.trim().split('\n')) {
      const [kb, comm] = line.trim().split(/\s+/);
      if (comm?.startsWith('ffmpeg')) ffmpeg += Number(kb);
    }
  } catch {
    // no children
  }
  return { node, ffmpeg };
}

const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
const server = await startServer({ port: 0, dataDir, demo: false });
const latencies: number[] = [];
const perCamera = new Map<string, number>();
const ws = new WebSocket(server.url.replace('http', 'ws') + '/ws');
await new Promise((r) => ws.once('open', r));
ws.send(JSON.stringify({ type: 'subscribe', cameras: '*' }));
ws.on('message', (d) => {
  const m = JSON.parse(d.toString()) as ServerMessage;
  if (m.type !== 'label') return;
  latencies.push(Date.now() - m.wallMs);
  perCamera.set(m.cameraId, (perCamera.get(m.cameraId) ?? 0) + 1);
});

async function addCamera(i: number): Promise<void> {
  const res = await fetch(`${server.url}/api/cameras`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: `cam-${i}`, source: FIXTURE, model: 'fight', fps: FPS, loop: true, record: RECORD }),
  });
  if (res.status !== 201) throw new Error(`camera ${i}: ${res.status} ${await res.text()}`);
}

async function dropped(): Promise<number> {
  const list = (await (await fetch(`${server.url}/api/cameras`)).json()) as { cameras: Array<{ status: { dropped: number } }> };
  return list.cameras.reduce((s, c) => s + c.status.dropped, 0);
}

const wait = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const base = rss();
console.log(`vigil live bench: ${FPS}-fps file cameras on ${FIXTURE}, ${STEP_S} s a step, recording ${RECORD.mode}`);
console.log('cameras  labels/s  expected  dropped/s  p50 ms  p95 ms  node MiB  ffmpeg MiB  sustained');
let cameras = 0;
let best = 0;
const rows: Array<{ n: number; node: number; ffmpeg: number }> = [];
for (const target of [1, 2, 4, 8, 12, 16, 20, 24, 28, 32].filter((n) => n <= MAX_CAMERAS)) {
  while (cameras < target) await addCamera(cameras++);
  await wait(3); // ffmpeg start, first frames
  latencies.length = 0;
  perCamera.clear();
  const d0 = await dropped();
  await wait(STEP_S);
  const rate = [...perCamera.values()].reduce((a, b) => a + b, 0) / STEP_S;
  const dropRate = ((await dropped()) - d0) / STEP_S;
  const p50 = pct(latencies, 50);
  const p95 = pct(latencies, 95);
  const m = rss();
  rows.push({ n: cameras, ...m });
  // Behind = labels short of the cameras' rate, or frames dropped, or latency past the goal.
  const ok = rate >= 0.95 * cameras * FPS && dropRate <= 0.02 * cameras * FPS && p95 <= 250;
  if (ok) best = cameras;
  console.log(
    `${String(cameras).padStart(7)}  ${rate.toFixed(1).padStart(8)}  ${String(cameras * FPS).padStart(8)}  ${dropRate.toFixed(1).padStart(9)}  ${p50.toFixed(0).padStart(6)}  ${p95.toFixed(0).padStart(6)}  ${mib(m.node).padStart(8)}  ${mib(m.ffmpeg).padStart(10)}  ${ok ? 'yes' : 'no'}`,
  );
  if (!ok && cameras >= 4 && rate < 0.8 * cameras * FPS) break;
}
const last = rows[rows.length - 1];
const first = rows[0];
const perCam = (last.node + last.ffmpeg - first.node - first.ffmpeg) / Math.max(1, last.n - first.n);
console.log(`\ncameras sustained: ${best} (goal ≥ 16)`);
console.log(`memory per camera: ${mib(perCam)} MiB (node + ffmpeg, slope from ${first.n} to ${last.n} cameras); before any camera: node ${mib(base.node)} MiB`);

// Soak: one camera for SOAK_MIN minutes; memory after the first minute vs at the end.
const all = await (await fetch(`${server.url}/api/cameras`)).json() as { cameras: Array<{ id: string }> };
for (const c of all.cameras.slice(1)) await fetch(`${server.url}/api/cameras/${c.id}`, { method: 'DELETE' });
latencies.length = 0;
await wait(60);
const atOne = rss();
const oneMinLatency = [pct(latencies, 50), pct(latencies, 95)];
await wait(Math.max(0, SOAK_MIN - 1) * 60);
const atEnd = rss();
console.log(`one camera, latency over the soak: p50 ${oneMinLatency[0].toFixed(0)} ms, p95 ${oneMinLatency[1].toFixed(0)} ms (after 1 min); p50 ${pct(latencies, 50).toFixed(0)}, p95 ${pct(latencies, 95).toFixed(0)} ms (whole run)`);
console.log(`memory: node ${mib(atOne.node)} → ${mib(atEnd.node)} MiB, ffmpeg ${mib(atOne.ffmpeg)} → ${mib(atEnd.ffmpeg)} MiB (after 1 min → after ${SOAK_MIN} min)`);
ws.close();
await server.close();
rmSync(dataDir, { recursive: true, force: true });
