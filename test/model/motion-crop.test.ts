import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createFrameEncoder, decodeSide } from '../../src/model/input/frame-encoder.js';
import { createMotionCrop, MOTION_CROP } from '../../src/model/input/motion-crop.js';
import { openFrames } from '../../src/video/decode.js';
import { expectCoded, thrown } from '../helpers/errors.js';
import { movingBoxClip } from '../helpers/clips.js';

const SIZE = 224;
const D = 2 * SIZE; // decoded side
const SIDE = 320; // 5/7 of 448
const STEP = 32; // 1/14 of 448
const OFFSET = -1;
const SCALE = 2 / 255;

/** A mid-grey 448x448 frame with a white `w`-pixel square at (x, y). */
function frame(x: number, y: number, w = 40): Uint8Array {
  const f = new Uint8Array(D * D * 3).fill(100);
  for (let r = y; r < y + w; r++) f.fill(255, (r * D + x) * 3, (r * D + x + w) * 3);
  return f;
}

function run(frames: Uint8Array[]) {
  const crop = createMotionCrop({ size: SIZE, scale: SCALE, offset: OFFSET });
  const out = new Float32Array(SIZE * SIZE * 3);
  return frames.map((f) => {
    crop.encode(f, out, 0);
    return { box: crop.box(), moving: out.some((v) => v !== OFFSET), max: Math.max(...out.subarray(0, 1000)), out: out.slice() };
  });
}

