import { expect } from 'chai';
import { VigilError } from '../../src/errors.js';
import {
  buildTimeline,
  toTable,
  toTimelineJson,
  toWebVtt,
  TIMELINE_SCHEMA,
  type FrameProbs,
  type Segment,
} from '../../src/timeline/index.js';

/**
 * A WebVTT checker written from https://www.w3.org/TR/webvtt1/ (file structure, cue timings,
 * cue text), strict about what our writer should produce. Returns the problems found.
 */
function vttProblems(text: string): string[] {
  const problems: string[] = [];
  const TS = String.raw`(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})`;
  const TIMING = new RegExp(`^${TS}[ \\t]+-->[ \\t]+${TS}(?:[ \\t].*)?$`);
  const ms = (m: RegExpMatchArray, o: number) =>
    Number(m[o] ?? 0) * 3_600_000 + Number(m[o + 1]) * 60_000 + Number(m[o + 2]) * 1000 + Number(m[o + 3]);

  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  if (!/^WEBVTT(?:[ \t].*)?$/.test(lines[0])) problems.push('first line is not the WEBVTT signature');
  // Header block: lines up to the first blank line; it must not contain a timing.
  let i = 1;
  while (i < lines.length && lines[i] !== '') {
    if (lines[i].includes('-->')) problems.push(`header line ${i + 1} contains -->`);
    i++;
  }
  let lastStart = -1;
  while (i < lines.length) {
    if (lines[i] === '') {
      i++;
      continue;
    }
    const block: string[] = [];
    while (i < lines.length && lines[i] !== '') block.push(lines[i++]);
    const at = block[0].includes('-->') ? 0 : 1; // optional identifier
    if (at === 1 && block[0].includes('-->')) problems.push(`identifier contains -->: ${block[0]}`);
    const m = (block[at] ?? '').match(TIMING);
    if (m === null) {
      problems.push(`bad cue timing line: ${block[at]}`);
      continue;
    }
    const start = ms(m, 1);
    const end = ms(m, 5);
    if (!(end > start)) problems.push(`cue end not after start: ${block[at]}`);
    if (start < lastStart) problems.push(`cue starts before the previous cue: ${block[at]}`);
    lastStart = start;
    for (const payload of block.slice(at + 1)) {
      if (payload.includes('-->')) problems.push(`payload contains -->: ${payload}`);
      if (/[<>]/.test(payload)) problems.push(`unescaped < or > in payload: ${payload}`);
      if (/&(?!(?:amp|lt|gt|lrm|rlm|nbsp);)/.test(payload)) problems.push(`bare & in payload: ${payload}`);
    }
  }
  return problems;
}

const seg = (label: string, startMs: number, endMs: number, confidence = 0.5, peak = 0.9): Segment => ({
  label,
  startMs,
  endMs,
  confidence,
  peak,
});

