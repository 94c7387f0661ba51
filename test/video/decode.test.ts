import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { VigilError, type ErrorCode } from '../../src/errors.js';
import { monotonicClock, openFrames } from '../../src/video/decode.js';
import { resolveFfmpeg } from '../../src/video/ffmpeg.js';
import { probe } from '../../src/video/probe.js';
import type { Frame, FrameSourceOptions, SourceInput } from '../../src/video/types.js';
import {
  barX,
  createClipDir,
  fixture,
  processExists,
  serveFile,
  silentServer,
  type BadInputs,
  type ClipDir,
  type ClipSpec,
  FASTSTART,
} from '../helpers/clips.js';
import { expectCoded, rejection } from '../helpers/errors.js';

async function collect(input: SourceInput, options: FrameSourceOptions): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const f of openFrames(input, options)) frames.push(f);
  return frames;
}

/** Mean brightness of one pixel. */
function gray(f: Frame, x: number, y: number): number {
  const i = (y * f.width + x) * 3;
  return (f.data[i] + f.data[i + 1] + f.data[i + 2]) / 3;
}

/** Left edge of the white bar on the middle row, or -1. */
function barLeft(f: Frame): number {
  const y = f.height >> 1;
  for (let x = 0; x < f.width; x++) if (gray(f, x, y) > 128) return x;
  return -1;
}

/** The ms that "first frame of each 1/fps bin" keeps from frames at `ms`. */
function binned(ms: number[], fps: number): number[] {
  let bin = -Infinity;
  return ms.filter((t) => {
    const b = Math.floor((t / 1000) * fps + 1e-9);
    if (b <= bin) return false;
    bin = b;
    return true;
  });
}

/** The same for a constant-rate source. */
function expectedStamps(sourceFps: number, sourceFrames: number, fps: number): number[] {
  return binned(
    Array.from({ length: sourceFrames }, (_, k) => (k * 1000) / sourceFps),
    fps,
  );
}

/** Every video frame's pts in ms, as ffprobe (not our decoder) reads it. */
async function framePts(path: string): Promise<number[]> {
  const { ffprobe } = await resolveFfmpeg();
  const args = ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', path];
  const { stdout } = await promisify(execFile)(ffprobe.path, args);
  return stdout
    .trim()
    .split('\n')
    .map((l) => Number(l.split(',')[0]) * 1000);
}

const SIZE = { width: 224, height: 224 };

