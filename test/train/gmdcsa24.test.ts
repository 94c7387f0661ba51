import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { VigilError } from '../../src/errors.js';
import { GMDCSA24_LABELS, importGmdcsa24, parseGmdcsa24Classes, type Gmdcsa24Import } from '../../src/train/gmdcsa24.js';
import { fixture } from '../helpers/clips.js';
import { gmdcsa24FromFixtures, needsDataset, sharedDataset } from '../helpers/datasets.js';

const DIR = sharedDataset('gmdcsa24');

describe('train/gmdcsa24', () => {
  describe('the Classes cell', () => {
    it('reads labels with spans, several spans in one bracket, spaces anywhere', () => {
      expect(parseGmdcsa24Classes(' Falling (BW) [0.3 to 5]; Standing[0 to 0.3; 1.5 to 2.2]; Sitting[ 0 to 10]')).to.deep.equal({
        spans: [
          { label: 'falling', startS: 0.3, endS: 5 },
          { label: 'standing', startS: 0, endS: 0.3 },
          { label: 'standing', startS: 1.5, endS: 2.2 },
          { label: 'sitting', startS: 0, endS: 10 },
        ],
        problems: [],
      });
    });

    it('maps the typo Fall (FW) and every falling variant to falling, Sleeping to lying', () => {
      const { spans } = parseGmdcsa24Classes('Fall (FW)[0 to 1]; Falling (SW)[1 to 2]; falling (fw)[2 to 3]; Sleeping[3 to 4]');
      expect(spans.map((s) => s.label)).to.deep.equal(['falling', 'falling', 'falling', 'lying']);
    });

    it('tolerates an empty item and a stray colon after ], which leave nothing to guess', () => {
      expect(parseGmdcsa24Classes('Falling (SW)[1.8 to 5]:; Walking[0 to 1.8]; ').spans).to.have.length(2);
    });

    it('reports what it cannot read instead of guessing', () => {
      expect(parseGmdcsa24Classes('Standing[2.4 to 3.6; 6.6 to 7.9; Walking[3.6 to 5.2; 7.9 to 9.2] ')).to.deep.equal({
        spans: [
          { label: 'walking', startS: 3.6, endS: 5.2 },
          { label: 'walking', startS: 7.9, endS: 9.2 },
        ],
        problems: [{ text: 'Standing[2.4 to 3.6; 6.6 to 7.9;', problem: 'no closing ]' }],
      });
      expect(parseGmdcsa24Classes('Reading; Sitting[0.8 to 8.1]').problems).to.deep.equal([
        { text: 'Reading', problem: 'label without a time span' },
      ]);
      expect(parseGmdcsa24Classes('Falling (BW)[2.3 6]').problems).to.deep.equal([
        { text: 'Falling (BW)[2.3 6]', problem: 'not "start to end": 2.3 6' },
      ]);
      expect(parseGmdcsa24Classes('Jumping[0 to 1]').problems).to.deep.equal([{ text: 'Jumping', problem: 'unknown label' }]);
      expect(parseGmdcsa24Classes('Sitting[3 to 1]').problems).to.deep.equal([{ text: 'Sitting[3 to 1]', problem: 'empty span 3 to 1' }]);
      expect(parseGmdcsa24Classes('Sitting[0 to 1] x; Walking[1 to 2]')).to.deep.equal({
        spans: [{ label: 'walking', startS: 1, endS: 2 }],
        problems: [{ text: 'Sitting[0 to 1] x', problem: 'text after ]' }],
      });
      expect(parseGmdcsa24Classes('Sitting[0 to 1]; 42').problems).to.deep.equal([{ text: '42', problem: 'not a label' }]);
    });
  });

  describe('the real CSVs, with the clips a clone has (fixtures/gmdcsa24 and two fixture clips)', () => {
    let tmp: string;
    let result: Gmdcsa24Import;
    before(() => {
      tmp = mkdtempSync(join(tmpdir(), 'vigil-gmdcsa24-'));
      result = importGmdcsa24(gmdcsa24FromFixtures(join(tmp, 'clone')));
    });
    after(() => rmSync(tmp, { recursive: true, force: true }));

    it('gives each clip in clips/ its spans, grouped by subject; skips and counts the rows of the others', () => {
      const dir = join(tmp, 'clone');
      expect(result.dataset.clips.map((c) => [c.id, c.group, c.path])).to.deep.equal([
        ['Subject_3__Fall__19', 'Subject_3', join(dir, 'clips', 'Subject_3__Fall__19.mp4')],
        ['Subject_4__Fall__02', 'Subject_4', join(dir, 'clips', 'Subject_4__Fall__02.mp4')],
      ]);
      expect(result.rows).to.equal(112);
      expect(result.absent).to.have.length(112 - 2);
      expect(result.absent).to.include('Subject_1__ADL__01.mp4');
      expect(result.unlisted).to.deep.equal([]);
      expect(result.rejected).to.deep.equal([]);
    });

    it('reports exactly the unreadable rows and labels', () => {
      expect(result.problems).to.deep.equal([
        {
          file: 'Subject_3__ADL.csv',
          line: 5,
          clip: 'Subject_3__ADL__04.mp4',
          present: false,
          text: 'Standing[2.4 to 3.6; 6.6 to 7.9;',
          problem: 'no closing ]',
        },
        {
          file: 'Subject_3__ADL.csv',
          line: 13,
          clip: 'Subject_3__ADL__12.mp4',
          present: false,
          text: 'Reading',
          problem: 'label without a time span',
        },
        {
          file: 'Subject_4__Fall.csv',
          line: 10,
          clip: 'Subject_4__Fall__09.mp4',
          present: false,
          text: 'Falling (BW)[2.3 6]',
          problem: 'not "start to end": 2.3 6',
        },
        {
          file: 'Subject_4__Fall.csv',
          line: 16,
          clip: 'Subject_4__Fall__15.mp4',
          present: false,
          text: 'Falling (FW)',
          problem: 'label without a time span',
        },
      ]);
    });

    it('maps Sleeping to lying and keeps the spans as annotated', () => {
      const spans = (id: string) => result.dataset.clips.find((c) => c.id === id)!.spans;
      expect(spans('Subject_4__Fall__02')).to.deep.equal([
        { label: 'falling', startS: 1.5, endS: 2 },
        { label: 'lying', startS: 0, endS: 1.4 }, // "Sleeping"
      ]);
      expect(spans('Subject_3__Fall__19')).to.deep.equal([
        { label: 'falling', startS: 2, endS: 5 },
        { label: 'standing', startS: 0, endS: 1.9 },
      ]);
      expect(result.spans).to.deep.equal({ falling: 2, standing: 1, lying: 1 });
    });

    it('maps the typo row, keeps overlaps and gaps, leaves out a present clip whose row is unreadable, lists a clip no row describes', () => {
      const dir = gmdcsa24FromFixtures(join(tmp, 'more'));
      // Stand-ins named as dataset clips the fixtures lack: the importer lists clips/ and never opens a clip.
      for (const name of ['Subject_3__Fall__01', 'Subject_1__Fall__15', 'Subject_3__ADL__07', 'Subject_3__ADL__04', 'Subject_9__ADL__01'])
        writeFileSync(join(dir, 'clips', `${name}.mp4`), '');
      const more = importGmdcsa24(dir);
      const spans = (id: string) => more.dataset.clips.find((c) => c.id === id)!.spans;
      expect(spans('Subject_3__Fall__01')).to.deep.equal([{ label: 'falling', startS: 0, endS: 3 }]); // "Fall (FW)[0 to 3]"
      expect(spans('Subject_1__Fall__15')).to.deep.equal([
        { label: 'falling', startS: 1.8, endS: 6 }, // overlaps sitting 1.8-2
        { label: 'sitting', startS: 0, endS: 2 },
      ]);
      expect(spans('Subject_3__ADL__07')).to.deep.equal([
        { label: 'exercising', startS: 0, endS: 3 },
        { label: 'standing', startS: 0, endS: 0.3 }, // gap 0.3-1.5
        { label: 'standing', startS: 1.5, endS: 2.2 },
      ]);
      expect(more.rejected).to.deep.equal(['Subject_3__ADL__04.mp4']); // "Standing[2.4 to 3.6; 6.6 to 7.9;"
      expect(more.problems.find((p) => p.clip === 'Subject_3__ADL__04.mp4')!.present).to.equal(true);
      expect(more.unlisted).to.deep.equal(['Subject_9__ADL__01.mp4']);
      expect(more.dataset.clips.map((c) => c.id).sort()).to.deep.equal([
        'Subject_1__Fall__15',
        'Subject_3__ADL__07',
        'Subject_3__Fall__01',
        'Subject_3__Fall__19',
        'Subject_4__Fall__02',
      ]);
    });
  });

  describe('the full dataset (../shared/datasets/gmdcsa24: its 19 clips)', () => {
    let result: Gmdcsa24Import;
    let onDisk: string[];
    before(function () {
      needsDataset(this, DIR);
      result = importGmdcsa24(DIR);
      onDisk = readdirSync(`${DIR}/clips`)
        .filter((f) => f.endsWith('.mp4'))
        .sort();
    });

    it('gives every clip in clips/ its spans, grouped by subject', () => {
      expect(result.dataset.clips.map((c) => `${c.id}.mp4`).sort()).to.deep.equal(onDisk);
      expect(onDisk).to.have.length(19);
      for (const c of result.dataset.clips) {
        expect(c.spans, c.id).to.not.be.empty;
        expect(c.group).to.equal(/^(Subject_\d+)__/.exec(c.id)![1]);
        expect(c.path).to.equal(`${DIR}/clips/${c.id}.mp4`);
        for (const s of c.spans) expect(Object.values(GMDCSA24_LABELS), c.id).to.include(s.label);
      }
      expect(result.unlisted).to.deep.equal([]);
      expect(result.rejected).to.deep.equal([]);
    });

    it('skips and counts the rows whose clip is not shipped', () => {
      expect(result.rows).to.equal(112);
      expect(result.absent).to.have.length(112 - 19);
      expect(result.absent).to.include('Subject_1__ADL__01.mp4');
    });

    it('counts the spans of the 19 clips', () => {
      expect(result.spans).to.deep.equal({
        reading: 2,
        walking: 7,
        sitting: 6,
        falling: 11,
        standing: 8,
        exercising: 1,
        eating: 2,
        lying: 1,
      });
    });
  });

  it('gives VIGIL_ERR_DATASET for a folder without the CSVs', () => {
    // Clips and no CSVs, like the dataset's clips/ folder, and in every clone.
    const clips = dirname(fixture('demo.mp4'));
    try {
      importGmdcsa24(clips);
      expect.fail('expected VIGIL_ERR_DATASET');
    } catch (e) {
      expect(e).to.be.instanceOf(VigilError);
      expect((e as VigilError).code).to.equal('VIGIL_ERR_DATASET');
      expect((e as VigilError).message).to.equal(`bad dataset: ${clips}: no Subject_N__{ADL,Fall}.csv files (is this GMDCSA24?)`);
    }
  });
});
