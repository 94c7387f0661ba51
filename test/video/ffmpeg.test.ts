import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VigilError } from '../../src/errors.js';
import { describeFfmpeg, findFfmpeg, passthroughArgs, resolveFfmpeg } from '../../src/video/ffmpeg.js';

const require = createRequire(import.meta.url);

function installed(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

describe('video/ffmpeg', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'vigil-ffmpeg-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('resolves a running ffmpeg and ffprobe once, saying where they came from', async () => {
    const a = await resolveFfmpeg();
    expect(await resolveFfmpeg()).to.equal(a);
    for (const b of [a.ffmpeg, a.ffprobe]) {
      expect(existsSync(b.path), b.path).to.equal(true);
      expect(b.version).to.be.a('string').and.not.equal('unknown');
    }
    if (!process.env.VIGIL_FFMPEG && !installed('ffmpeg-static')) {
      expect(a.ffmpeg.source).to.equal('@ffmpeg-installer/ffmpeg');
      expect(a.ffmpeg.skipped).to.deep.equal(['ffmpeg-static: not installed']);
    }
    if (!process.env.VIGIL_FFPROBE) expect(a.ffprobe.source).to.equal('@ffprobe-installer/ffprobe');
  });

  it('detects -fps_mode vs -vsync and the RTSP timeout option from the help text', async () => {
    const { ffmpeg } = await resolveFfmpeg();
    const help = execFileSync(ffmpeg.path, ['-hide_banner', '-h', 'full'], { maxBuffer: 64 << 20 }).toString();
    expect(ffmpeg.fpsMode).to.equal(help.includes('-fps_mode'));
    expect(passthroughArgs(ffmpeg)).to.deep.equal(ffmpeg.fpsMode ? ['-fps_mode', 'passthrough'] : ['-vsync', 'passthrough']);
    if (ffmpeg.version.startsWith('N-47683')) {
      // The bundled 2018 build: no -fps_mode, and RTSP's µs socket timeout is -stimeout.
      expect(ffmpeg.fpsMode).to.equal(false);
      expect(ffmpeg.rtspTimeoutOption).to.equal('stimeout');
    }
  });

  it('uses VIGIL_FFMPEG / VIGIL_FFPROBE when they point at working binaries', async () => {
    const real = await resolveFfmpeg();
    const b = await findFfmpeg({ VIGIL_FFMPEG: real.ffmpeg.path, VIGIL_FFPROBE: real.ffprobe.path });
    expect(b.ffmpeg).to.include({ path: real.ffmpeg.path, source: 'VIGIL_FFMPEG', version: real.ffmpeg.version });
    expect(b.ffprobe).to.include({ path: real.ffprobe.path, source: 'VIGIL_FFPROBE' });
  });

  it('fails with VIGIL_ERR_FFMPEG_NOT_FOUND when an override is missing or does not run', async () => {
    const missing = join(tmp, 'no-ffmpeg');
    const notBinary = join(tmp, 'ffmpeg.txt');
    writeFileSync(notBinary, 'not a program');
    const cases: Array<[NodeJS.ProcessEnv, string]> = [
      [{ VIGIL_FFMPEG: missing }, `no usable ffmpeg: VIGIL_FFMPEG=${missing} (does not exist)`],
      [{ VIGIL_FFPROBE: missing }, `no usable ffmpeg: VIGIL_FFPROBE=${missing} (does not exist)`],
      [{ VIGIL_FFMPEG: tmp }, `no usable ffmpeg: VIGIL_FFMPEG=${tmp} (is not a file)`],
      [{ VIGIL_FFMPEG: notBinary }, `no usable ffmpeg: VIGIL_FFMPEG=${notBinary} (does not run (EACCES))`],
    ];
    for (const [env, message] of cases) {
      const e = await findFfmpeg(env).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).to.be.instanceOf(VigilError);
      expect(e).to.include({ code: 'VIGIL_ERR_FFMPEG_NOT_FOUND', message });
    }
  });

  it('describes both binaries for `vigil doctor`', async () => {
    const { ffmpeg, ffprobe } = await resolveFfmpeg();
    const text = await describeFfmpeg();
    expect(text).to.contain(`ffmpeg  ${ffmpeg.version} (${ffmpeg.source}) ${ffmpeg.path}`);
    expect(text).to.contain(`ffprobe ${ffprobe.version} (${ffprobe.source}) ${ffprobe.path}`);
    expect(text).to.contain(ffmpeg.fpsMode ? '-fps_mode passthrough' : '-vsync passthrough');
  });
});