describe('model/motion-crop', () => {
  it('uses the documented geometry: 448 decoded, a 320 square, moves of at most 32 px', () => {
    expect(decodeSide('motioncrop', SIZE)).to.equal(D);
    expect(decodeSide('framediff', SIZE)).to.equal(SIZE);
    expect(MOTION_CROP.zoom * SIZE * MOTION_CROP.side).to.be.closeTo(SIDE, 1e-9);
    const [first] = run([frame(0, 0)]);
    expect(first.box).to.deep.equal({ x: 64, y: 64, side: SIDE });
  });

  it('writes "no motion" for the first frame and for a still scene, and a still scene does not move the square', () => {
    const still = frame(50, 60);
    const steps = run([still, still, still, still]);
    expect(steps.map((s) => s.moving)).to.deep.equal([false, false, false, false]);
    for (const s of steps) expect(s.box).to.deep.equal({ x: 64, y: 64, side: SIDE });
  });

  it('follows motion in a corner, a step of at most 1/14 of the frame a frame, until the motion is inside', () => {
    // The square jitters between two places near the bottom-right corner.
    const frames = Array.from({ length: 10 }, (_, t) => frame(380 + (t % 2) * 20, 390));
    const steps = run(frames);
    for (let t = 1; t < steps.length; t++) {
      expect(Math.abs(steps[t].box.x - steps[t - 1].box.x)).to.be.at.most(STEP);
      expect(Math.abs(steps[t].box.y - steps[t - 1].box.y)).to.be.at.most(STEP);
    }
    expect(steps[1].box).to.deep.equal({ x: 64 + STEP, y: 64 + STEP, side: SIDE });
    // The motion (x 380-448, y 390-430) ends up inside the square.
    const last = steps.at(-1)!.box;
    expect([last.x, last.y]).to.satisfy(([x, y]: number[]) => x <= 380 && x + SIDE >= D && y <= 390 && y + SIDE >= 430);
    expect(steps.at(-1)!.moving).to.equal(true);
  });

  it("takes both frames of a difference at the square's current place, so its own moves are not motion", () => {
    const still = frame(400, 390);
    const steps = run([frame(380, 390), still, still, still]);
    expect(steps[1].moving).to.equal(true);
    // After the motion stops, the square is still travelling towards where it was…
    expect(steps[2].box.x).to.be.greaterThan(steps[1].box.x);
    // …and sees nothing move.
    expect(steps.slice(2).map((s) => s.moving)).to.deep.equal([false, false]);
  });

  it('shows the moving square at twice the detail: its difference lights about twice the input pixels of a plain framediff', () => {
    const frames = Array.from({ length: 8 }, (_, t) => frame(380 + (t % 2) * 20, 390));
    const cropped = run(frames).at(-1)!.out;
    const plain = createFrameEncoder({ mode: 'framediff', scale: SCALE, offset: OFFSET, size: SIZE, maxBatch: 1, owner: 'test' });
    const half = (f: Uint8Array) => {
      const out = new Uint8Array(SIZE * SIZE * 3);
      for (let y = 0; y < SIZE; y++)
        for (let x = 0; x < SIZE; x++) out.set(f.subarray((2 * y * D + 2 * x) * 3, (2 * y * D + 2 * x) * 3 + 3), (y * SIZE + x) * 3);
      return { width: SIZE, height: SIZE, data: out };
    };
    plain.encode([half(frames[6])]);
    const whole = plain.encode([half(frames[7])]);
    const lit = (px: Float32Array) => px.filter((v) => v > OFFSET + 0.1).length;
    // 320 px of frame per 224 of input against 448 per 224: (448/320)² ≈ 1.96 times the pixels.
    expect(lit(cropped) / lit(whole)).to.be.within(1.7, 2.3);
  });

  it('starts over on reset: the square back in the middle, the next frame "no motion"', () => {
    const crop = createMotionCrop({ size: SIZE, scale: SCALE, offset: OFFSET });
    const out = new Float32Array(SIZE * SIZE * 3);
    for (let t = 0; t < 6; t++) crop.encode(frame(380 + (t % 2) * 20, 390), out, 0);
    expect(crop.box().x).to.be.greaterThan(64);
    crop.reset();
    expect(crop.box()).to.deep.equal({ x: 64, y: 64, side: SIDE });
    crop.encode(frame(0, 0), out, 0);
    expect(out.every((v) => v === OFFSET)).to.equal(true);
  });

  it('is refused frames of the CNN size, with a coded error naming the decoded size', () => {
    const enc = createFrameEncoder({ mode: 'motioncrop', scale: SCALE, offset: OFFSET, size: SIZE, maxBatch: 2, owner: 'model fight' });
    const small = { width: SIZE, height: SIZE, data: new Uint8Array(SIZE * SIZE * 3) };
    expectCoded(
      thrown(() => enc.encode([small])),
      'VIGIL_ERR_INVALID_ARGUMENT',
      'invalid argument: frame is 224x224; model fight takes 448x448',
    );
    expect(enc.encode([{ width: D, height: D, data: frame(0, 0) }])).to.have.length(SIZE * SIZE * 3);
  });

  it('follows a square moving on real decoded video (ffmpeg, 448x448)', async function () {
    this.timeout(60_000);
    const dir = await mkdtemp(join(tmpdir(), 'vigil-crop-'));
    try {
      // Moves right along the bottom edge of a 448 frame, 12 px a frame.
      const xs = Array.from({ length: 16 }, (_, t) => 200 + 12 * t);
      const clip = await movingBoxClip(join(dir, 'box.mp4'), { size: D, fps: 8, box: 32, y: 400, xs });
      const enc = createFrameEncoder({ mode: 'motioncrop', scale: SCALE, offset: OFFSET, size: SIZE, maxBatch: 1, owner: 'test' });
      const crop = createMotionCrop({ size: SIZE, scale: SCALE, offset: OFFSET });
      const out = new Float32Array(SIZE * SIZE * 3);
      let n = 0;
      let differs = 0;
      for await (const f of openFrames(clip, { fps: 8, width: D, height: D })) {
        crop.encode(f.data, out, 0);
        const px = enc.encode([f]); // the product's encoder: the same input
        differs += px.filter((v, i) => v !== out[i]).length;
        n++;
      }
      expect(n).to.equal(xs.length);
      expect(differs).to.equal(0);
      const box = crop.box();
      expect(box.y).to.equal(D - SIDE); // down at the bottom edge, where the square runs
      expect(box.x + SIDE).to.be.at.least(xs.at(-1)! + 32);
      expect(box.x).to.be.at.most(xs.at(-2)!);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
