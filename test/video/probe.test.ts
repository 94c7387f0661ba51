import { expect } from 'chai';
import { createReadStream } from 'node:fs';
import { VigilError } from '../../src/errors.js';
import { classifySource, displaySource, hostLookupCrash, probe } from '../../src/video/probe.js';
import { createClipDir, fixture, serveFile, silentServer, type BadInputs, type ClipDir } from '../helpers/clips.js';
import { expectCoded, rejection } from '../helpers/errors.js';

describe('video/probe', () => {
  let clips: ClipDir;
  let bad: BadInputs;
  before(async () => {
    clips = await createClipDir();
    bad = await clips.bad();
  });
  after(() => clips.remove());

  it('reads a real fixture', async () => {
    expect(await probe(fixture('fight-fi150.mp4'))).to.deep.equal({
      durationS: 2.020136,
      fps: 25,
      width: 352,
      height: 240,
      codec: 'h264',
      rotation: 0,
      frames: 50,
    });
  });

  it('reads the same clip over http', async () => {
    const server = await serveFile(fixture('fight-fi150.mp4'));
    try {
      expect(await probe(server.url)).to.deep.equal(await probe(fixture('fight-fi150.mp4')));
    } finally {
      await server.close();
    }
  });

  it('gives the average rate of a variable-rate phone clip', async () => {
    const info = await probe(fixture('gmdcsa24-subject4-fall02.mp4'));
    expect(info).to.include({ width: 640, height: 480, codec: 'h264', frames: 89, rotation: 0 });
    expect(info.fps).to.be.closeTo(29.89, 0.01);
    expect(info.durationS).to.be.closeTo(2.98, 0.01);
  });

  it('reports the rotation of a clip with rotation metadata, and its coded size', async () => {
    const path = await clips.clip('rot90.mp4', { width: 320, height: 240, fps: 10, durationS: 1, pattern: 'corner', rotate: 90 });
    const info = await probe(path);
    expect(info).to.include({ width: 320, height: 240 });
    // The old muxer's matrix reads back as 270 in both old and new ffmpeg; either way the
    // picture turns a quarter and decodes portrait (see decode tests).
    expect([90, 270]).to.include(info.rotation);
  });

  describe('classifySource', () => {
    it('tells files, URLs and streams apart', () => {
      expect(classifySource(fixture('fight-fi150.mp4'))).to.equal('file');
      for (const url of ['rtsp://cam/1', 'RTSPS://cam/1', 'http://h/x.mp4', 'https://h/x.m3u8']) {
        expect(classifySource(url), url).to.equal('url');
      }
      const s = createReadStream(fixture('fight-fi150.mp4'));
      expect(classifySource(s)).to.equal('stream');
      s.destroy();
    });

    it('rejects schemes other than rtsp, rtsps, http and https', () => {
      for (const url of ['ftp://x', 'file:///etc/passwd', 'udp://239.0.0.1:1234', 'concat://a|b']) {
        expect(() => classifySource(url), url)
          .to.throw(VigilError, `unsupported source ${url} (use a file path, rtsp://, rtsps://, http:// or https://)`)
          .with.property('code', 'VIGIL_ERR_SOURCE_SCHEME');
      }
    });

    it('masks URL passwords in what it shows', () => {
      expect(displaySource('rtsp://admin:hunter2@10.0.0.5:554/live')).to.equal('rtsp://admin:***@10.0.0.5:554/live');
      expect(displaySource('ftp://u:p@x and rtsp://a:b@c/d')).to.equal('ftp://u:***@x and rtsp://a:***@c/d');
      expect(() => classifySource('ftp://u:secret@x/y')).to.throw(/ftp:\/\/u:\*\*\*@x\/y/);
    });
  });

  describe('bad inputs', () => {
    it('a missing file', async () => {
      expectCoded(await rejection(probe(bad.missing)), 'VIGIL_ERR_SOURCE_NOT_FOUND', `no such file: ${bad.missing}`);
    });
    it('a directory', async () => {
      expectCoded(await rejection(probe(bad.directory)), 'VIGIL_ERR_SOURCE_NOT_FILE', `not a regular file: ${bad.directory}`);
    });
    it('a zero-byte file', async () => {
      expectCoded(await rejection(probe(bad.empty)), 'VIGIL_ERR_SOURCE_EMPTY', `file is empty: ${bad.empty}`);
    });
    it('a text file named .mp4', async () => {
      expectCoded(
        await rejection(probe(bad.text)),
        'VIGIL_ERR_SOURCE_INVALID',
        `not a readable video: ${bad.text} (Invalid data found when processing input)`,
      );
    });
    it('a truncated mp4 without its moov', async () => {
      expectCoded(
        await rejection(probe(bad.truncated)),
        'VIGIL_ERR_SOURCE_INVALID',
        `not a readable video: ${bad.truncated} (Invalid data found when processing input)`,
      );
    });
    it('an audio-only file', async () => {
      expectCoded(await rejection(probe(bad.audioOnly)), 'VIGIL_ERR_SOURCE_NO_VIDEO', `source has no video stream: ${bad.audioOnly}`);
    });
    it('ftp://x', async () => {
      expectCoded(
        await rejection(probe('ftp://x')),
        'VIGIL_ERR_SOURCE_SCHEME',
        'unsupported source ftp://x (use a file path, rtsp://, rtsps://, http:// or https://)',
      );
    });
    it('an http URL nobody listens on', async () => {
      const url = 'http://127.0.0.1:1/x.mp4';
      expectCoded(await rejection(probe(url)), 'VIGIL_ERR_SOURCE_UNREACHABLE', `cannot reach ${url} (Connection refused)`);
    });
    it('an rtsp URL nobody listens on, without leaking its password', async () => {
      const e = await rejection(probe('rtsp://admin:hunter2@127.0.0.1:1/x'));
      expectCoded(e, 'VIGIL_ERR_SOURCE_UNREACHABLE', 'cannot reach rtsp://admin:***@127.0.0.1:1/x (Connection refused)');
    });

    it('servers that accept and never answer time out as unreachable', async () => {
      const server = await silentServer();
      try {
        for (const url of [`http://127.0.0.1:${server.port}/x.mp4`, `rtsp://127.0.0.1:${server.port}/x`]) {
          const t0 = Date.now();
          const e = await rejection(probe(url, { timeoutMs: 700 }));
          expect(e.code, url).to.equal('VIGIL_ERR_SOURCE_UNREACHABLE');
          expect(e.message).to.match(new RegExp(`^cannot reach ${url} \\(.+\\)$`));
          expect(Date.now() - t0, url).to.be.below(3000);
        }
      } finally {
        await server.close();
      }
    });

    it('localhost is reached without a host-name lookup (the static builds crash in one)', async () => {
      const server = await silentServer();
      try {
        const url = `http://localhost:${server.port}/x.mp4`;
        expectCoded(
          await rejection(probe(url, { timeoutMs: 500 })),
          'VIGIL_ERR_SOURCE_UNREACHABLE',
          `cannot reach ${url} (timed out after 0.5 s)`,
        );
      } finally {
        await server.close();
      }
    });

    it('a host name that does not resolve', async () => {
      const url = 'http://vigil-test.invalid/x.mp4';
      const e = await rejection(probe(url, { timeoutMs: 3000 }));
      expect(e.code).to.equal('VIGIL_ERR_SOURCE_UNREACHABLE');
      expect(e.message.startsWith(`cannot reach ${url} (`)).to.equal(true);
    });

    it('explains a segfault on a host name, not on an IP address', () => {
      expect(hostLookupCrash('rtsp://u:p@cam.local:554/1', 'SIGSEGV')).to.match(
        /^ffmpeg crashed looking up cam\.local: static ffmpeg builds/,
      );
      expect(hostLookupCrash('rtsp://10.0.0.5/1', 'SIGSEGV')).to.equal(undefined);
      expect(hostLookupCrash('http://[::1]:8080/x', 'SIGSEGV')).to.equal(undefined);
      expect(hostLookupCrash('http://cam.local/x', 'SIGKILL')).to.equal(undefined);
    });

    it('aborts with VIGIL_ERR_ABORTED', async () => {
      const server = await silentServer();
      try {
        const url = `http://127.0.0.1:${server.port}/x.mp4`;
        const ac = new AbortController();
        setTimeout(() => ac.abort(), 100);
        expectCoded(await rejection(probe(url, { signal: ac.signal })), 'VIGIL_ERR_ABORTED', `aborted: probing ${url}`);
      } finally {
        await server.close();
      }
    });
  });
});
