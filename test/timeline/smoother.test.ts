import { expect } from 'chai';
import { VigilError } from '../../src/errors.js';
import { createSmoother, validateSmootherOptions } from '../../src/timeline/index.js';
import type { FrameProbs } from '../../src/timeline/index.js';

const AB = ['a', 'b'];
const A = [1, 0];
const B = [0, 1];

function expectInvalid(fn: () => unknown, ...parts: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'should throw').to.be.instanceOf(VigilError);
  const e = caught as VigilError;
  expect(e.code).to.equal('VIGIL_ERR_INVALID_ARGUMENT');
  expect(e.message).to.match(/^invalid argument: /);
  for (const p of parts) expect(e.message).to.contain(p);
}

/** Frames every `stepMs` from `fromMs`, one per entry of `probs`. */
function frames(fromMs: number, stepMs: number, probs: number[][]): FrameProbs[] {
  return probs.map((p, i) => ({ tMs: fromMs + i * stepMs, probs: p }));
}

describe('timeline/smoother', () => {
  it('averages over (t - windowMs, t] with uneven timestamps and gaps', () => {
    const s = createSmoother(AB, { windowMs: 1000, minHoldMs: 0 });
    const out = [
      s.push({ tMs: 0, probs: [1, 0] }), // window {0}
      s.push({ tMs: 300, probs: [0, 1] }), // {0, 300}
      s.push({ tMs: 1000, probs: [0.5, 0.5] }), // (0, 1000]: 0 has left, exactly on the boundary
      s.push({ tMs: 1300, probs: [0, 1] }), // (300, 1300]: {1000, 1300}
      s.push({ tMs: 2500, probs: [1, 0] }), // after a gap: {2500}
    ];
    expect(out.map((f) => f.smoothed)).to.deep.equal([
      [1, 0],
      [0.5, 0.5],
      [0.25, 0.75],
      [0.25, 0.75],
      [1, 0],
    ]);
    expect(out[2].probs).to.deep.equal([0.5, 0.5]);
    expect(out.map((f) => f.tMs)).to.deep.equal([0, 300, 1000, 1300, 2500]);
  });

  it('keeps exactly windowMs worth of frames with inexact (29.97 fps) timestamps', () => {
    // 30 intervals of 1001/30 ms make exactly 1001 ms, but not in binary floating point.
    const s = createSmoother(AB, { windowMs: 1001, minHoldMs: 0 });
    const out = [];
    for (let k = 0; k <= 300; k++) out.push(s.push({ tMs: (k * 1001) / 30, probs: k % 30 === 0 ? A : B }));
    // A frame 30 intervals back is on the boundary and excluded, so each window holds 30
    // frames of which exactly one is an A.
    for (let k = 30; k <= 300; k++) expect(out[k].smoothed[0], `k=${k}`).to.be.closeTo(1 / 30, 1e-12);
  });

  it('starts with the first frame’s argmax and marks it switched', () => {
    const s = createSmoother(AB);
    const f = s.push({ tMs: 40, probs: new Float32Array([0.25, 0.75]) });
    expect(f).to.deep.equal({ tMs: 40, probs: [0.25, 0.75], smoothed: [0.25, 0.75], label: 'b', switched: true });
  });

  it('ignores a one-frame flicker and switches once a class has led for minHoldMs, on that frame', () => {
    const s = createSmoother(AB, { windowMs: 0, minHoldMs: 500 });
    const input = [
      ...frames(0, 100, [A, A, A, A, A]), // 0..400
      { tMs: 500, probs: B }, // flicker
      ...frames(600, 100, [A, A, A, A]), // 600..900
      ...frames(1000, 100, [B, B, B, B, B, B, B]), // 1000..1600: b leads from 1000
    ];
    const out = input.map((f) => s.push(f));
    const labels = Object.fromEntries(out.map((f) => [f.tMs, f.label]));
    expect(labels[500]).to.equal('a');
    expect(labels[1400]).to.equal('a'); // led for 400 ms only
    expect(labels[1500]).to.equal('b'); // 1500 - 1000 = 500 >= minHoldMs
    expect(out.filter((f) => f.switched).map((f) => f.tMs)).to.deep.equal([0, 1500]);
  });

  it('measures the hold on the smoothed argmax; a tie keeps the current label', () => {
    // 10 frames per 1000 ms window. A until 900, B from 1000: b's share of the window is
    // 1/10 at 1000 ... 5/10 at 1400 (tie: a stays) and 6/10 at 1500, when b starts leading.
    const s = createSmoother(AB, { windowMs: 1000, minHoldMs: 500 });
    const out = [...frames(0, 100, Array(10).fill(A)), ...frames(1000, 100, Array(15).fill(B))].map((f) => s.push(f));
    const at = (t: number) => out.find((f) => f.tMs === t)!;
    expect(at(1400).smoothed).to.deep.equal([0.5, 0.5]);
    expect(at(1400).label).to.equal('a');
    expect(at(1500).smoothed[1]).to.be.closeTo(0.6, 1e-12);
    expect(at(1900).label).to.equal('a');
    expect(at(2000).label).to.equal('b');
    expect(out.filter((f) => f.switched).map((f) => f.tMs)).to.deep.equal([0, 2000]);
  });

  it('restarts the hold when the leader changes to a third class', () => {
    const C = [0, 0, 1];
    const Bc = [0, 1, 0];
    const s = createSmoother(['a', 'b', 'c'], { windowMs: 0, minHoldMs: 200 });
    const out = frames(0, 100, [[1, 0, 0], Bc, Bc, C, C, C]).map((f) => s.push(f));
    expect(out.map((f) => f.label)).to.deep.equal(['a', 'a', 'a', 'a', 'a', 'c']);
  });

  it('with backdate, says on the switched frame where the lead that earned the switch began', () => {
    const s = createSmoother(AB, { windowMs: 0, minHoldMs: 300, backdate: true });
    // a settles at 300; b leads at 500 (a blip), a again at 600, then b from 700: held 300 ms at 1000.
    const out = frames(0, 100, [A, A, A, A, A, B, A, B, B, B, B, B]).map((f) => s.push(f));
    expect(out.map((f) => f.label).join('')).to.equal('aaaaaaaaaabb');
    expect(out.map((f) => f.provisional)).to.deep.equal([true, true, true, ...new Array<undefined>(9).fill(undefined)]);
    expect(out.flatMap((f) => (f.switched ? [[f.tMs, f.startMs]] : []))).to.deep.equal([
      [300, 0],
      [1000, 700],
    ]);
    // Without backdate (or with a zero hold) there is nothing to date back, or to settle.
    const plain = createSmoother(AB, { windowMs: 0, minHoldMs: 300 });
    expect(
      frames(0, 100, [A, B, A, B, B, B, B, B])
        .map((f) => plain.push(f))
        .every((f) => f.startMs === undefined && f.provisional === undefined),
    ).to.equal(true);
    const zero = createSmoother(AB, { windowMs: 0, minHoldMs: 0, backdate: true });
    expect(
      frames(0, 100, [A, B])
        .map((f) => zero.push(f))
        .map((f) => [f.label, f.switched, f.startMs, f.provisional]),
    ).to.deep.equal([
      ['a', true, undefined, undefined],
      ['b', true, undefined, undefined],
    ]);
  });

  it('with backdate, takes the leader of a track that never settles after two holds', () => {
    const s = createSmoother(AB, { windowMs: 0, minHoldMs: 300, backdate: true });
    const out = frames(0, 100, [A, B, A, B, A, B, A, B]).map((f) => s.push(f));
    expect(out.map((f) => f.provisional === true)).to.deep.equal([true, true, true, true, true, true, false, false]);
    expect(out.slice(6).map((f) => [f.label, f.switched, f.startMs])).to.deep.equal([
      ['a', true, 0],
      ['a', false, undefined],
    ]);
    // reset() starts a new track that settles again.
    s.reset();
    expect(s.push({ tMs: 0, probs: B }).provisional).to.equal(true);
  });

  it('switches immediately with minHoldMs = 0', () => {
    const s = createSmoother(AB, { windowMs: 0, minHoldMs: 0 });
    expect(frames(0, 10, [A, B, A]).map((f) => s.push(f).label)).to.deep.equal(['a', 'b', 'a']);
  });

  it('reset() clears the window, the label and the clock', () => {
    const s = createSmoother(AB, { windowMs: 1000, minHoldMs: 500 });
    for (const f of frames(0, 100, [A, A, A, A])) s.push(f);
    s.reset();
    const f = s.push({ tMs: 50, probs: [0.4, 0.6] }); // earlier than before reset: allowed
    expect(f).to.deep.equal({ tMs: 50, probs: [0.4, 0.6], smoothed: [0.4, 0.6], label: 'b', switched: true });
  });

  it('does not keep a reference to the caller’s buffer', () => {
    const s = createSmoother(AB, { windowMs: 1000, minHoldMs: 0 });
    const buf = new Float32Array([1, 0]);
    s.push({ tMs: 0, probs: buf });
    buf.set([0, 1]);
    expect(s.push({ tMs: 100, probs: buf }).smoothed).to.deep.equal([0.5, 0.5]);
  });

  describe('validation', () => {
    it('fills defaults into a full copy', () => {
      expect(validateSmootherOptions()).to.deep.equal({ windowMs: 1000, minHoldMs: 500 });
      expect(validateSmootherOptions({ minHoldMs: 0 })).to.deep.equal({ windowMs: 1000, minHoldMs: 0 });
    });

    for (const [opts, key] of [
      [{ windowMs: -1 }, 'windowMs'],
      [{ windowMs: Number.NaN }, 'windowMs'],
      [{ windowMs: Infinity }, 'windowMs'],
      [{ minHoldMs: '500' }, 'minHoldMs'],
      [{ minHoldMs: null }, 'minHoldMs'],
    ] as const) {
      it(`rejects ${key} = ${String(Object.values(opts)[0])} saying what is allowed`, () => {
        expectInvalid(() => createSmoother(AB, opts as never), `${key} must be a finite number >= 0`);
      });
    }

    it('keeps backdate only when true and rejects a non-boolean', () => {
      expect(validateSmootherOptions({ backdate: true })).to.deep.equal({ windowMs: 1000, minHoldMs: 500, backdate: true });
      expect(validateSmootherOptions({ backdate: false })).to.deep.equal({ windowMs: 1000, minHoldMs: 500 });
      expectInvalid(() => validateSmootherOptions({ backdate: 1 as unknown as boolean }), 'backdate must be true or false', 'got 1');
    });

    it('rejects unknown options, listing the allowed ones', () => {
      expectInvalid(
        () => createSmoother(AB, { windowMS: 10 } as never),
        "unknown smoothing option 'windowMS'",
        'allowed: windowMs, minHoldMs',
      );
    });

    it('rejects empty, duplicate or non-string classes', () => {
      const rule = 'classes must be a non-empty array of unique, non-empty strings';
      expectInvalid(() => createSmoother([]), rule);
      expectInvalid(() => createSmoother(['a', 'a']), rule, "'a' twice");
      expectInvalid(() => createSmoother(['a', 3 as never]), rule);
      expectInvalid(() => createSmoother(['a', '']), rule);
    });

    it('rejects frames with the wrong number of probabilities, bad numbers or decreasing time', () => {
      const s = createSmoother(AB);
      expectInvalid(() => s.push({ tMs: 0, probs: [1, 0, 0] }), 'must hold 2 numbers', 'a, b');
      expectInvalid(() => s.push({ tMs: 0, probs: [Number.NaN, 0] }), 'finite numbers');
      expectInvalid(() => s.push({ tMs: Number.NaN, probs: A }), 'tMs must be a finite number');
      s.push({ tMs: 100, probs: A });
      s.push({ tMs: 100, probs: A }); // equal timestamps are tolerated
      expectInvalid(() => s.push({ tMs: 99, probs: A }), 'must not decrease', 'got 99 after 100');
    });
  });
});
