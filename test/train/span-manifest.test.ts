import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VigilError } from '../../src/errors.js';
import {
  formatSpanManifest,
  oneVsRest,
  parseSpanManifest,
  readSpanManifest,
  spanFrameLabels,
  spanLabels,
  UNLABELLED,
  type Span,
} from '../../src/train/span-manifest.js';

const BASE = '/data/set';

function expectDatasetError(fn: () => unknown, message: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(VigilError);
    expect((e as VigilError).code).to.equal('VIGIL_ERR_DATASET');
    expect((e as VigilError).message).to.equal(`bad dataset: ${message}`);
    return;
  }
  expect.fail('expected VIGIL_ERR_DATASET');
}

const parse = (text: string) => parseSpanManifest(text, { baseDir: BASE, source: 'm.csv' });

describe('train/span-manifest', () => {
  describe('parsing', () => {
    it('reads CSV: any column order, quoted paths, spans gathered per clip, paths resolved against the manifest', () => {
      const d = parse(
        [
          'label,clip,end,start,group',
          'sitting,clips/a.mp4,3.4,0,s1',
          'falling,clips/a.mp4,6,3.4,s1',
          '',
          'walking,"clips/b, the second.mp4",2,0,s2',
          'falling,/abs/c.mp4,1.5,0.5,',
        ].join('\r\n'),
      );
      expect(d.source).to.equal('m.csv');
      expect(d.clips.map((c) => [c.path, c.id, c.group])).to.deep.equal([
        ['/data/set/clips/a.mp4', 'a', 's1'],
        ['/data/set/clips/b, the second.mp4', 'b, the second', 's2'],
        ['/abs/c.mp4', 'c', undefined],
      ]);
      expect(d.clips[0].spans).to.deep.equal([
        { label: 'sitting', startS: 0, endS: 3.4 },
        { label: 'falling', startS: 3.4, endS: 6 },
      ]);
      expect(spanLabels(d)).to.deep.equal(['sitting', 'falling', 'walking']);
    });

    it('reads JSON Lines with the same keys, group optional', () => {
      const d = parse(
        [
          '{"clip":"a.mp4","label":"standing","start":0,"end":1.5,"group":"g"}',
          '',
          '{"clip":"b.mp4","label":"falling","start":0.25,"end":2}',
        ].join('\n'),
      );
      expect(d.clips.map((c) => [c.id, c.group, c.spans])).to.deep.equal([
        ['a', 'g', [{ label: 'standing', startS: 0, endS: 1.5 }]],
        ['b', undefined, [{ label: 'falling', startS: 0.25, endS: 2 }]],
      ]);
    });

    it('round-trips through CSV and JSONL with paths relative to the manifest', () => {
      const d = parse('clip,label,start,end,group\nclips/a.mp4,sitting,0,3.4,s1\n"x,y/b.mp4",falling,0.5,2,s2\n');
      const csv = formatSpanManifest(d, 'csv', BASE);
      expect(csv).to.equal('clip,label,start,end,group\nclips/a.mp4,sitting,0,3.4,s1\n"x,y/b.mp4",falling,0.5,2,s2\n');
      expect(parse(csv)).to.deep.equal(d);
      const jsonl = formatSpanManifest(d, 'jsonl', BASE);
      expect(jsonl.split('\n')[0]).to.equal('{"clip":"clips/a.mp4","label":"sitting","start":0,"end":3.4,"group":"s1"}');
      expect(parse(jsonl)).to.deep.equal(d);
    });

    it('gives VIGIL_ERR_DATASET with the line number for bad CSV rows', () => {
      const head = 'clip,label,start,end\n';
      expectDatasetError(
        () => parse(head + 'a.mp4,sitting,0,1\na.mp4,falling,soon,2\n'),
        'm.csv:3: start must be a number of seconds, got "soon"',
      );
      expectDatasetError(() => parse(head + 'a.mp4,sitting,2,2\n'), 'm.csv:2: end (2) must be after start (2)');
      expectDatasetError(() => parse(head + 'a.mp4,sitting,-1,2\n'), 'm.csv:2: start must be >= 0, got -1');
      expectDatasetError(() => parse(head + 'a.mp4,,0,2\n'), 'm.csv:2: label is empty');
      expectDatasetError(() => parse(head + 'a.mp4,sitting,0\n'), 'm.csv:2: 3 fields, the header has 4 (clip,label,start,end)');
      expectDatasetError(
        () => parse('clip,label,start,stop\n'),
        'm.csv:1: unknown column "stop" (allowed: clip, label, start, end, group)',
      );
      expectDatasetError(() => parse('clip,label,start\n'), 'm.csv:1: missing column end (need clip, label, start, end[, group])');
      expectDatasetError(
        () => parse('clip,label,start,end,group\na.mp4,x,0,1,g1\nb.mp4,x,0,1,g1\na.mp4,y,1,2,g2\n'),
        'm.csv:4: clip a.mp4 is in group "g2" here and "g1" on an earlier row',
      );
      expectDatasetError(() => parse(head + '"a.mp4,sitting,0,1\n'), 'm.csv:2: unterminated quoted field');
      expectDatasetError(() => parse(head), 'm.csv: no spans');
      expectDatasetError(() => parse(''), 'm.csv: no spans');
    });

    it('gives VIGIL_ERR_DATASET with the line number for bad JSONL rows', () => {
      const ok = '{"clip":"a.mp4","label":"x","start":0,"end":1}';
      expectDatasetError(() => parse(`${ok}\n{"clip":"a.mp4",\n`), 'm.csv:2: not JSON: ' + jsonError('{"clip":"a.mp4",'));
      expectDatasetError(
        () => parse(`${ok}\n\n{"clip":"a.mp4","label":"x","start":"0","end":1}`),
        'm.csv:3: start must be a number of seconds, got "0"',
      );
      expectDatasetError(
        () => parse(`${ok}\n{"clip":"a.mp4","label":"x","start":0,"end":1,"who":1}`),
        'm.csv:2: unknown column "who" (allowed: clip, label, start, end, group)',
      );
      expectDatasetError(
        () => parse(`${ok}\n{"clip":"a.mp4","label":"x","start":0}`),
        'm.csv:2: missing column end (need clip, label, start, end[, group])',
      );
    });

    it('checks that the clips exist when reading a file', () => {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-spans-'));
      try {
        writeFileSync(join(dir, 'a.mp4'), 'x');
        const path = join(dir, 'm.csv');
        writeFileSync(path, 'clip,label,start,end\na.mp4,sitting,0,1\nb.mp4,sitting,0,1\n');
        expectDatasetError(() => readSpanManifest(path), `${path}: 1 clip(s) not found: ${join(dir, 'b.mp4')}`);
        writeFileSync(path, 'clip,label,start,end\na.mp4,sitting,0,1\n');
        expect(readSpanManifest(path).clips[0].path).to.equal(join(dir, 'a.mp4'));
        expectDatasetError(() => readSpanManifest(join(dir, 'none.csv')), `${join(dir, 'none.csv')}: no such manifest file`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('oneVsRest keeps one label and names every other span the rest', () => {
    const data = {
      source: 'x',
      clips: [
        {
          path: '/a.mp4',
          id: 'a',
          group: 'g',
          spans: [
            { label: 'sitting', startS: 0, endS: 2 },
            { label: 'falling', startS: 2, endS: 4 },
            { label: 'reading', startS: 0, endS: 1 },
          ],
        },
      ],
    };
    const out = oneVsRest(data, 'falling', 'no_fall');
    expect(out.clips[0].spans.map((s) => s.label)).to.deep.equal(['no_fall', 'falling', 'no_fall']);
    expect(out.clips[0]).to.include({ path: '/a.mp4', id: 'a', group: 'g' });
    expect(data.clips[0].spans[0].label).to.equal('sitting'); // the input is left alone
  });

  describe('spans to frame labels', () => {
    const classes = ['falling', 'lying', 'sitting', 'walking'];
    // Frames every 0.5 s from 0 to 5 s.
    const tMs = Array.from({ length: 11 }, (_, i) => i * 500);

    it('gives a frame the covering span; overlaps go to the class listed first; gaps are unlabelled', () => {
      const spans: Span[] = [
        { label: 'sitting', startS: 0, endS: 2.2 }, // frames 0, 0.5, 1, 1.5, 2
        { label: 'reading', startS: 0, endS: 5 }, // not a class: ignored
        { label: 'falling', startS: 1.8, endS: 3 }, // wins over sitting at 2, ends before 3
        { label: 'lying', startS: 3.5, endS: 4.5 }, // gap at 3
        { label: 'walking', startS: 4.2, endS: 9 }, // overlaps lying at 4.2-4.5, where no frame falls
      ];
      const F = 0,
        L = 1,
        S = 2,
        W = 3,
        U = UNLABELLED;
      expect(Array.from(spanFrameLabels(spans, tMs, classes))).to.deep.equal([S, S, S, S, F, F, U, L, L, W, W]);
    });

    it('puts a frame on a boundary in the span that starts there (half-open spans)', () => {
      const spans: Span[] = [
        { label: 'walking', startS: 0, endS: 1 },
        { label: 'sitting', startS: 1, endS: 2 },
      ];
      // walking is listed after sitting, so priority would not hand 1.0 to sitting: the boundary rule does.
      expect(Array.from(spanFrameLabels(spans, [0, 999.9999999, 1000, 1999, 2000], classes))).to.deep.equal([3, 2, 2, 2, UNLABELLED]);
    });

    it('respects priority whichever order the spans come in', () => {
      const a: Span = { label: 'walking', startS: 0, endS: 2 };
      const b: Span = { label: 'falling', startS: 0.5, endS: 1.5 };
      const expected = [3, 0, 0, 3];
      expect(Array.from(spanFrameLabels([a, b], [0, 500, 1000, 1500], classes))).to.deep.equal(expected);
      expect(Array.from(spanFrameLabels([b, a], [0, 500, 1000, 1500], classes))).to.deep.equal(expected);
    });
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}
