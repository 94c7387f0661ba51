import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { openStore } from '../../src/store/index.js';
import { fixture } from '../helpers/clips.js';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

function vigil(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('vigil adapt', function () {
  this.timeout(120_000);
  let dir = '';
  let cache = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-adapt-cli-'));
    cache = join(dir, 'cache');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('adapts a model folder from reviews in a JSON file and prints the figures and the decision', async () => {
    // Clip paths relative to the file; `review` says what a reviewer said, `label` names the class.
    copyFileSync(fixture('demo.mp4'), join(dir, 'demo.mp4'));
    writeFileSync(
      join(dir, 'reviews.json'),
      JSON.stringify([
        { id: 'a', clip: fixture('fight-fi002.mp4'), review: 'confirmed' },
        { id: 'b', clip: fixture('fight-fi150.mp4'), label: 'fight' },
        { id: 'c', clip: fixture('nofight-nofi090.mp4'), review: 'false_alarm' },
        { id: 'd', clip: 'demo.mp4', review: 'false_alarm', startMs: 0, endMs: 1900 },
        { id: 'e', clip: 'demo.mp4', review: 'confirmed', startMs: 2100, endMs: 4500 },
      ]),
    );
    const out = join(dir, 'fight-hall');
    const r = await vigil(['adapt', '--events', join(dir, 'reviews.json'), '--model', 'fight', '--out', out, '--cache', cache]);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^adapted from fight@1\.0\.0 in [\d.]+ s$/);
    expect(lines[1]).to.match(/^reviews: 3 fight, 2 no_fight; 5 used, 0 skipped; 64 replayed; judged by 4-fold cross-validation$/);
    expect(lines[2]).to.match(/^not trained on \(5\) +before +after$/);
    expect(lines).to.satisfy((l: string[]) =>
      l.some((x) => /^held-back replay \(13\): frame accuracy [\d.]+ before, [\d.]+ after$/.test(x)),
    );
    expect(lines[3]).to.match(/^accuracy +[\d.]+ +[\d.]+$/);
    expect(lines.at(-2)).to.match(/^decision: (accepted|refused)$/);
    expect(lines.at(-1)).to.equal(`wrote fight 1.1.0 to ${out}`);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest).to.deep.include({ name: 'fight', version: '1.1.0' });
    expect(manifest.adaptation.reviews.ids).to.have.length(5);
  });

  it('adapts a camera of a data folder from its reviewed events and makes an accepted version live; too few reviews fail coded', async () => {
    const data = join(dir, 'data');
    const store = openStore(data);
    const t0 = 1_700_000_000_000;
    try {
      await store.cameras.create({ id: 'hall', source: '/x.mp4', model: 'fight' });
      const clips = [
        ['fight-fi002.mp4', 2520, 'confirmed'],
        ['fight-fi150.mp4', 2020, 'confirmed'],
        ['nofight-nofi090.mp4', 2000, 'false_alarm'],
        ['demo.mp4', 1900, 'false_alarm'],
      ] as const;
      for (const [i, [name, ms, review]] of clips.entries()) {
        const at = t0 + i * 60_000;
        const staged = store.stagingPath('mp4');
        copyFileSync(fixture(name), staged);
        const clip = await store.clips.adopt(staged, {
          kind: 'recording',
          cameraId: 'hall',
          name,
          startedAtMs: at,
          durationMs: ms,
          status: 'ready',
        });
        const e = await store.events.open({
          cameraId: 'hall',
          model: 'fight',
          label: 'fight',
          startMs: 0,
          endMs: ms,
          startedAtMs: at,
          endedAtMs: at + ms,
          peak: 0.9,
          mean: 0.8,
        });
        await store.events.end(e.id, { endMs: ms, endedAtMs: at + ms, peak: 0.9, mean: 0.8 });
        await store.events.linkClip('hall', clip.id, at, at + ms);
        await store.events.review(e.id, { state: review });
      }
    } finally {
      await store.close();
    }
    const few = await vigil(['adapt', '--camera', 'hall', '--data', data, '--min-reviews', '5', '--cache', cache]);
    expect(few.code).to.equal(1);
    expect(few.stderr.trimEnd()).to.equal(
      'vigil: VIGIL_ERR_TOO_FEW_REVIEWS: not enough reviews to adapt: hall: 4 usable review(s) (2 fight, 2 no_fight), need at least 5',
    );

    const r = await vigil(['adapt', '--camera', 'hall', '--data', data, '--cache', cache]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^adapted from fight@1\.0\.0 to camera hall in /);
    expect(r.stdout).to.match(/reviews: 2 fight, 2 no_fight; 4 used, 0 skipped; 64 replayed; judged by 4-fold cross-validation/);
    const after = openStore(data);
    try {
      const [version] = await after.models.list('hall', 'fight');
      expect(version).to.deep.include({ version: '1.1.0' });
      if (version.accepted) {
        expect(r.stdout).to.contain(`fight 1.1.0 is live on camera hall (version ${version.id}`);
        expect(await after.models.liveFolder('hall', 'fight')).to.equal(join(data, 'models', 'hall', 'fight-1.1.0'));
      } else {
        expect(r.stdout).to.contain(`fight 1.1.0 kept as version ${version.id}, not live`);
      }
    } finally {
      await after.close();
    }
  });

  it('refuses --events without --model and --out, and --out with --camera', async () => {
    const r = await vigil(['adapt', '--events', 'x.json']);
    expect(r.code).to.equal(1);
    expect(r.stderr.trimEnd()).to.equal(
      'vigil: VIGIL_ERR_INVALID_ARGUMENT: invalid argument: --events without --camera needs --model (a name or folder) and --out DIR',
    );
    const none = await vigil(['adapt']);
    expect(none.stderr.trimEnd()).to.equal('vigil: VIGIL_ERR_INVALID_ARGUMENT: invalid argument: give --camera ID, or --events FILE');
    const both = await vigil(['adapt', '--camera', 'hall', '--out', 'x']);
    expect(both.stderr.trimEnd()).to.equal(
      'vigil: VIGIL_ERR_INVALID_ARGUMENT: invalid argument: --out goes with --events alone: a camera keeps its versions in the data folder',
    );
  });
});
