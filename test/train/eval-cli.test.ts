import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evalCommand } from '../../src/cli/eval.js';
import { trainCommand } from '../../src/cli/train.js';
import { VigilError } from '../../src/errors.js';
import { readSpanManifest } from '../../src/train/span-manifest.js';
import { fixture } from '../helpers/clips.js';
import { gmdcsa24FromFixtures } from '../helpers/datasets.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI from source (no build needed), as `vigil` would run it. */
function vigil(args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function expectRejects(p: Promise<unknown>, code: string, message: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(VigilError);
    expect((e as VigilError).code).to.equal(code);
    expect((e as VigilError).message).to.equal(message);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe('vigil eval / import / train --manifest (CLI)', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'vigil-eval-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('eval --help lists its options', async () => {
    const r = await vigil(['eval', '--help']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^Usage: vigil eval \[options\]/);
    for (const flag of ['--model', '--data', '--manifest', '--groups', '--cv', '--seed', '--tolerance', '--json'])
      expect(r.stdout).to.contain(flag);
  });

  it('train --help offers --manifest and --classes beside --data', () => {
    const help = trainCommand().helpInformation();
    for (const flag of ['--data', '--manifest', '--classes', '--groups', '--seed']) expect(help).to.contain(flag);
  });

  it('eval and train need exactly one dataset', async () => {
    const message = 'invalid argument: give one of --data DIR (class folders) or --manifest FILE (time spans)';
    await expectRejects(evalCommand().parseAsync(['--model', 'fight'], { from: 'user' }), 'VIGIL_ERR_INVALID_ARGUMENT', message);
    await expectRejects(
      trainCommand().parseAsync(['--name', 'x', '--data', 'a', '--manifest', 'b'], { from: 'user' }),
      'VIGIL_ERR_INVALID_ARGUMENT',
      message,
    );
  });

  it('import gmdcsa24 writes a manifest training and eval read; spans the model cannot predict are refused', async () => {
    // The real CSVs with the clips a clone has (the full dataset only adds rows of the same kind).
    const dataset = gmdcsa24FromFixtures(join(tmp, 'gmdcsa24'));
    const out = join(tmp, 'gmdcsa24.csv');
    const r = await vigil(['import', 'gmdcsa24', dataset, '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('gmdcsa24: 112 rows; 2 clips imported (Subject_3 1, Subject_4 1)');
    expect(r.stderr).to.contain('skipped: 110 rows whose clip is not in clips/');
    expect(r.stderr).to.contain('unreadable (4; their rows are left out)');
    expect(r.stderr).to.contain('Subject_4__Fall.csv:16 Subject_4__Fall__15.mp4 (not in clips/): label without a time span: Falling (FW)');
    const data = readSpanManifest(out);
    expect(data.clips).to.have.length(2);
    expect(data.clips[0].path).to.equal(join(dataset, 'clips', 'Subject_3__Fall__19.mp4'));

    await expectRejects(
      trainCommand().parseAsync(['--manifest', out, '--name', 'falls', '--out', join(tmp, 'falls')], { from: 'user' }),
      'VIGIL_ERR_INVALID_ARGUMENT',
      'invalid argument: --manifest needs --classes a,b,c (the order is the priority where spans overlap)',
    );
    await expectRejects(
      evalCommand().parseAsync(['--model', 'fight', '--manifest', out], { from: 'user' }),
      'VIGIL_ERR_DATASET',
      `bad dataset: ${out}: no span has a label among fight, no_fight (labels: falling, standing, lying)`,
    );
  });

  it('eval on time spans lists the clips of every missed event and false alarm it counts', async () => {
    // The two fixture clips cut from GMDCSA24, spans as their CSV rows annotate them (fixtures/README.md).
    const [fall02, fall19] = [fixture('gmdcsa24-subject4-fall02.mp4'), fixture('gmdcsa24-subject3-fall19.mp4')];
    const manifest = join(tmp, 'two.csv');
    writeFileSync(
      manifest,
      [
        'clip,label,start,end',
        `${fall02},no_fall,0,1.4`,
        `${fall02},falling,1.5,2`,
        `${fall19},no_fall,0,1.9`,
        `${fall19},falling,2,5`,
      ].join('\n'),
    );
    // A 10 ms tolerance turns the events into misses and their segments into false alarms (but
    // for a segment that starts with its span on a clip's first frame).
    const r = await vigil(['eval', '--model', 'fall', '--manifest', manifest, '--tolerance', '0.01', '--cache', join(tmp, 'cache')]);
    expect(r.code, r.stderr).to.equal(0);
    for (const label of ['falling', 'no_fall']) {
      const row = r.stdout.split('\n').find((l) => l.startsWith(`${label} `) && /clips$/.test(l.split(/ {2,}/)[5] ?? ''))!;
      const [, , , missed, alarms] = row.split(/ {2,}/);
      const misses =
        r.stdout.match(
          new RegExp(
            `^  ${label} missed in (gmdcsa24-subject4-fall02|gmdcsa24-subject3-fall19) at \\d+\\.\\d\\d s ` +
              `\\((nearest segment starts at \\d+\\.\\d\\d s|no segment of it in the clip)\\)$`,
            'gm',
          ),
        ) ?? [];
      const listed =
        r.stdout.match(
          new RegExp(`^  ${label} false alarm in (gmdcsa24-subject4-fall02|gmdcsa24-subject3-fall19) at \\d+\\.\\d\\d s$`, 'gm'),
        ) ?? [];
      expect(misses.length, `${label}: ${r.stdout}`).to.equal(Number(missed)).and.to.be.above(0);
      expect(listed.length, label).to.equal(Number(alarms));
    }
    expect(r.stdout).to.contain('  falling missed in gmdcsa24-subject4-fall02 at 1.50 s');
  });
});
