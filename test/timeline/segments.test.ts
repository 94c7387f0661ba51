import { expect } from 'chai';
import { VigilError } from '../../src/errors.js';
import {
  buildTimeline,
  createSegmenter,
  createSmoother,
  type FrameProbs,
  type Segment,
  type SegmentEvent,
} from '../../src/timeline/index.js';

const AB = ['a', 'b'];

// windowMs 0 and minHoldMs 0: the label is each frame's raw argmax, so the numbers below
// can be worked out by hand.
const RAW = { windowMs: 0, minHoldMs: 0 };
const CLIP: FrameProbs[] = [
  { tMs: 0, probs: [0.9, 0.1] }, // a
  { tMs: 100, probs: [0.7, 0.3] }, // a
  { tMs: 250, probs: [0.2, 0.8] }, // b
  { tMs: 300, probs: [0.4, 0.6] }, // b
  { tMs: 400, probs: [0.6, 0.4] }, // a
  { tMs: 500, probs: [0.8, 0.2] }, // a
];

function expectSegments(actual: readonly Segment[], expected: Segment[]): void {
  expect(actual.map((s) => [s.label, s.startMs, s.endMs])).to.deep.equal(expected.map((s) => [s.label, s.startMs, s.endMs]));
  actual.forEach((s, i) => {
    expect(s.confidence, `confidence ${i}`).to.be.closeTo(expected[i].confidence, 1e-12);
    expect(s.peak, `peak ${i}`).to.be.closeTo(expected[i].peak, 1e-12);
  });
}

function expectTiles(segments: readonly Segment[], fromMs: number, toMs: number): void {
  expect(segments[0].startMs).to.equal(fromMs);
  for (let i = 1; i < segments.length; i++) {
    expect(segments[i].startMs).to.equal(segments[i - 1].endMs);
    expect(segments[i].label).to.not.equal(segments[i - 1].label);
  }
  expect(segments[segments.length - 1].endMs).to.equal(toMs);
}

/** Deterministic noisy two-class clip with uneven timestamps and a gap. */
function noisyClip(n: number): FrameProbs[] {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const out: FrameProbs[] = [];
  let t = 12.5;
  for (let i = 0; i < n; i++) {
    const base = Math.floor(i / 40) % 2 === 0 ? 0.8 : 0.2;
    const p = Math.min(1, Math.max(0, base + (rand() - 0.5) * 0.9));
    out.push({ tMs: t, probs: [p, 1 - p] });
    t += i === 100 ? 3000 : 80 + rand() * 90;
  }
  return out;
}

