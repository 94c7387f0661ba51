import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { resolveFfmpeg } from '../../src/video/ffmpeg.js';
import { fixture } from '../helpers/clips.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

const exec = promisify(execFile);

/**
 * An IP camera's MJPEG feed (`multipart/x-mixed-replace`, 10 JPEGs a second, looped) on a
 * port that can be taken down and brought back, as a camera that reboots.
 */
async function mjpegCamera(jpegs: Buffer[], port = 0) {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((_req, res: ServerResponse) => {
    res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace;boundary=frame' });
    let i = 0;
    const t = setInterval(() => {
      const jpeg = jpegs[i++ % jpegs.length];
      res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
      res.write(jpeg);
      res.write('\r\n');
    }, 100);
    timers.add(t);
    res.on('close', () => clearInterval(t));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((done) => {
        for (const t of timers) clearInterval(t);
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  };
}

/** Serves a folder (an HLS playlist and its segments). */
async function serveDir(dir: string) {
  const server = createServer((req, res) => {
    // http does not wait for its handler: a failure is answered 404 in the catch.
    void (async () => {
      try {
        const body = await readFile(join(dir, (req.url ?? '/').slice(1).replace(/\.\./g, '')));
        res.writeHead(200, { 'Content-Type': req.url?.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t' });
        res.end(body);
      } catch {
        res.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { port: (server.address() as { port: number }).port, close: () => new Promise<void>((done) => server.close(() => done())) };
}

describe('server: network camera sources', function () {
  this.timeout(90_000);
  let t: TestServer;
  let work: string;
  let jpegs: Buffer[];

  before(async () => {
    t = await startTestServer({ maxBackoffMs: 500 });
    work = await mkdtemp(join(tmpdir(), 'vigil-sources-'));
    const { ffmpeg } = await resolveFfmpeg();
    await exec(ffmpeg.path, ['-v', 'error', '-i', fixture('fight-fi002.mp4'), '-vf', 'fps=10', '-q:v', '5', join(work, 'f%03d.jpg')]);
    const names = (await readdir(work)).filter((n) => n.endsWith('.jpg')).sort();
    jpegs = await Promise.all(names.map((n) => readFile(join(work, n))));
    await exec(ffmpeg.path, [
      '-v',
      'error',
      '-i',
      fixture('demo.mp4'),
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-g',
      '25',
      '-f',
      'hls',
      '-hls_time',
      '1',
      '-hls_list_size',
      '0',
      join(work, 'live.m3u8'),
    ]);
  });
  after(async () => {
    await t?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('labels an MJPEG camera, rides out its reboot with backoff, and keeps stream time increasing', async () => {
    const cam = await mjpegCamera(jpegs);
    const c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: ['ipcam'] });
    const res = await t.api('/api/cameras', {
      method: 'POST',
      body: { id: 'ipcam', source: `http://127.0.0.1:${cam.port}/video.mjpeg`, model: 'fight' },
    });
    expect(res.status).to.equal(201);
    await c.next('status', (s) => s.state === 'live');
    await c.next('label', () => c.messages.filter((m) => m.type === 'label').length >= 8);
    const port = cam.port;
    await cam.close();
    const down = await c.next('status', (s) => s.state === 'reconnecting');
    expect(down.error?.code).to.be.oneOf(['VIGIL_ERR_SOURCE_UNREACHABLE', 'VIGIL_ERR_DECODE']);
    const labelsBefore = c.messages.filter((m) => m.type === 'label').length;
    const back = await mjpegCamera(jpegs, port);
    try {
      await c.next('status', (s) => s.state === 'live' && c.messages.indexOf(s) > c.messages.indexOf(down));
      await c.next('label', () => c.messages.filter((m) => m.type === 'label').length >= labelsBefore + 8);
      const times = c.messages.filter((m) => m.type === 'label').map((m) => m.tMs);
      expect(
        times.every((x, i) => i === 0 || x > times[i - 1]),
        `tMs increasing across the reboot: ${times.join(',')}`,
      ).to.equal(true);
      // The segment open when the camera died was closed, and a new one started after.
      const ends = c.messages.filter((m) => m.type === 'segment' && m.event === 'end');
      expect(ends.length).to.be.at.least(1);
    } finally {
      await t.api('/api/cameras/ipcam', { method: 'DELETE' });
      await back.close();
      c.close();
    }
  });

  it('labels an HLS stream over http', async () => {
    const hls = await serveDir(work);
    const c = await connect(`${t.url}/ws`);
    try {
      c.send({ type: 'subscribe', cameras: ['hls'] });
      const res = await t.api('/api/cameras', {
        method: 'POST',
        body: { id: 'hls', source: `http://127.0.0.1:${hls.port}/live.m3u8`, model: 'fight' },
      });
      expect(res.status).to.equal(201);
      await c.next('label', () => c.messages.filter((m) => m.type === 'label').length >= 10);
      const labels = c.messages.filter((m) => m.type === 'label');
      expect(labels[0].cameraId).to.equal('hls');
      expect(labels.map((m) => m.label).every((l) => l === 'fight' || l === 'no_fight')).to.equal(true);
    } finally {
      await t.api('/api/cameras/hls', { method: 'DELETE' });
      await hls.close();
      c.close();
    }
  });
});
