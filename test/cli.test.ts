import { expect } from 'chai';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClipDir, fixture, silentServer, type BadInputs, type ClipDir } from './helpers/clips.js';

/** The built CLI, as `npx vigil` runs it (npm test builds it first). */
const BIN = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function vigil(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** ffmpeg / ffprobe processes whose command line mentions `needle`. */
function ffmpegProcessesFor(needle: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid,stat,args'], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => /ff(mpeg|probe)/.test(l) && l.includes(needle));
}

function expectCodedFailure(r: Run, code: string, message: RegExp): void {
  expect(r.code, r.stderr).to.equal(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, 'one line, no stack trace').to.have.length(1);
  expect(lines[0]).to.match(new RegExp(`^vigil: ${code}: `));
  expect(lines[0]).to.match(message);
  expect(r.stdout).to.equal('');
}

describe('vigil CLI', function () {
  this.timeout(120_000);
  let clips: ClipDir;
  let bad: BadInputs;
  let tmp: string;

  before(async () => {
    clips = await createClipDir();
    bad = await clips.bad();
    tmp = mkdtempSync(join(tmpdir(), 'vigil-cli-'));
  });
  after(async () => {
    await clips.remove();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('has --help for every command', async () => {
    for (const args of [
      ['--help'],
      ['label', '--help'],
      ['models', '--help'],
      ['doctor', '--help'],
      ['train', '--help'],
      ['eval', '--help'],
      ['import', '--help'],
    ]) {
      const r = await vigil(args);
      expect(r.code, args.join(' ')).to.equal(0);
      expect(r.stdout).to.match(/^Usage: vigil/);
    }
    const label = await vigil(['label', '--help']);
    for (const flag of ['--model', '--fps', '--format', '--out']) expect(label.stdout).to.contain(flag);
  });

  it('doctor says which engine, backend and ffmpeg it chose and why', async () => {
    const r = await vigil(['doctor', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const report = JSON.parse(r.stdout);
    expect(['tensorflow', 'wasm', 'cpu']).to.include(report.backend.name);
    expect(report.backend.reason).to.be.a('string').and.not.equal('');
    expect(report.ffmpeg.path).to.be.a('string');
    expect(report.models.shipped).to.include('fight');
    expect(['ort', 'tfjs']).to.include(report.engine.name);
    const forced = JSON.parse((await vigil(['doctor', '--json'], { VIGIL_BACKEND: 'cpu', VIGIL_ENGINE: 'tfjs' })).stdout);
    expect(forced.backend).to.deep.include({ name: 'cpu', reason: 'forced by VIGIL_BACKEND' });
    expect(forced.engine).to.deep.include({ name: 'tfjs', reason: 'forced by VIGIL_ENGINE' });
  });

  it('models lists the shipped models with classes and card', async () => {
    const r = await vigil(['models']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^fall \d+\.\d+\.\d+: /);
    expect(r.stdout).to.match(/\nfight \d+\.\d+\.\d+: /);
    expect(r.stdout).to.contain('classes:   fight, no_fight');
    expect(r.stdout).to.contain('classes:   falling, no_fall');
    expect(r.stdout).to.contain('input:     movenet_body on frames + deltas (1, 4 frames), 192x192 letterboxed, 8 fps');
    expect(r.stdout).to.contain(
      'input:     mobilenet_v2 on frame differences in a square that follows the motion, 224x224 from a 320x320 square of a 448x448 letterboxed decode, 8 fps',
    );
    expect(r.stdout).to.match(/accuracy: +0\.\d{3} ± 0\.\d{3} \(grouped 5-fold CV/);
    expect(r.stdout).to.match(/accuracy: +0\.\d{3} ± 0\.\d{3} \(grouped 3-fold CV/);
  });

  it('train rejects delta lags that are not distinct whole frames, saying what is allowed', async () => {
    for (const lags of ['0,4', '1,1', '2.5', 'x']) {
      const r = await vigil(['train', '--name', 'x', '--data', fixture('.'), '--deltas', lags]);
      expect(r.code, lags).to.not.equal(0);
      expect(r.stderr).to.contain(
        `argument '${lags}' is invalid. a comma-separated list of distinct whole numbers of frames, 1-64, e.g. 1,4`,
      );
    }
  });

  it('train rejects an ensemble that is not a whole number >= 1', async () => {
    for (const n of ['0', '1.5']) {
      const r = await vigil(['train', '--name', 'x', '--data', fixture('.'), '--ensemble', n]);
      expect(r.code, n).to.not.equal(0);
      expect(r.stderr).to.contain(`argument '${n}' is invalid. must be a whole number >= 1`);
    }
  });

  describe('label', () => {
    it('prints a JSON timeline whose segments tile the clip', async () => {
      const r = await vigil(['label', fixture('fight-fi002.mp4'), '--format', 'json']);
      expect(r.code, r.stderr).to.equal(0);
      const t = JSON.parse(r.stdout);
      expect(t.schema).to.equal('vigil.timeline/1');
      expect(t.classes).to.deep.equal(['fight', 'no_fight']);
      expect(t.model.name).to.equal('fight');
      expect(t.frames).to.have.length(20);
      expect(t.segments[0].startMs).to.equal(t.frames[0].tMs);
      expect(t.segments.at(-1).endMs).to.equal(2520);
      for (let i = 1; i < t.segments.length; i++) expect(t.segments[i].startMs).to.equal(t.segments[i - 1].endMs);
    });

    it('prints WebVTT and a table, and writes --out', async () => {
      const vtt = await vigil(['label', fixture('nofight-nofi090.mp4'), '-f', 'vtt']);
      expect(vtt.code, vtt.stderr).to.equal(0);
      expect(vtt.stdout).to.match(/^WEBVTT\n\nseg-1\n00:00:00\.000 --> 00:00:0\d\.\d{3}\n(fight|no_fight) \(0\.\d\d\)\n/);
      const table = await vigil(['label', fixture('nofight-nofi090.mp4')]);
      expect(table.stdout).to.match(/start +end +duration +label +confidence +peak/);
      const out = join(tmp, 'out.vtt');
      const written = await vigil(['label', fixture('nofight-nofi090.mp4'), '-f', 'vtt', '-o', out]);
      expect(written.stdout).to.equal('');
      expect(readFileSync(out, 'utf8')).to.equal(vtt.stdout);
    });

    it('prints the timeline so far on Ctrl-C (a live camera never ends)', async () => {
      const long = await clips.clip('long.mp4', { width: 320, height: 240, fps: 25, durationS: 60, pattern: 'testsrc2' });
      const child = spawn(process.execPath, [BIN, '-v', 'label', long], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      const ready = new Promise<void>((resolve) =>
        child.stderr.on('data', (d) => {
          stderr += d;
          if (stderr.includes('ffprobe:')) resolve(); // the model is loaded and decoding starts
        }),
      );
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await ready;
      await new Promise((r) => setTimeout(r, 1000));
      child.kill('SIGINT');
      expect(await exited).to.equal(130);
      expect(stderr).to.contain('stopping; printing the timeline so far');
      const rows = stdout.trimEnd().split('\n');
      expect(rows[0]).to.match(/^start +end +duration +label/);
      const lastEnd = rows.at(-1)!.split(/ +/)[1];
      const [m, sec] = lastEnd.split(':').map(Number);
      expect(m * 60 + sec, 'stopped before the end of the 60 s clip').to.be.within(0.1, 59);
      expect(ffmpegProcessesFor(long)).to.deep.equal([]);
    });

    it('rejects an unknown format listing the allowed ones', async () => {
      const r = await vigil(['label', fixture('nofight-nofi090.mp4'), '-f', 'xml']);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.contain('Allowed choices are table, json, vtt');
    });
  });

  describe('bad input: one line with a stable code, non-zero exit, no ffmpeg left behind', () => {
    const cases: [string, () => string, string, RegExp][] = [
      ['a missing file', () => bad.missing, 'VIGIL_ERR_SOURCE_NOT_FOUND', /no such file: .*missing\.mp4$/],
      ['a directory', () => bad.directory, 'VIGIL_ERR_SOURCE_NOT_FILE', /not a regular file: .*folder\.mp4$/],
      ['a zero-byte file', () => bad.empty, 'VIGIL_ERR_SOURCE_EMPTY', /file is empty: .*empty\.mp4$/],
      ['a text file named .mp4', () => bad.text, 'VIGIL_ERR_SOURCE_INVALID', /not a readable video: .*text\.mp4/],
      ['a truncated mp4', () => bad.truncated, 'VIGIL_ERR_SOURCE_INVALID', /not a readable video: .*truncated\.mp4/],
      [
        'an unsupported URL scheme',
        () => 'ftp://example.com/cam.mp4',
        'VIGIL_ERR_SOURCE_SCHEME',
        /unsupported source ftp:\/\/example\.com\/cam\.mp4/,
      ],
      [
        'an unreachable URL',
        () => 'http://127.0.0.1:1/cam.mp4',
        'VIGIL_ERR_SOURCE_UNREACHABLE',
        /cannot reach http:\/\/127\.0\.0\.1:1\/cam\.mp4/,
      ],
    ];
    for (const [what, source, code, message] of cases) {
      it(what, async () => {
        const r = await vigil(['label', source()]);
        expectCodedFailure(r, code, message);
        expect(ffmpegProcessesFor(source())).to.deep.equal([]);
      });
    }

    it('a camera that accepts and never answers', async () => {
      const server = await silentServer();
      const url = `rtsp://127.0.0.1:${server.port}/stream`;
      try {
        const r = await vigil(['label', url]);
        expectCodedFailure(r, 'VIGIL_ERR_SOURCE_UNREACHABLE', /cannot reach rtsp:\/\/127\.0\.0\.1/);
        expect(ffmpegProcessesFor(url)).to.deep.equal([]);
      } finally {
        await server.close();
      }
    });

    it('a model that does not exist', async () => {
      expectCodedFailure(
        await vigil(['label', fixture('nofight-nofi090.mp4'), '-m', 'nope']),
        'VIGIL_ERR_MODEL_NOT_FOUND',
        /no such model: nope; shipped: .*fight/,
      );
    });

    it('a bad model folder', async () => {
      const dir = join(tmp, 'broken-model');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ schema: 'vigil.model/1', name: 'Broken!' }));
      const r = await vigil(['label', fixture('nofight-nofi090.mp4'), '-m', dir]);
      expectCodedFailure(r, 'VIGIL_ERR_MODEL_INVALID', /bad model folder: .*manifest\.json: name: lowercase letters/);
    });
  });
});
