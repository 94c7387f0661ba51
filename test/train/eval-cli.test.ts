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
import { needsDataset, sharedDataset } from '../helpers/datasets.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const GMDCSA24 = sharedDataset('gmdcsa24');

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
    for (const flag of ['--model', '--data', '--manifest', '--groups', '--cv', '--seed', '--tolerance', '--json']) expect(r.stdout).to.contain(flag);
  });

  it('train --help offers --manifest and --classes beside --data', () => {
    const help = trainCommand().helpInformation();
    for (const flag of ['--data', '--manifest', '--classes', '--groups', '--seed']) expect(help).to.contain(flag);
  });

  it('eval and train need exactly one dataset', async () => {
    const message = 'invalid argument: give one of --data DIR (class folders) or --manifest FILE (time spans)';
    await expectRejects(evalCommand().parseAsync(['--model', 'fight'], { from: 'user' }), 'VIGIL_ERR_INVALID_ARGUMENT', message);
    await expectRejects(trainCommand().parseAsync(['--name', 'x', '--data', 'a', '--manifest', 'b'], { from: 'user' }), 'VIGIL_ERR_INVALID_ARGUMENT', message);
  });

  it('import gmdcsa24 writes a manifest training and eval read; spans the model cannot predict are refused', async function () {
    needsDataset(this, GMDCSA24);
    const out = join(tmp, 'gmdcsa24.csv');
    const r = await vigil(['import', 'gmdcsa24', GMDCSA24, '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('19 clips imported (Subject_1 5, Subject_3 10, Subject_4 4)');
    expect(r.stderr).to.contain('unreadable (4; their rows are left out)');
    expect(r.stderr).to.contain('Subject_4__Fall.csv:16 Subject_4__Fall__15.mp4 (not in clips/): label without a time span: Falling (FW)');
    const data = readSpanManifest(out);
    expect(data.clips).to.have.length(19);
    expect(data.clips[0].path).to.equal(join(GMDCSA24, 'clips', 'Subject_1__ADL__10.mp4'));

    await expectRejects(
      trainCommand().parseAsync(['--manifest', out, '--name', 'falls', '--out', join(tmp, 'falls')], { from: 'user' }),
      'VIGIL_ERR_INVALID_ARGUMENT',
      'invalid argument: --manifest needs --classes a,b,c (the order is the priority where spans overlap)',
    );
    await expectRejects(
      evalCommand().parseAsync(['--model', 'fight', '--manifest', out], { from: 'user' }),
      'VIGIL_ERR_DATASET',
      `bad dataset: ${out}: no span has a label among fight, no_fight (labels: reading, walking, sitting, falling, standing, exercising, eating, lying)`,
    );
  });

  it('eval on time spans lists the clips of every missed event and false alarm it counts', async function () {
    needsDataset(this, GMDCSA24);
    const clip = (name: string) => join(GMDCSA24, 'clips', `${name}.mp4`);
    const manifest = join(tmp, 'two.csv');
    writeFileSync(manifest, ['clip,label,start,end', `${clip('Subject_4__Fall__01')},no_fall,0,1.5`, `${clip('Subject_4__Fall__01')},falling,1.8,4`, `${clip('Subject_3__ADL__19')},no_fall,1.8,5`].join('\n'));
    // A 10 ms tolerance turns every event into a miss and every segment into a false alarm.
    const r = await vigil(['eval', '--model', 'fall', '--manifest', manifest, '--tolerance', '0.01', '--cache', join(tmp, 'cache')]);
    expect(r.code, r.stderr).to.equal(0);
    for (const label of ['falling', 'no_fall']) {
      const row = r.stdout.split('\n').find((l) => l.startsWith(`${label} `) && /clips$/.test(l.split(/ {2,}/)[5] ?? ''))!;
      const [, , , missed, alarms] = row.split(/ {2,}/);
      const misses = r.stdout.match(new RegExp(`^  ${label} missed in (Subject_4__Fall__01|Subject_3__ADL__19) at \\d+\\.\\d\\d s \\(nearest segment starts at \\d+\\.\\d\\d s\\)$`, 'gm')) ?? [];
      const listed = r.stdout.match(new RegExp(`^  ${label} false alarm in (Subject_4__Fall__01|Subject_3__ADL__19) at \\d+\\.\\d\\d s$`, 'gm')) ?? [];
      expect(misses.length, `${label}: ${r.stdout}`).to.equal(Number(missed)).and.to.be.above(0);
      expect(listed.length, label).to.equal(Number(alarms));
    }
    expect(r.stdout).to.contain('  falling missed in Subject_4__Fall__01 at 1.80 s');
  });
});
