import { expect } from 'chai';
import { eventOnsets, eventReport, matchEvents } from '../../src/train/event-metrics.js';
import { scoreClips, scoreSpans, summariseFolds } from '../../src/train/evaluate.js';
import { classificationReport } from '../../src/train/metrics.js';
import { spanFrameLabels, type Span } from '../../src/train/span-manifest.js';

const seq = (labels: number[]) => ({ features: new Float32Array(0), dim: 0, labels: Int32Array.from(labels) });

describe('train/metrics', () => {
  it('classification report: confusion, precision, recall, F1 by hand', () => {
    // truth:     a a a a b b c
    // predicted: a a b c b a c
    const r = classificationReport(['a', 'b', 'c'], [0, 0, 0, 0, 1, 1, 2], [0, 0, 1, 2, 1, 0, 2]);
    expect(r.confusion).to.deep.equal([
      [2, 1, 1],
      [1, 1, 0],
      [0, 0, 1],
    ]);
    expect(r.accuracy).to.equal(4 / 7);
    const [a, b, c] = r.perClass;
    expect(a).to.deep.include({ label: 'a', support: 4, precision: 2 / 3, recall: 0.5 }); // predicted a 3 times, right twice
    expect(a.f1).to.be.closeTo(4 / 7, 1e-12); // 2PR/(P+R) = (2/3)/(7/6)
    expect([b.precision, b.recall, b.f1]).to.deep.equal([0.5, 0.5, 0.5]);
    expect([c.precision, c.recall, c.support]).to.deep.equal([0.5, 1, 1]);
    expect(c.f1).to.be.closeTo(2 / 3, 1e-12);
  });

  it('a class never predicted has precision 0, not NaN', () => {
    const r = classificationReport(['a', 'b'], [0, 1], [0, 0]);
    expect(r.perClass[1]).to.deep.equal({ label: 'b', precision: 0, recall: 0, f1: 0, support: 1 });
  });

  describe('events', () => {
    it('matches onsets within the tolerance (inclusive), one to one', () => {
      // True onsets 1, 5, 9 s; predictions 1.4 s (hit), 6.2 s (1.2 s off: too far), 8 s (exactly 1 s early: hit), 12 s.
      expect(matchEvents([1000, 5000, 9000], [1400, 6200, 8000, 12000], 1000)).to.deep.equal({
        pairs: [
          [0, 0],
          [2, 2],
        ],
        missed: [1],
        falseAlarms: [1, 3],
      });
    });

    it('counts a prediction near two true events once: the closer one is hit, the other missed', () => {
      expect(matchEvents([1000, 1500], [1200], 1000)).to.deep.equal({ pairs: [[0, 0]], missed: [1], falseAlarms: [] });
      // Two predictions for one event: one hit, one false alarm.
      expect(matchEvents([1000], [900, 1300], 1000)).to.deep.equal({ pairs: [[0, 0]], missed: [], falseAlarms: [1] });
    });

    it('takes the closest pairs first, not the predictions in list order', () => {
      // Both predictions are within 1 s of both onsets: closest first pairs 1.0-1.1 and 2.0-1.9 (0.1 s each), not 0.9 s apart.
      expect(matchEvents([1000, 2000], [1900, 1100], 1000)).to.deep.equal({
        pairs: [
          [0, 1],
          [1, 0],
        ],
        missed: [],
        falseAlarms: [],
      });
    });

    it('sums hits, misses, onset errors and false alarms per hour over clips', () => {
      const r = eventReport(
        'falling',
        [
          { truth: [1000, 5000, 9000], predicted: [1400, 6200, 8000, 12000], durationMs: 60_000 }, // hits +0.4, -1.0; 1 missed; 2 FA
          { truth: [], predicted: [2000], durationMs: 30_000 }, // 1 FA
          { truth: [1000, 1500], predicted: [1200], durationMs: 30_000 }, // hit +0.2; 1 missed
        ],
        1,
      );
      expect(r).to.deep.include({
        label: 'falling',
        events: 5,
        predicted: 6,
        hits: 3,
        missed: 2,
        falseAlarms: 3,
        recall: 0.6,
        precision: 0.5,
      });
      // Of the 3 false alarms, 1 is in the one clip with no falls.
      expect(r).to.deep.include({ falseAlarmsEventFree: 1, eventFreeClips: 1 });
      expect(r.onsetErrorMeanS).to.be.closeTo((0.4 + 1 + 0.2) / 3, 1e-12);
      expect(r.onsetErrorMaxS).to.be.closeTo(1, 1e-12);
      expect(r.onsetDelayMeanS).to.be.closeTo((0.4 - 1 + 0.2) / 3, 1e-12);
      expect(r.hours).to.be.closeTo(120 / 3600, 1e-15);
      expect(r.falseAlarmsPerHour).to.be.closeTo(90, 1e-9); // 3 in 2 minutes
    });

    it('leaves undefined figures null instead of dividing by zero', () => {
      expect(eventReport('lying', [{ truth: [], predicted: [], durationMs: 0 }])).to.deep.equal({
        label: 'lying',
        events: 0,
        predicted: 0,
        hits: 0,
        missed: 0,
        falseAlarms: 0,
        falseAlarmsEventFree: 0,
        eventFreeClips: 1,
        recall: null,
        precision: null,
        onsetErrorMeanS: null,
        onsetErrorMaxS: null,
        onsetDelayMeanS: null,
        hours: 0,
        falseAlarmsPerHour: null,
        misses: [],
        alarms: [],
      });
    });

    it('names the clips of misses (with the nearest predicted start) and of false alarms', () => {
      const r = eventReport('falling', [
        { clip: 'a', truth: [1000, 9000], predicted: [1400, 10_500, 20_000], durationMs: 30_000 }, // 9.0 seen 1.5 s late
        { clip: 'b', truth: [], predicted: [0], durationMs: 10_000 },
        { clip: 'c', truth: [2000], predicted: [], durationMs: 10_000 },
        { truth: [500], predicted: [7000], durationMs: 10_000 }, // unnamed: counted, not listed
      ]);
      expect(r).to.deep.include({ missed: 3, falseAlarms: 4 });
      expect(r.misses).to.deep.equal([
        { clip: 'a', onsetS: 9, nearestS: 10.5 },
        { clip: 'c', onsetS: 2, nearestS: null },
      ]);
      expect(r.alarms).to.deep.equal([
        { clip: 'a', startS: 10.5 },
        { clip: 'a', startS: 20 },
        { clip: 'b', startS: 0 },
      ]);
    });

    it('takes true events from spans, merging same-label spans that overlap or touch', () => {
      const spans: Span[] = [
        { label: 'falling', startS: 3, endS: 4 }, // touches 1.5-3: same event
        { label: 'falling', startS: 1, endS: 2 },
        { label: 'sitting', startS: 0, endS: 1 },
        { label: 'falling', startS: 1.5, endS: 3 },
        { label: 'falling', startS: 5, endS: 6 },
      ];
      expect(eventOnsets(spans, 'falling')).to.deep.equal([1000, 5000]);
      expect(eventOnsets(spans, 'sitting')).to.deep.equal([0]);
      expect(eventOnsets(spans, 'walking')).to.deep.equal([]);
    });
  });

  describe('scoring', () => {
    const classes = ['falling', 'sitting'];
    const spans: Span[] = [
      { label: 'sitting', startS: 0, endS: 1.2 },
      { label: 'falling', startS: 1.2, endS: 3 },
    ];
    const tMs = [0, 500, 1000, 1500, 2000, 2500];
    // argmax per frame:          S           S           F           F           S           F
    const probs = Float32Array.from([0.2, 0.8, 0.3, 0.7, 0.6, 0.4, 0.9, 0.1, 0.4, 0.6, 0.7, 0.3]);
    const clip = { spans, tMs, seq: seq(Array.from(spanFrameLabels(spans, tMs, classes))) }; // S S S F F F
    // A clip whose spans are all of other labels: no frame is scored, but its predictions count.
    const other = { spans: [{ label: 'reading', startS: 0, endS: 1.5 }], tMs: [0, 500, 1000], seq: seq([-1, -1, -1]) };
    const otherProbs = Float32Array.from([0.9, 0.1, 0.9, 0.1, 0.9, 0.1]);

    it('span datasets: frame accuracy and event metrics on the timeline, by hand', () => {
      const s = scoreSpans(classes, [clip, other], [probs, otherProbs], { smoothing: { windowMs: 0, minHoldMs: 0 }, toleranceS: 1 });
      expect(s.frames).to.equal(6);
      expect(s.frameReport.accuracy).to.equal(4 / 6);
      expect(s.rawFrameAccuracy).to.equal(4 / 6);
      expect(s.frameReport.confusion).to.deep.equal([
        [2, 1],
        [1, 2],
      ]);
      // Timeline of clip 1: sitting 0, falling 1.0, sitting 2.0, falling 2.5, ending at 3.0 s; clip 2: falling 0-1.5 s.
      const [falling, sitting] = s.events;
      expect(falling).to.deep.include({ events: 1, predicted: 3, hits: 1, missed: 0, falseAlarms: 2 }); // 1.0 s hits the 1.2 s onset
      expect(falling.onsetDelayMeanS).to.be.closeTo(-0.2, 1e-12);
      expect(falling.falseAlarmsPerHour).to.be.closeTo(2 / (4.5 / 3600), 1e-6);
      expect(sitting).to.deep.include({ events: 1, predicted: 2, hits: 1, missed: 0, falseAlarms: 1, onsetErrorMeanS: 0 });
    });

    it("span datasets: frames are scored on the smoothed labels, using the model's smoothing", () => {
      // A 600 ms hold keeps sitting through the short falling runs: one sitting segment, the fall is missed.
      const s = scoreSpans(classes, [clip], [probs], { smoothing: { windowMs: 0, minHoldMs: 600 } });
      expect(s.toleranceS).to.equal(1);
      expect(s.frameReport.accuracy).to.equal(3 / 6);
      expect(s.rawFrameAccuracy).to.equal(4 / 6);
      expect(s.events[0]).to.deep.include({ events: 1, predicted: 0, hits: 0, missed: 1, falseAlarms: 0, recall: 0, precision: null });
      expect(s.events[1]).to.deep.include({ events: 1, predicted: 1, hits: 1 });
    });

    it('clip datasets: the class with the highest mean frame probability', () => {
      const s = scoreClips(
        ['a', 'b'],
        [
          { label: 'a', seq: seq([0, 0, 0]) },
          { label: 'b', seq: seq([1, 1]) },
          { label: 'b', seq: seq([1]) },
        ],
        [Float32Array.from([0.6, 0.4, 0.4, 0.6, 0.7, 0.3]), Float32Array.from([0.9, 0.1, 0.2, 0.8]), Float32Array.from([0.1, 0.9])],
      );
      expect(s.clips).to.equal(3);
      expect(s.report.accuracy).to.equal(2 / 3);
      expect(s.report.confusion).to.deep.equal([
        [1, 0],
        [1, 1],
      ]);
    });

    it("clip datasets, given the model's smoothing: how its timeline reads on them", () => {
      // Unsmoothed, a: a a b (2 of 3 frames right, 2 segments); b: b (1 of 1, 1 segment).
      const items = [
        { label: 'a', seq: seq([0, 0, 0]), tMs: [0, 125, 250] },
        { label: 'b', seq: seq([1]), tMs: [0] },
      ];
      const probs = [Float32Array.from([0.6, 0.4, 0.7, 0.3, 0.2, 0.8]), Float32Array.from([0.1, 0.9])];
      expect(scoreClips(['a', 'b'], items, probs).timeline).to.equal(undefined);
      expect(scoreClips(['a', 'b'], items, probs, { windowMs: 0, minHoldMs: 0 }).timeline).to.deep.equal({
        frameAccuracy: 3 / 4,
        segmentsPerClip: 3 / 2,
      });
      // A 200 ms hold keeps a through the last frame's b: all right, one segment each.
      expect(scoreClips(['a', 'b'], items, probs, { windowMs: 0, minHoldMs: 200 }).timeline).to.deep.equal({
        frameAccuracy: 1,
        segmentsPerClip: 1,
      });
    });

    it('summarises folds as mean ± std over the folds where a figure is defined', () => {
      const fold = (acc: number) => ({ kind: 'clips' as const, clips: 2, report: { accuracy: acc, confusion: [], perClass: [] } });
      expect(summariseFolds([fold(0.5), fold(1)])).to.deep.equal([{ metric: 'accuracy', mean: 0.75, std: 0.25, values: [0.5, 1] }]);
      const a = scoreSpans(classes, [clip], [probs], { smoothing: { windowMs: 0, minHoldMs: 600 } }); // falling recall 0
      const b = scoreSpans(classes, [other], [otherProbs], { smoothing: { windowMs: 0, minHoldMs: 0 } }); // no events, no frames
      const rows = summariseFolds([a, b]);
      expect(rows.map((r) => r.metric)).to.deep.equal([
        'frameAccuracy',
        'falling.recall',
        'falling.precision',
        'falling.falseAlarmsPerHour',
        'falling.onsetErrorMeanS',
        'sitting.recall',
        'sitting.precision',
        'sitting.falseAlarmsPerHour',
        'sitting.onsetErrorMeanS',
      ]);
      expect(rows[0]).to.deep.equal({ metric: 'frameAccuracy', mean: 0.5, std: 0, values: [0.5, null] });
      expect(rows[1]).to.deep.equal({ metric: 'falling.recall', mean: 0, std: 0, values: [0, null] });
      expect(rows[3].values[1]).to.be.closeTo(1 / (1.5 / 3600), 1e-6); // one false alarm in 1.5 s
    });
  });
});