describe('video/decode', () => {
  let clips: ClipDir;
  let bad: BadInputs;
  const bar30: ClipSpec = { width: 320, height: 240, fps: 30, durationS: 3 };
  before(async () => {
    clips = await createClipDir();
    bad = await clips.bad();
  });
  after(() => clips.remove());

  describe('frames and timestamps', () => {
    it('decodes a real fixture at 224x224, 8 fps, with the source timestamps', async () => {
      const warnings: string[] = [];
      const frames = await collect(fixture('fight-fi150.mp4'), { ...SIZE, onWarning: (w) => warnings.push(w) });
      const want = expectedStamps(25, 50, 8);
      expect(frames.map((f) => f.index)).to.deep.equal(want.map((_, i) => i));
      frames.forEach((f, i) => {
        expect(f.tMs).to.be.closeTo(want[i], 1e-6);
        expect(f).to.include(SIZE);
        expect(f.data.length).to.equal(224 * 224 * 3);
      });
      expect(warnings).to.deep.equal([]);
    });

    for (const name of ['fight-fi002.mp4', 'nofight-nofi090.mp4', 'gmdcsa24-subject4-fall02.mp4']) {
      it(`keeps the first frame of each 125 ms bin of ${name}, at its own pts`, async () => {
        const warnings: string[] = [];
        const frames = await collect(fixture(name), { ...SIZE, onWarning: (w) => warnings.push(w) });
        const want = binned(await framePts(fixture(name)), 8);
        expect(frames).to.have.length(want.length);
        frames.forEach((f, i) => expect(f.tMs, `frame ${i}`).to.be.closeTo(want[i], 0.001));
        expect(warnings).to.deep.equal([]);
      });
    }

    it('samples a 30 fps clip at 8 fps: source times ~125 ms apart, no duplicates, each frame shows its time', async () => {
      const frames = await collect(await clips.clip('bar30.mp4', bar30), { width: 320, height: 240, fps: 8 });
      expect(frames.map((f) => f.tMs)).to.have.length(24);
      const want = expectedStamps(30, 90, 8);
      frames.forEach((f, i) => expect(f.tMs, `frame ${i}`).to.be.closeTo(want[i], 1e-6));
      const gaps = frames.slice(1).map((f, i) => f.tMs - frames[i].tMs);
      for (const g of gaps) expect(g).to.be.within(99.9, 133.4);
      expect(gaps.reduce((a, b) => a + b) / gaps.length).to.be.closeTo(125, 2);
      // The bar's position is a clock: it pairs each stdout frame with its stderr timestamp
      // and shows that no frame is a copy of another.
      const xs = frames.map(barLeft);
      frames.forEach((f, i) => expect(xs[i], `bar in frame ${i} at ${f.tMs} ms`).to.be.closeTo(barX(f.tMs, bar30), 2));
      xs.slice(1).forEach((x, i) => expect(x).to.be.above(xs[i]));
    });

    it('gives a 5 fps source its own 5 fps when asked for 8', async () => {
      const frames = await collect(await clips.clip('bar5.mp4', { ...bar30, fps: 5, durationS: 2 }), { ...SIZE, fps: 8 });
      expect(frames.map((f) => Math.round(f.tMs))).to.deep.equal([0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]);
    });

    it('keeps timestamps increasing when the clock restarts', () => {
      const clock = monotonicClock(125);
      expect([0, 125, 250, 0, 125, null, 375].map((t) => clock(t))).to.deep.equal([0, 125, 250, 375, 500, 625, 750]);
    });
  });

  describe('several outputs of one decode', () => {
    const byOutput = (frames: Frame[], k: number) => frames.filter((f) => (f.output ?? 0) === k);

    it('gives each output its own size, rate and timestamps, the same frames as decoding it alone', async () => {
      const path = await clips.clip('bar30.mp4', bar30);
      const frames = await collect(path, { width: 320, height: 240, fps: 8, outputs: [{ width: 160, height: 120, fps: 5 }] });
      const [main, half] = [byOutput(frames, 0), byOutput(frames, 1)];
      expect(main.map((f) => f.index)).to.deep.equal(expectedStamps(30, 90, 8).map((_, i) => i));
      expect(half.map((f) => f.index)).to.deep.equal(expectedStamps(30, 90, 5).map((_, i) => i));
      main.forEach((f, i) => expect(f.tMs, `main frame ${i}`).to.be.closeTo(expectedStamps(30, 90, 8)[i], 1e-6));
      half.forEach((f, i) => {
        expect(f.tMs, `output 1 frame ${i}`).to.be.closeTo(expectedStamps(30, 90, 5)[i], 1e-6);
        expect(f).to.include({ width: 160, height: 120, output: 1 });
        // The bar pairs each pipe's frame with its own showinfo line: half the position at half the size.
        expect(barLeft(f), `bar in output 1 frame ${i}`).to.be.closeTo(barX(f.tMs, bar30) / 2, 2);
      });
      expect(main.every((f) => f.output === undefined)).to.equal(true);
      const alone = await collect(path, { width: 160, height: 120, fps: 5 });
      expect(half.map((f) => Buffer.from(f.data).equals(Buffer.from(alone[f.index].data)))).to.deep.equal(alone.map(() => true));
    });

    it('puts the outputs on pipes after the extra ones (a preview on pipe 3 keeps it)', async () => {
      const jpegs: Buffer[] = [];
      const frames = await collect(fixture('fight-fi150.mp4'), {
        ...SIZE,
        outputs: [
          { width: 192, height: 192, fps: 4 },
          { width: 64, height: 64 },
        ],
        extraOutputArgs: ['-map', '0:v:0', '-vf', 'fps=2', '-c:v', 'mjpeg', '-f', 'mjpeg', 'pipe:3'],
        extraPipes: 1,
        onExtraPipes: ([p]) => p.on('data', (c: Buffer) => jpegs.push(c)),
      });
      expect(byOutput(frames, 0)).to.have.length(expectedStamps(25, 50, 8).length);
      expect(byOutput(frames, 1).map((f) => Math.round(f.tMs))).to.deep.equal(expectedStamps(25, 50, 4).map(Math.round));
      expect(byOutput(frames, 2)).to.have.length(expectedStamps(25, 50, 8).length);
      expect(byOutput(frames, 2).every((f) => f.data.length === 64 * 64 * 3)).to.equal(true);
      expect(Buffer.concat(jpegs).subarray(0, 2)).to.deep.equal(Buffer.from([0xff, 0xd8]));
    });

    it('refuses a bad output', () => {
      const path = fixture('fight-fi150.mp4');
      expect(() => openFrames(path, { ...SIZE, outputs: [{ width: 0, height: 10 }] }))
        .to.throw(VigilError, 'invalid argument: outputs[0].width must be an integer in 1..16384 (got 0)')
        .with.property('code', 'VIGIL_ERR_INVALID_ARGUMENT');
      expect(() => openFrames(path, { ...SIZE, outputs: [{ width: 10, height: 10, fps: 0 }] }))
        .to.throw(VigilError, 'invalid argument: outputs[0].fps must be a positive number (got 0)')
        .with.property('code', 'VIGIL_ERR_INVALID_ARGUMENT');
    });
  });

  describe('geometry', () => {
    it('letterboxes a 320x240 white clip into 224x224 with 28 black rows top and bottom', async () => {
      const [f] = await collect(await clips.clip('white.mp4', { ...bar30, durationS: 0.5, pattern: 'white' }), SIZE);
      const rowMean = (y: number) => {
        let s = 0;
        for (let x = 0; x < f.width; x++) s += gray(f, x, y);
        return s / f.width;
      };
      // 320x240 scaled to fit 224 wide is 224x168: (224 - 168) / 2 = 28 rows each side.
      for (let y = 0; y < 224; y++) {
        const inside = y >= 28 && y < 196;
        if (inside) expect(rowMean(y), `row ${y}`).to.be.above(250);
        else expect(rowMean(y), `row ${y}`).to.be.below(2);
      }
    });

    it('pillarboxes a portrait clip', async () => {
      const [f] = await collect(
        await clips.clip('portrait.mp4', { width: 240, height: 320, fps: 10, durationS: 0.5, pattern: 'white' }),
        SIZE,
      );
      // 240x320 into 224x224 is 168x224: 28 black columns each side.
      for (const x of [0, 27, 196, 223]) expect(gray(f, x, 112), `column ${x}`).to.be.below(2);
      for (const x of [28, 112, 195]) expect(gray(f, x, 112), `column ${x}`).to.be.above(250);
    });

    it('turns a clip with rotation metadata upright', async () => {
      const path = await clips.clip('rot90.mp4', { width: 320, height: 240, fps: 10, durationS: 1, pattern: 'corner', rotate: 90 });
      const { rotation } = await probe(path);
      // Asked for the upright (portrait) size, the picture fills the frame: no bars at all.
      const [f] = await collect(path, { width: 240, height: 320 });
      const quadrant = (qx: number, qy: number) => gray(f, Math.round((qx + 0.5) * 120), Math.round((qy + 0.5) * 160));
      // The white top-left quarter moves to the top-right (90° clockwise) or the
      // bottom-left (270°); the other quarters stay black.
      const white = rotation === 90 ? [1, 0] : [0, 1];
      for (const [qx, qy] of [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ]) {
        const isWhite = qx === white[0] && qy === white[1];
        expect(quadrant(qx, qy), `quadrant ${qx},${qy} (rotation ${rotation})`)[isWhite ? 'above' : 'below'](isWhite ? 250 : 5);
      }
    });
  });

  it('decodes the same frames from an http URL as from the file', async () => {
    const server = await serveFile(fixture('fight-fi150.mp4'));
    try {
      const fromUrl = await collect(server.url, SIZE);
      const fromFile = await collect(fixture('fight-fi150.mp4'), SIZE);
      expect(fromUrl.map((f) => f.tMs)).to.deep.equal(fromFile.map((f) => f.tMs));
      expect(Buffer.compare(fromUrl[5].data, fromFile[5].data)).to.equal(0);
    } finally {
      await server.close();
    }
  });

  it('one decode thread (as cameras run) gives the same bytes as ffmpeg choosing its threads', async () => {
    const clip = fixture('fight-fi150.mp4');
    const one = await collect(clip, { ...SIZE, threads: 1 });
    const auto = await collect(clip, SIZE);
    expect(one.length).to.be.above(10).and.to.equal(auto.length);
    expect(one.map((f) => f.tMs)).to.deep.equal(auto.map((f) => f.tMs));
    expect(one.every((f, i) => Buffer.compare(f.data, auto[i].data) === 0)).to.equal(true);
    expect(() => openFrames(clip, { ...SIZE, threads: -1 })).to.throw(VigilError, 'threads must be a whole number');
  });

  describe('stream input', () => {
    it('decodes webm bytes piped from fs.createReadStream like the same file', async () => {
      const path = await clips.clip('bar30.webm', { ...bar30, format: 'webm' });
      const fromFile = await collect(path, SIZE);
      const fromStream = await collect(createReadStream(path), SIZE);
      expect(fromStream).to.have.length(24);
      expect(fromStream.map((f) => f.tMs)).to.deep.equal(fromFile.map((f) => f.tMs));
      expect(Buffer.compare(fromStream[10].data, fromFile[10].data)).to.equal(0);
    });

    it('survives ffmpeg quitting while bytes are still being piped in (EPIPE)', async () => {
      let sent = 0;
      const garbage = new Readable({
        read() {
          sent += 1 << 16;
          this.push(Buffer.alloc(1 << 16, 'not a video '));
        },
      });
      const e = await rejection(collect(garbage, SIZE));
      expect(e).to.include({
        code: 'VIGIL_ERR_SOURCE_INVALID',
        message: 'not a readable video: <stream> (Invalid data found when processing input)',
      });
      // The caller's stream is detached, not destroyed: it is the caller's to close.
      expect(garbage.destroyed).to.equal(false);
      expect(sent).to.be.above(0);
      garbage.destroy();
    });

    it('rejects an mp4 whose index is at the end, which a pipe cannot seek to', async () => {
      // ffmpeg opens the container, then finds the media data it skipped is gone.
      const e = await rejection(collect(createReadStream(fixture('fight-fi150.mp4')), SIZE));
      expect(e.code).to.equal('VIGIL_ERR_DECODE');
      expect(e.message).to.match(/^ffmpeg failed while decoding: <stream> \(.+\)$/);
    });
  });

  describe('lifecycle', () => {
    it('a slow consumer stalls ffmpeg: frames made but not consumed stay bounded', async () => {
      const path = await clips.clip('long.mp4', { width: 224, height: 224, fps: 30, durationS: 20 });
      const src = openFrames(path, { ...SIZE, fps: 30 });
      let ahead = 0;
      let assembledAhead = 0;
      let n = 0;
      for await (const _ of src) {
        await sleep(40);
        ahead = Math.max(ahead, src.stats.decoded - src.stats.yielded);
        assembledAhead = Math.max(assembledAhead, src.stats.assembled - src.stats.yielded);
        if (++n === 15) break;
      }
      // Unthrottled, ffmpeg decodes these 600 frames in well under the 600 ms slept here.
      expect(assembledAhead).to.be.at.most(2);
      expect(ahead).to.be.at.most(4);
      expect(src.stats.decoded).to.be.below(25);
    });

    it('break kills ffmpeg and reaps it', async () => {
      const src = openFrames(fixture('fight-fi002.mp4'), SIZE);
      for await (const f of src) if (f.index === 1) break;
      const pid = src.pid!;
      expect(pid).to.be.a('number');
      expect(processExists(pid)).to.equal(false);
    });

    it('close() kills ffmpeg mid-stream; the iterator then ends', async () => {
      const src = openFrames(fixture('fight-fi002.mp4'), SIZE);
      const it = src[Symbol.asyncIterator]();
      expect((await it.next()).done).to.equal(false);
      const pid = src.pid!;
      expect(processExists(pid)).to.equal(true);
      await src.close();
      expect(processExists(pid)).to.equal(false);
      expect((await it.next()).done).to.equal(true);
    });

    it('close() while a next() is pending on a hung source ends it', async () => {
      const server = await silentServer();
      try {
        const src = openFrames(`http://127.0.0.1:${server.port}/x.mp4`, SIZE);
        const pending = src[Symbol.asyncIterator]().next();
        await sleep(300);
        const pid = src.pid!;
        await src.close();
        expect(processExists(pid)).to.equal(false);
        expect((await pending).done).to.equal(true);
      } finally {
        await server.close();
      }
    });

    it('close() before iterating starts nothing', async () => {
      const src = openFrames(fixture('fight-fi150.mp4'), SIZE);
      await src.close();
      expect(src.pid).to.equal(undefined);
      expect(await collect(fixture('fight-fi150.mp4'), SIZE)).to.have.length(16);
      for await (const _ of src) expect.fail('a closed source yields nothing');
    });

    it('abort kills ffmpeg and rejects with VIGIL_ERR_ABORTED', async () => {
      const path = fixture('fight-fi002.mp4');
      const ac = new AbortController();
      const src = openFrames(path, { ...SIZE, signal: ac.signal });
      const it = src[Symbol.asyncIterator]();
      await it.next();
      const pid = src.pid!;
      ac.abort();
      expectCoded(await rejection(it.next()), 'VIGIL_ERR_ABORTED', `aborted: decoding ${path}`);
      expect(processExists(pid)).to.equal(false);
    });

    it('abort while ffmpeg waits on a hung server', async () => {
      const server = await silentServer();
      try {
        const url = `http://127.0.0.1:${server.port}/x.mp4`;
        const t0 = Date.now();
        const e = await rejection(collect(url, { ...SIZE, signal: AbortSignal.timeout(300) }));
        expectCoded(e, 'VIGIL_ERR_ABORTED', `aborted: decoding ${url}`);
        expect(Date.now() - t0).to.be.below(2000);
      } finally {
        await server.close();
      }
    });

    it('realtime + loop: native pace, and tMs keeps increasing across loops', async () => {
      const spec = { ...bar30, fps: 5, durationS: 1 };
      const src = openFrames(await clips.clip('bar5-1s.mp4', spec), { ...SIZE, realtime: true, loop: true });
      const t0 = Date.now();
      const stamps: number[] = [];
      for await (const f of src) if (stamps.push(f.tMs) === 12) break;
      const elapsed = Date.now() - t0;
      expect(stamps.map(Math.round)).to.deep.equal(stamps.map((_, i) => i * 200));
      expect(elapsed).to.be.within(1900, 4000);
      expect(processExists(src.pid!)).to.equal(false);
    });
  });

  describe('bad inputs', () => {
    const sync = (input: string, code: ErrorCode, message: string) => () => {
      expect(() => openFrames(input, SIZE))
        .to.throw(VigilError, message)
        .with.property('code', code);
    };
    it('a missing file', () => sync(bad.missing, 'VIGIL_ERR_SOURCE_NOT_FOUND', `no such file: ${bad.missing}`)());
    it('a directory', () => sync(bad.directory, 'VIGIL_ERR_SOURCE_NOT_FILE', `not a regular file: ${bad.directory}`)());
    it('a zero-byte file', () => sync(bad.empty, 'VIGIL_ERR_SOURCE_EMPTY', `file is empty: ${bad.empty}`)());
    it('ftp://x', () =>
      sync('ftp://x', 'VIGIL_ERR_SOURCE_SCHEME', 'unsupported source ftp://x (use a file path, rtsp://, rtsps://, http:// or https://)')());

    it('a text file named .mp4', async () => {
      expectCoded(
        await rejection(collect(bad.text, SIZE)),
        'VIGIL_ERR_SOURCE_INVALID',
        `not a readable video: ${bad.text} (Invalid data found when processing input)`,
      );
    });
    it('a truncated mp4 without its moov', async () => {
      expectCoded(
        await rejection(collect(bad.truncated, SIZE)),
        'VIGIL_ERR_SOURCE_INVALID',
        `not a readable video: ${bad.truncated} (Invalid data found when processing input)`,
      );
    });
    it('an audio-only file', async () => {
      expectCoded(
        await rejection(collect(bad.audioOnly, SIZE)),
        'VIGIL_ERR_SOURCE_NO_VIDEO',
        `source has no video stream: ${bad.audioOnly}`,
      );
    });
    it('http://127.0.0.1:1/x.mp4', async () => {
      const url = 'http://127.0.0.1:1/x.mp4';
      expectCoded(await rejection(collect(url, SIZE)), 'VIGIL_ERR_SOURCE_UNREACHABLE', `cannot reach ${url} (Connection refused)`);
    });
    it('rtsp://127.0.0.1:1/x', async () => {
      const url = 'rtsp://127.0.0.1:1/x';
      expectCoded(await rejection(collect(url, SIZE)), 'VIGIL_ERR_SOURCE_UNREACHABLE', `cannot reach ${url} (Connection refused)`);
    });
    it('a host name that does not resolve', async () => {
      const url = 'http://vigil-test.invalid/x.mp4';
      const e = await rejection(collect(url, { ...SIZE, timeoutMs: 3000 }));
      expect(e.code).to.equal('VIGIL_ERR_SOURCE_UNREACHABLE');
      expect(e.message.startsWith(`cannot reach ${url} (`)).to.equal(true);
    });
    it('servers that accept and never answer time out as unreachable', async () => {
      const server = await silentServer();
      try {
        for (const url of [`http://127.0.0.1:${server.port}/x.mp4`, `rtsp://127.0.0.1:${server.port}/x`]) {
          const t0 = Date.now();
          const e = await rejection(collect(url, { ...SIZE, timeoutMs: 700 }));
          expect(e.code, url).to.equal('VIGIL_ERR_SOURCE_UNREACHABLE');
          expect(e.message).to.match(new RegExp(`^cannot reach ${url} \\(.+\\)$`));
          expect(Date.now() - t0, url).to.be.below(3000);
        }
      } finally {
        await server.close();
      }
    });

    it('a file cut midway yields the frames before the cut, then warns and ends', async () => {
      const warnings: string[] = [];
      const frames = await collect(bad.cutMidway, { ...SIZE, onWarning: (w) => warnings.push(w) });
      const whole = await collect(await clips.clip('faststart.mp4', FASTSTART), SIZE);
      expect(whole).to.have.length(32);
      expect(frames.length).to.be.within(3, 31);
      frames.forEach((f, i) => {
        expect(f.tMs).to.equal(whole[i].tMs);
        expect(Buffer.compare(f.data, whole[i].data), `frame ${i}`).to.equal(0);
      });
      expect(warnings).to.deep.equal([
        `${bad.cutMidway}: decoding stopped after ${frames.length} frames (Invalid data found when processing input)`,
      ]);
    });

    it('invalid options', () => {
      const path = fixture('fight-fi150.mp4');
      const cases: Array<[Partial<FrameSourceOptions>, string]> = [
        [{ width: 0 }, 'width must be an integer in 1..16384 (got 0)'],
        [{ height: 22.5 }, 'height must be an integer in 1..16384 (got 22.5)'],
        [{ fps: -1 }, 'fps must be a positive number (got -1)'],
        [{ fps: Number.POSITIVE_INFINITY }, 'fps must be a positive number (got Infinity)'],
      ];
      for (const [o, detail] of cases) {
        expect(() => openFrames(path, { ...SIZE, ...o }))
          .to.throw(VigilError, `invalid argument: ${detail}`)
          .with.property('code', 'VIGIL_ERR_INVALID_ARGUMENT');
      }
      expect(() => openFrames('rtsp://cam/1', { ...SIZE, loop: true })).to.throw(VigilError, 'invalid argument: loop needs a file source');
    });
  });
});