describe('timeline/segments', () => {
  it('cuts segments at label changes with confidence and peak from raw probabilities', () => {
    const { segments } = buildTimeline(AB, CLIP, RAW);
    // intervals 100, 150, 50, 100, 100: median 100, so the last segment ends at 500 + 100.
    expectSegments(segments, [
      { label: 'a', startMs: 0, endMs: 250, confidence: (0.9 + 0.7) / 2, peak: 0.9 },
      { label: 'b', startMs: 250, endMs: 400, confidence: (0.8 + 0.6) / 2, peak: 0.8 },
      { label: 'a', startMs: 400, endMs: 600, confidence: (0.6 + 0.8) / 2, peak: 0.8 },
    ]);
    expectTiles(segments, 0, 600);
  });

  it('with a backdating smoother, starts a segment where its lead began and hands it those frames', () => {
    const frames: FrameProbs[] = [
      { tMs: 0, probs: [0.9, 0.1] }, // provisional until a has led 200 ms
      { tMs: 100, probs: [0.9, 0.1] },
      { tMs: 200, probs: [0.9, 0.1] }, // a settles, from 0
      { tMs: 300, probs: [0.3, 0.7] }, // b leads: a blip
      { tMs: 400, probs: [0.8, 0.2] },
      { tMs: 500, probs: [0.4, 0.6] }, // b's lead begins
      { tMs: 600, probs: [0.1, 0.9] },
      { tMs: 700, probs: [0.2, 0.8] }, // held 200 ms: b takes over, dated 500
      { tMs: 800, probs: [0.3, 0.7] },
    ];
    const backdated = buildTimeline(AB, frames, { windowMs: 0, minHoldMs: 200, backdate: true, endMs: 900 });
    expectSegments(backdated.segments, [
      { label: 'a', startMs: 0, endMs: 500, confidence: (0.9 * 3 + 0.3 + 0.8) / 5, peak: 0.9 },
      { label: 'b', startMs: 500, endMs: 900, confidence: (0.6 + 0.9 + 0.8 + 0.7) / 4, peak: 0.9 },
    ]);
    // Offline, frames take their segment's label; live, the frame at 500 and 600 said a.
    expect(backdated.frames.map((f) => f.label).join('')).to.equal('aaaaabbbb');
    const plain = buildTimeline(AB, frames, { windowMs: 0, minHoldMs: 200, endMs: 900 });
    expect(plain.segments.map((s) => [s.label, s.startMs])).to.deep.equal([
      ['a', 0],
      ['b', 700],
    ]);

    // Live: the first start waits for a to settle; the end and start arrive on the frame at
    // 700, dated 500; the blip never starts a segment.
    const smoother = createSmoother(AB, { windowMs: 0, minHoldMs: 200, backdate: true });
    const seg = createSegmenter(AB);
    const live = frames.map((f) => smoother.push(f));
    expect(live.map((f) => f.label).join('')).to.equal('aaaaaaabb');
    const events = live.map((f) => seg.push(f));
    expect(events[2].map((e) => [e.type, e.segment.label, e.segment.startMs, e.segment.endMs])).to.deep.equal([['start', 'a', 0, 200]]);
    expect(events[7].map((e) => [e.type, e.segment.label, e.segment.startMs, e.segment.endMs])).to.deep.equal([
      ['end', 'a', 0, 500],
      ['start', 'b', 500, 700],
    ]);
    expect(events.slice(0, 7).map((evs) => evs.map((e) => e.type).join())).to.deep.equal([
      '',
      '',
      'start',
      'update',
      'update',
      'update',
      'update',
    ]);
  });

  it('with a backdating smoother and a window, dates a switch from the frames that led it on their own', () => {
    // The window's mean turns to b at 500, but the frame at 400 already said b: b starts there.
    const frames: FrameProbs[] = [0, 100, 200, 300].map((tMs) => ({ tMs, probs: [1, 0] }));
    for (const tMs of [400, 500, 600, 700, 800]) frames.push({ tMs, probs: [0.2, 0.8] });
    const smoothing = { windowMs: 300, minHoldMs: 200, backdate: true };
    const { segments } = buildTimeline(AB, frames, { ...smoothing, endMs: 900 });
    expectSegments(segments, [
      { label: 'a', startMs: 0, endMs: 400, confidence: 1, peak: 1 },
      { label: 'b', startMs: 400, endMs: 900, confidence: 0.8, peak: 0.8 },
    ]);
    const smoother = createSmoother(AB, smoothing);
    expect(smoother.reachMs).to.equal(300);
    const seg = createSegmenter(AB, { reachMs: smoother.reachMs });
    const events = frames.map((f) => seg.push(smoother.push(f)));
    expect(events[7].map((e) => [e.type, e.segment.label, e.segment.startMs, e.segment.endMs])).to.deep.equal([
      ['end', 'a', 0, 400],
      ['start', 'b', 400, 700],
    ]);
    expect(createSmoother(AB, { windowMs: 300, minHoldMs: 200 }).reachMs).to.equal(0);
  });

  it('with a backdating smoother, labels a track from its first frame with the first label that holds', () => {
    // A stream's first output is its least reliable: here it says b, then a holds.
    const frames: FrameProbs[] = [
      { tMs: 0, probs: [0.2, 0.8] },
      { tMs: 100, probs: [0.7, 0.3] },
      { tMs: 200, probs: [0.9, 0.1] },
      { tMs: 300, probs: [0.6, 0.4] }, // a held 200 ms: a from 0
      { tMs: 400, probs: [0.8, 0.2] },
    ];
    const smoothing = { windowMs: 0, minHoldMs: 200, backdate: true };
    const smoother = createSmoother(AB, smoothing);
    const seg = createSegmenter(AB);
    const live = frames.map((f) => smoother.push(f));
    expect(live.map((f) => [f.label, f.provisional, f.switched, f.startMs])).to.deep.equal([
      ['b', true, false, undefined],
      ['a', true, false, undefined],
      ['a', true, false, undefined],
      ['a', undefined, true, 0],
      ['a', undefined, false, undefined],
    ]);
    const events = live.map((f) => seg.push(f));
    expect(events.map((evs) => evs.map((e) => e.type).join())).to.deep.equal(['', '', '', 'start', 'update']);
    expectSegments([events[3][0].segment], [{ label: 'a', startMs: 0, endMs: 300, confidence: (0.2 + 0.7 + 0.9 + 0.6) / 4, peak: 0.9 }]);
    const { segments, frames: offline } = buildTimeline(AB, frames, { ...smoothing, endMs: 500 });
    expectSegments(segments, [{ label: 'a', startMs: 0, endMs: 500, confidence: (0.2 + 0.7 + 0.9 + 0.6 + 0.8) / 5, peak: 0.9 }]);
    expect(offline.map((f) => f.label).join('')).to.equal('aaaaa');
    // Without backdate the first frame decides, and b keeps the first 300 ms.
    expect(buildTimeline(AB, frames, { windowMs: 0, minHoldMs: 200, endMs: 500 }).segments.map((s) => [s.label, s.startMs])).to.deep.equal([
      ['b', 0],
      ['a', 300],
    ]);
  });

  it('ends a track that stops before its label settles with its last provisional label', () => {
    const smoother = createSmoother(AB, { windowMs: 0, minHoldMs: 500, backdate: true });
    const seg = createSegmenter(AB);
    const pushed = [
      { tMs: 0, probs: [0.2, 0.8] },
      { tMs: 100, probs: [0.7, 0.3] },
    ].map((f) => seg.push(smoother.push(f)));
    expect(pushed.flat()).to.deep.equal([]);
    const fin = seg.finish(200);
    expectSegments(
      fin.map((e) => e.segment),
      [{ label: 'a', startMs: 0, endMs: 200, confidence: (0.2 + 0.7) / 2, peak: 0.7 }],
    );
    expect(seg.finish()).to.deep.equal([]);
  });

  it('refuses a provisional frame once a segment has started', () => {
    const seg = createSegmenter(AB);
    seg.push({ tMs: 0, probs: [0.9, 0.1], smoothed: [0.9, 0.1], label: 'a', switched: true });
    expect(() => seg.push({ tMs: 100, probs: [0.9, 0.1], smoothed: [0.9, 0.1], label: 'a', switched: false, provisional: true }))
      .to.throw(VigilError, /provisional after the first segment started/)
      .with.property('code', 'VIGIL_ERR_INVALID_ARGUMENT');
  });

  it('backdates to the run of the class that took over, not to an earlier run of another', () => {
    const frames: FrameProbs[] = [
      { tMs: 0, probs: [0.8, 0.1, 0.1] },
      { tMs: 100, probs: [0.8, 0.1, 0.1] },
      { tMs: 200, probs: [0.8, 0.1, 0.1] }, // a settles
      { tMs: 300, probs: [0.2, 0.7, 0.1] }, // b leads
      { tMs: 400, probs: [0.2, 0.1, 0.7] }, // c leads: a new run
      { tMs: 500, probs: [0.1, 0.2, 0.7] },
      { tMs: 600, probs: [0.1, 0.3, 0.6] }, // c held 200 ms
    ];
    const { segments } = buildTimeline(['a', 'b', 'c'], frames, { windowMs: 0, minHoldMs: 200, backdate: true, endMs: 700 });
    expectSegments(segments, [
      { label: 'a', startMs: 0, endMs: 400, confidence: (0.8 * 3 + 0.2) / 4, peak: 0.8 },
      { label: 'c', startMs: 400, endMs: 700, confidence: (0.7 + 0.7 + 0.6) / 3, peak: 0.7 },
    ]);
  });

  it('uses the raw probability of the label, not the smoothed one', () => {
    // With smoothing the label stays 'a' through the dip at 100 ms.
    const { segments } = buildTimeline(
      AB,
      [
        { tMs: 0, probs: [0.9, 0.1] },
        { tMs: 100, probs: [0.3, 0.7] },
        { tMs: 200, probs: [0.9, 0.1] },
      ],
      { windowMs: 1000, minHoldMs: 500 },
    );
    expectSegments(segments, [{ label: 'a', startMs: 0, endMs: 300, confidence: 2.1 / 3, peak: 0.9 }]);
  });

  it('emits start, update and end events as frames arrive', () => {
    const smoother = createSmoother(AB, RAW);
    const segmenter = createSegmenter(AB);
    const perFrame = CLIP.map((f) => segmenter.push(smoother.push(f)));
    expect(perFrame.map((evs) => evs.map((e) => e.type))).to.deep.equal([
      ['start'],
      ['update'],
      ['end', 'start'],
      ['update'],
      ['end', 'start'],
      ['update'],
    ]);
    // Provisional segments end at the latest frame.
    expectSegments([perFrame[1][0].segment], [{ label: 'a', startMs: 0, endMs: 100, confidence: 0.8, peak: 0.9 }]);
    expectSegments(
      perFrame[2].map((e) => e.segment),
      [
        { label: 'a', startMs: 0, endMs: 250, confidence: 0.8, peak: 0.9 },
        { label: 'b', startMs: 250, endMs: 250, confidence: 0.8, peak: 0.8 },
      ],
    );
    const fin = segmenter.finish(700);
    expect(fin.map((e) => e.type)).to.deep.equal(['end']);
    expectSegments([fin[0].segment], [{ label: 'a', startMs: 400, endMs: 700, confidence: 0.7, peak: 0.8 }]);
  });

  it('gives the same segments incrementally as offline, tiling [first tMs, endMs]', () => {
    const clip = noisyClip(300);
    const offline = buildTimeline(AB, clip);
    expect(offline.segments.length).to.be.greaterThan(3);

    const smoother = createSmoother(AB);
    const segmenter = createSegmenter(AB);
    const events: SegmentEvent[] = [];
    const live = clip.map((f) => {
      const sf = smoother.push(f);
      events.push(...segmenter.push(sf));
      return sf;
    });
    events.push(...segmenter.finish());
    expect(live).to.deep.equal(offline.frames);
    expect(events.filter((e) => e.type === 'end').map((e) => e.segment)).to.deep.equal(offline.segments);
    expect(events.filter((e) => e.type === 'start').length).to.equal(offline.segments.length);

    const last = offline.segments[offline.segments.length - 1];
    expectTiles(offline.segments, clip[0].tMs, last.endMs);
    expect(last.endMs).to.be.greaterThan(clip[clip.length - 1].tMs);
    // Each segment's label is the frames' label over [startMs, endMs).
    for (const f of offline.frames) {
      const seg = offline.segments.find((s) => f.tMs >= s.startMs && f.tMs < s.endMs)!;
      expect(seg.label).to.equal(f.label);
    }
  });

  it("with backdating, live and offline agree and every segment's figures are its own frames' (random 2- and 3-class streams)", () => {
    let seed = 11;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 60; trial++) {
      const classes = trial % 2 === 0 ? AB : ['a', 'b', 'c'];
      const k = classes.length;
      const clip: FrameProbs[] = [];
      let t = 0;
      let phase = 0;
      for (let i = 0; i < 200; i++) {
        if (rand() < 0.08) phase = Math.floor(rand() * k);
        const raw = classes.map((_, c) => (c === phase ? 1.5 : 0) + rand() * 1.2);
        const z = raw.reduce((a, v) => a + v, 0);
        clip.push({ tMs: t, probs: raw.map((v) => v / z) });
        t += rand() < 0.02 ? 2000 : 60 + rand() * 100; // now and then a stall
      }
      const smoothing = { windowMs: [0, 300, 1000][trial % 3], minHoldMs: [0, 250, 750][Math.floor(trial / 3) % 3], backdate: true };
      const what = JSON.stringify({ trial, ...smoothing });
      const offline = buildTimeline(classes, clip, smoothing);
      const smoother = createSmoother(classes, smoothing);
      const segmenter = createSegmenter(classes, { reachMs: smoother.reachMs });
      const events = clip.flatMap((f) => segmenter.push(smoother.push(f)));
      events.push(...segmenter.finish());
      expect(
        events.filter((e) => e.type === 'end').map((e) => e.segment),
        what,
      ).to.deep.equal(offline.segments);
      const last = offline.segments[offline.segments.length - 1];
      expectTiles(offline.segments, 0, last.endMs);
      for (const s of offline.segments) {
        const own = clip.filter((f) => f.tMs >= s.startMs && (f.tMs < s.endMs || s === last)).map((f) => f.probs[classes.indexOf(s.label)]);
        expect(s.confidence, what).to.be.closeTo(own.reduce((a, p) => a + p, 0) / own.length, 1e-9);
        expect(s.peak, what).to.equal(Math.max(...own));
      }
    }
  });

  it('ends the last segment at the median interval (even count: mean of the middle two)', () => {
    const { segments } = buildTimeline(AB, [
      { tMs: 0, probs: [1, 0] },
      { tMs: 100, probs: [1, 0] },
      { tMs: 400, probs: [1, 0] },
    ]);
    expect(segments[0].endMs).to.equal(400 + 200);
  });

  it('gives a single frame a zero-length segment unless endMs is given', () => {
    expect(buildTimeline(AB, [{ tMs: 40, probs: [0, 1] }]).segments).to.deep.equal([
      { label: 'b', startMs: 40, endMs: 40, confidence: 1, peak: 1 },
    ]);
    expect(buildTimeline(AB, [{ tMs: 40, probs: [0, 1] }], { endMs: 165 }).segments[0].endMs).to.equal(165);
  });

  it('returns nothing for no frames', () => {
    expect(buildTimeline(AB, [])).to.deep.equal({ frames: [], segments: [] });
    expect(createSegmenter(AB).finish()).to.deep.equal([]);
  });

  it('finish() clears the state so the segmenter can start over', () => {
    const segmenter = createSegmenter(AB);
    const smoother = createSmoother(AB, RAW);
    segmenter.push(smoother.push({ tMs: 1000, probs: [1, 0] }));
    segmenter.finish();
    smoother.reset();
    const evs = segmenter.push(smoother.push({ tMs: 0, probs: [1, 0] }));
    expect(evs).to.deep.equal([{ type: 'start', segment: { label: 'a', startMs: 0, endMs: 0, confidence: 1, peak: 1 } }]);
  });

  it('rejects a switched frame dated before the open segment or after itself', () => {
    const seg = createSegmenter(AB);
    seg.push({ tMs: 100, probs: [1, 0], smoothed: [1, 0], label: 'a', switched: true });
    expect(() => seg.push({ tMs: 200, probs: [0, 1], smoothed: [0, 1], label: 'b', switched: true, startMs: 50 })).to.throw(
      VigilError,
      /startMs must lie after the open segment's start \(100\), .* and at most tMs \(200\), got 50/,
    );
    expect(() => seg.push({ tMs: 200, probs: [0, 1], smoothed: [0, 1], label: 'b', switched: true, startMs: 250 })).to.throw(
      VigilError,
      /got 250/,
    );
  });

  it("rejects a switch dated before the frames it keeps (a reach smaller than the smoother's)", () => {
    const seg = createSegmenter(AB); // reachMs 0: keeps only the current lead's frames
    const a = (tMs: number) => ({ tMs, probs: [0.9, 0.1], smoothed: [0.9, 0.1], label: 'a', switched: tMs === 0 });
    for (const f of [a(0), a(100), a(200)]) seg.push(f);
    expect(() => seg.push({ tMs: 300, probs: [0, 1], smoothed: [0, 1], label: 'b', switched: true, startMs: 100 })).to.throw(
      VigilError,
      /at or after the frames this segmenter keeps \(200; is reachMs the smoother's\?\)/,
    );
    expect(() => createSegmenter(AB, { reachMs: -1 })).to.throw(VigilError, /reachMs must be a finite number >= 0/);
  });

  it('rejects a bad endMs, unknown labels and decreasing time with VIGIL_ERR_INVALID_ARGUMENT', () => {
    const check = (fn: () => unknown, text: string) => {
      try {
        fn();
        expect.fail('should throw');
      } catch (e) {
        expect(e).to.be.instanceOf(VigilError);
        expect((e as VigilError).code).to.equal('VIGIL_ERR_INVALID_ARGUMENT');
        expect((e as VigilError).message).to.contain(text);
      }
    };
    check(() => buildTimeline(AB, CLIP, { endMs: 499, ...RAW }), "endMs must be a finite number >= the last frame's tMs (500)");
    check(() => buildTimeline(AB, CLIP, { endMs: Number.NaN }), 'endMs must be a finite number');
    check(() => buildTimeline(AB, CLIP, { windowMs: -5 }), 'windowMs must be a finite number >= 0');
    const seg = createSegmenter(AB);
    check(() => seg.push({ tMs: 0, probs: [1, 0], smoothed: [1, 0], label: 'c', switched: true }), 'label must be one of a, b');
    seg.push({ tMs: 10, probs: [1, 0], smoothed: [1, 0], label: 'a', switched: true });
    check(() => seg.push({ tMs: 5, probs: [1, 0], smoothed: [1, 0], label: 'a', switched: false }), 'must not decrease');
  });
});