describe('timeline/format', () => {
  describe('vtt validator', () => {
    it('accepts a valid file (with and without hours, identifiers)', () => {
      expect(vttProblems('WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n\nx\n01:00:02.000 --> 100:00:00.000\nyo &amp; &lt;\n')).to.deep.equal([]);
      expect(vttProblems('WEBVTT - title\n\nc1\n00:00:01.000 --> 00:00:02.500\nhi\n')).to.deep.equal([]);
    });

    it('rejects broken files', () => {
      const broken: [string, string][] = [
        ['WEBVTX\n\n00:00:01.000 --> 00:00:02.000\nhi\n', 'first line is not'],
        ['WEBVTT\n00:00:01.000 --> 00:00:02.000\nhi\n', 'header line 2 contains -->'],
        ['WEBVTT\n\n00:00:01.00 --> 00:00:02.000\nhi\n', 'bad cue timing'],
        ['WEBVTT\n\n00:00:61.000 --> 00:01:02.000\nhi\n', 'bad cue timing'],
        ['WEBVTT\n\n00:00:02.000 --> 00:00:02.000\nhi\n', 'end not after start'],
        ['WEBVTT\n\n00:00:03.000 --> 00:00:04.000\nhi\n\n00:00:01.000 --> 00:00:02.000\nho\n', 'starts before'],
        ['WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhi\n00:00:02.000 --> 00:00:03.000\nho\n', 'payload contains -->'],
        ['WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nR&D\n', 'bare &'],
        ['WEBVTT\n\n00:00:01.000 --> 00:00:02.000\na<b\n', 'unescaped <'],
      ];
      for (const [text, problem] of broken) {
        expect(vttProblems(text).join('\n'), JSON.stringify(text)).to.contain(problem);
      }
    });
  });

  describe('toWebVtt', () => {
    it('writes header, identified cues in order and label (confidence) text', () => {
      const vtt = toWebVtt([seg('no_fight', 0, 1500, 0.91), seg('fight', 1500, 3_723_004.6, 0.8712)]);
      expect(vtt).to.equal(
        'WEBVTT\n\n' + 'seg-1\n00:00:00.000 --> 00:00:01.500\nno_fight (0.91)\n\n' + 'seg-2\n00:00:01.500 --> 01:02:03.005\nfight (0.87)\n',
      );
      expect(vttProblems(vtt)).to.deep.equal([]);
    });

    it('widens zero-length segments (also after rounding to ms) to 1 ms', () => {
      const vtt = toWebVtt([seg('a', 40, 40), seg('b', 100.2, 100.4), seg('a', 100.4, 400)]);
      expect(vtt).to.contain('00:00:00.040 --> 00:00:00.041');
      expect(vtt).to.contain('00:00:00.100 --> 00:00:00.101');
      expect(vttProblems(vtt)).to.deep.equal([]);
    });

    it('escapes &, < and > and keeps --> and line breaks out of the text', () => {
      const vtt = toWebVtt([seg('a<b>&c-->d\n\ne', 0, 1000)]);
      expect(vtt.split('\n')[4]).to.equal('a&lt;b&gt;&amp;c--&gt;d  e (0.50)');
      expect(vttProblems(vtt)).to.deep.equal([]);
    });

    it('filters by classes, keeping identifiers tied to segment positions', () => {
      const vtt = toWebVtt([seg('no_fight', 0, 1000), seg('fight', 1000, 2000), seg('no_fight', 2000, 3000)], {
        classes: ['fight'],
      });
      expect(vtt).to.equal('WEBVTT\n\nseg-2\n00:00:01.000 --> 00:00:02.000\nfight (0.50)\n');
      expect(toWebVtt([])).to.equal('WEBVTT\n');
      expect(vttProblems(toWebVtt([]))).to.deep.equal([]);
    });

    it('passes the validator for a real timeline', () => {
      const frames: FrameProbs[] = [];
      for (let i = 0; i < 200; i++) frames.push({ tMs: i * 41.708, probs: Math.floor(i / 25) % 2 ? [0.9, 0.1] : [0.2, 0.8] });
      const { segments } = buildTimeline(['fight', 'no_fight'], frames);
      expect(segments.length).to.be.greaterThan(4);
      expect(vttProblems(toWebVtt(segments))).to.deep.equal([]);
    });

    it('rejects negative, reversed or out-of-order times', () => {
      for (const bad of [[seg('a', -1, 5)], [seg('a', 5, 4)], [seg('a', 5, 9), seg('b', 4, 9)], [seg('a', 0, Infinity)]]) {
        expect(() => toWebVtt(bad)).to.throw(VigilError, /invalid argument: segments\[\d\] must have .*0 <= startMs <= endMs/);
      }
    });
  });

  describe('toTable', () => {
    it('aligns columns with m:ss.s times and durations that add up', () => {
      const table = toTable([seg('no_fight', 0, 1540, 0.9132, 0.99), seg('fight', 1540, 64_250, 0.8712, 0.97)]);
      expect(table).to.equal(
        [
          'start   end     duration  label     confidence  peak',
          '0:00.0  0:01.5  0:01.5    no_fight  0.91        0.99',
          '0:01.5  1:04.3  1:02.8    fight     0.87        0.97',
        ].join('\n'),
      );
    });

    it('prints only the header for no segments', () => {
      expect(toTable([])).to.equal('start  end  duration  label  confidence  peak');
    });
  });

  describe('toTimelineJson', () => {
    const classes = ['fight', 'no_fight'];
    const frames: FrameProbs[] = [
      { tMs: 0, probs: [0.123456, 0.876544] },
      { tMs: 33.3666666, probs: [0.2, 0.8] },
      { tMs: 66.7333333, probs: [0.99999, 0.00001] },
    ];
    const timeline = buildTimeline(classes, frames, { windowMs: 0, minHoldMs: 0 });
    const createdAt = new Date('2025-01-31T12:00:00Z');

    it('writes the versioned schema with rounded numbers', () => {
      const json = toTimelineJson({
        source: { uri: 'clips/hall.mp4', width: 1280, height: 720, codec: 'h264' },
        model: { name: 'fight-lstm', version: '1.0.0' },
        classes,
        fps: 30,
        durationMs: 100,
        frames: timeline.frames,
        segments: timeline.segments,
        options: { windowMs: 0, minHoldMs: 0 },
        createdAt,
      });
      expect(json).to.deep.equal({
        schema: 'vigil.timeline/1',
        source: { uri: 'clips/hall.mp4', durationMs: 100, width: 1280, height: 720, codec: 'h264' },
        model: { name: 'fight-lstm', version: '1.0.0' },
        classes: ['fight', 'no_fight'],
        fps: 30,
        smoothing: { windowMs: 0, minHoldMs: 0 },
        frames: [
          { tMs: 0, probs: [0.1235, 0.8765], label: 'no_fight' },
          { tMs: 33.367, probs: [0.2, 0.8], label: 'no_fight' },
          { tMs: 66.733, probs: [1, 0], label: 'fight' },
        ],
        segments: [
          { label: 'no_fight', startMs: 0, endMs: 66.733, confidence: 0.8383, peak: 0.8765 },
          { label: 'fight', startMs: 66.733, endMs: 100.1, confidence: 1, peak: 1 },
        ],
        createdAt: '2025-01-31T12:00:00.000Z',
      });
      expect(json.schema).to.equal(TIMELINE_SCHEMA);
    });

    it('round-trips through JSON.parse with every schema field present', () => {
      const json = toTimelineJson({
        source: 'rtsp://cam/1',
        model: { name: 'm', version: '0' },
        classes,
        frames: timeline.frames,
        segments: timeline.segments,
      });
      const back = JSON.parse(JSON.stringify(json));
      expect(back).to.deep.equal(json);
      expect(back).to.have.all.keys('schema', 'source', 'model', 'classes', 'fps', 'smoothing', 'frames', 'segments', 'createdAt');
      expect(back.source).to.deep.equal({ uri: 'rtsp://cam/1', durationMs: null });
      expect(back.fps).to.equal(null);
      expect(back.smoothing).to.deep.equal({ windowMs: 1000, minHoldMs: 500 });
      expect(new Date(back.createdAt).toISOString()).to.equal(back.createdAt);
      for (const f of back.frames) expect(f).to.have.all.keys('tMs', 'probs', 'label');
      for (const s of back.segments) expect(s).to.have.all.keys('label', 'startMs', 'endMs', 'confidence', 'peak');
    });

    it('lists the versions that labelled it only when there were several (rounded clip times)', () => {
      const base = { source: 'camera:hall', classes, frames: timeline.frames, segments: timeline.segments, createdAt };
      const one = toTimelineJson({ ...base, model: { name: 'fight', version: '1.1.0', versions: [{ version: '1.1.0', fromMs: 0 }] } });
      expect(one.model).to.deep.equal({ name: 'fight', version: '1.1.0' });
      const versions = [
        { version: '1.0.0', fromMs: 0 },
        { version: '1.1.0', fromMs: 33.3666666 },
      ];
      const two = toTimelineJson({ ...base, model: { name: 'fight', version: '1.1.0', versions } });
      expect(two.model).to.deep.equal({
        name: 'fight',
        version: '1.1.0',
        versions: [
          { version: '1.0.0', fromMs: 0 },
          { version: '1.1.0', fromMs: 33.367 },
        ],
      });
      const bad = { name: 'fight', version: '1.1.0', versions: [{ version: 1 }] } as never;
      expect(() => toTimelineJson({ ...base, model: bad })).to.throw(
        VigilError,
        /^invalid argument: model\.versions must be \[\{ version: string, fromMs: number \}\], got /,
      );
    });

    it('rejects inputs that do not fit the classes', () => {
      const base = { source: 'x.mp4', model: { name: 'm', version: '0' }, classes, frames: timeline.frames, segments: timeline.segments };
      expect(() => toTimelineJson({ ...base, classes: ['a', 'b', 'c'] })).to.throw(VigilError, /must hold 3 numbers/);
      expect(() => toTimelineJson({ ...base, segments: [seg('walk', 0, 1)] })).to.throw(
        VigilError,
        /segments\[0\]\.label must be one of fight, no_fight/,
      );
      expect(() => toTimelineJson({ ...base, fps: 0 })).to.throw(VigilError, /fps must be a finite number > 0 or null/);
      expect(() => toTimelineJson({ ...base, options: { windowMs: -1 } })).to.throw(VigilError, /windowMs must be a finite number >= 0/);
    });
  });
});
