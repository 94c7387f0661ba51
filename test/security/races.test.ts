import { expect } from 'chai';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonAnswer } from '../helpers/json.js';
import { ffmpegChildren, settleFfmpeg } from '../helpers/processes.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEMO = join(ROOT, 'fixtures', 'demo.mp4');
const camera = (source = DEMO) => ({ id: 'r', source, model: 'fight', loop: true });

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** 10 PATCHes at once, alternating fps; resolves with their statuses. */
function patches(api: (path: string, init: object) => Promise<{ status: number; body: JsonAnswer }>, n = 10) {
  return Array.from({ length: n }, (_, i) => api('/api/cameras/r', { method: 'PATCH', body: { fps: i % 2 ? 4 : 6 } }));
}

/** Waits until the count of ffmpeg children is exactly `n` and stays there for a second. */
async function steadyFfmpeg(n: number, pid = process.pid, timeoutMs = 20_000): Promise<number[]> {
  const until = Date.now() + timeoutMs;
  let now = ffmpegChildren(pid);
  let since = Date.now();
  for (let last = now.length; Date.now() < until; last = now.length) {
    await sleep(100);
    now = ffmpegChildren(pid);
    if (now.length !== last || now.length !== n) since = Date.now();
    else if (Date.now() - since >= 1000) break;
  }
  return now;
}

describe('security: camera races leave one runner, or none', function () {
  this.timeout(120_000);
  let t: TestServer;

  beforeEach(async () => {
    t = await startTestServer();
  });
  afterEach(async () => {
    await t?.stop();
  });

  it('10 concurrent PATCHes leave exactly one ffmpeg for the camera', async () => {
    expect((await t.api('/api/cameras', { method: 'POST', body: camera() })).status).to.equal(201);
    // One camera is one ffmpeg (the preview rides on it as a second output).
    expect(await steadyFfmpeg(1)).to.have.length(1);
    const answers = await Promise.all(patches(t.api));
    expect(answers.map((a) => a.status)).to.deep.equal(Array(10).fill(200));
    expect(await steadyFfmpeg(1)).to.have.length(1);
    const c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: ['r'] });
    await c.next('label', (m) => m.cameraId === 'r');
    c.close();
  });

  it('a DELETE racing PATCHes removes the camera and stops its runner for good', async () => {
    await t.api('/api/cameras', { method: 'POST', body: camera() });
    const c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: '*' });
    await c.next('label', (m) => m.cameraId === 'r');
    const before = patches(t.api, 5);
    const del = t.api('/api/cameras/r', { method: 'DELETE' });
    const after = patches(t.api, 5);
    expect((await del).status).to.equal(204);
    // Labels already on their way may land a moment later; a live runner keeps sending.
    await sleep(500);
    const mark = c.messages.length;
    const answers = await Promise.all([...before, ...after]);
    for (const a of answers) {
      expect(a.status).to.be.oneOf([200, 404]);
      if (a.status === 404) expect(a.body.error.code).to.equal('VIGIL_ERR_NOT_FOUND');
    }
    await sleep(2000);
    const late = c.messages.slice(mark).filter((m) => m.type === 'label' && m.cameraId === 'r');
    expect(late, 'labels after the DELETE').to.have.length(0);
    expect(await settleFfmpeg(0)).to.deep.equal([]);
    expect((await t.api('/api/cameras/r')).status).to.equal(404);
    expect(t.server.cameras.statuses()).to.deep.equal([]);
    c.close();
  });

  it('close() during PATCHes waits for them and leaves no ffmpeg', async () => {
    await t.api('/api/cameras', { method: 'POST', body: camera() });
    await Promise.all(patches(t.api));
    const inFlight = patches(t.api).map((p) => p.catch(() => undefined));
    await sleep(50);
    await t.server.close();
    await Promise.all(inFlight);
    expect(await settleFfmpeg(0)).to.deep.equal([]);
    // Nothing may start after close(): a runner close() did not know of would retry (1 s,
    // then 2 s backoff), spawning ffmpeg again and again, and keep the process alive.
    const seen = new Set<number>();
    for (const until = Date.now() + 4000; Date.now() < until; await sleep(100)) ffmpegChildren().forEach((pid) => seen.add(pid));
    expect([...seen], 'ffmpeg started after close()').to.deep.equal([]);
  });
});

describe('security: vigil serve exits on SIGTERM after the races', function () {
  this.timeout(120_000);
  let tmp: string;
  let child: ChildProcess | undefined;

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'vigil-races-'));
  });
  after(() => {
    // A server that did not exit, and the ffmpeg it orphans when killed: nothing outlives the test.
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const line of ffmpegReading(tmp)) process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  /** ffmpeg processes, whoever their parent now is, reading this test's own copy of the clip. */
  function ffmpegReading(path: string): string[] {
    const ps = execFileSync('ps', ['-eo', 'pid,stat,args'], { encoding: 'utf8' });
    return ps.split('\n').filter((l) => l.includes('ffmpeg') && l.includes(path) && !/^\s*\d+\s+Z/.test(l));
  }

  it('exits 0 within 15 s and leaves no ffmpeg', async () => {
    const clip = join(tmp, 'races.mp4');
    copyFileSync(DEMO, clip);
    // From source through tsx, so the test checks this tree's code whether or not dist/ is fresh.
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--data', join(tmp, 'data'), '--no-demo'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, VIGIL_LOG_LEVEL: 'warn' },
      },
    );
    child = proc;
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((done) => proc.once('exit', (code) => done(code)));
    const url = await new Promise<string>((done, fail) => {
      let out = '';
      proc.stdout.on('data', (d) => {
        out += d;
        const m = /vigil: serving (http:\/\/\S+?)\/? /.exec(out);
        if (m) done(m[1]);
      });
      void exited.then((code) => fail(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    const api = async (path: string, init: { method?: string; body?: unknown } = {}) => {
      const res = await fetch(url + path, {
        method: init.method ?? 'GET',
        headers: { 'content-type': 'application/json' },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };

    expect((await api('/api/cameras', { method: 'POST', body: camera(clip) })).status).to.equal(201);
    await Promise.all(patches(api));
    await api('/api/cameras', { method: 'POST', body: { ...camera(clip), id: 'r2' } });
    await Promise.all([...patches(api, 5), api('/api/cameras/r', { method: 'DELETE' }), ...patches(api, 5)]);
    // And a race still in flight when the signal comes.
    const inFlight = patches(api).map((p) => p.catch(() => undefined));
    await sleep(50);
    proc.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
    await Promise.all(inFlight);
    expect(code, stderr).to.equal(0);
    await sleep(200);
    expect(ffmpegReading(clip)).to.deep.equal([]);
  });
});
