/**
 * The `motioncrop` input: frame differences where the motion is, at twice the detail.
 * Surveillance cameras show people small, and a whole 640x480 frame letterboxed into the
 * CNN's 224x224 loses most of them. So frames are decoded at twice the CNN's side, a square
 * of 5/7 of that side (320 of 448) follows the motion, and the CNN sees |f_t − f_{t−1}|
 * inside the square, scaled down to its input.
 *
 * The square is placed causally, so a live stream and training see exactly the same input:
 * - motion energy E_t = 0.8·E_{t−1} + |Δ(R+G+B)|, one pixel sampled per 4x4 cell;
 * - the square heads for the position with the most energy, by at most 1/14 of the frame a
 *   frame, and stays put while nothing beats where it is (a still scene does not move it);
 * - both frames of a difference are cut at the square's current place, so its own moves
 *   never look like motion.
 * Pooled grouped-CV clip accuracy of `vigil train` on the fight clips, seeds 1-3: 0.774
 * against 0.748 for `framediff` (docs/models.md, fight).
 */

import { vigilError } from '../../errors.js';

export const MOTION_CROP = {
  /** Decoded side over the CNN's side. */
  zoom: 2,
  /** The square's side over the decoded side. */
  side: 5 / 7,
  /** Energy grid cell, in decoded pixels. */
  cell: 4,
  /** Energy kept from one frame to the next. */
  decay: 0.8,
  /** Furthest the square moves in a frame, over the decoded side. */
  maxStep: 1 / 14,
} as const;

/** The square's side in decoded pixels: 5/7 of the decoded side, on the energy grid. */
export function motionCropSide(decoded: number): number {
  return Math.round((decoded * MOTION_CROP.side) / MOTION_CROP.cell) * MOTION_CROP.cell;
}

export interface MotionCrop {
  /**
   * Writes one frame's input, `size² · 3` floats at `at`: |crop(rgb) − crop(previous)| ·
   * scale + offset. The first frame (after a reset) has no predecessor and writes "no motion".
   * @param rgb a decoded frame, `(zoom · size)² · 3` bytes; kept (not copied) as the next frame's predecessor.
   */
  encode(rgb: Uint8Array, out: Float32Array, at: number): void;
  /** The square's top-left corner and side, in decoded pixels. */
  box(): { x: number; y: number; side: number };
  reset(): void;
}

export function createMotionCrop(o: { size: number; scale: number; offset: number }): MotionCrop {
  const { size, scale, offset } = o;
  const D = MOTION_CROP.zoom * size;
  const cell = MOTION_CROP.cell;
  const g = Math.floor(D / cell);
  const side = motionCropSide(D);
  const s = side / cell; // in cells
  const step = Math.max(1, Math.round((D * MOTION_CROP.maxStep) / cell));
  const energy = new Float64Array(g * g);
  const I = new Float64Array((g + 1) * (g + 1)); // integral image of `energy`
  const [x0, x1, y0, y1] = [new Int32Array(size), new Int32Array(size), new Int32Array(size), new Int32Array(size)];
  const [fx, fy] = [new Float32Array(size), new Float32Array(size)];
  const centre = Math.floor((g - s) / 2);
  let bx = centre;
  let by = centre;
  let prev: Uint8Array | undefined;

  const boxEnergy = (x: number, y: number) =>
    I[(y + s) * (g + 1) + x + s] - I[y * (g + 1) + x + s] - I[(y + s) * (g + 1) + x] + I[y * (g + 1) + x];

  function follow(p: Uint8Array, c: Uint8Array): void {
    for (let y = 0; y < g; y++) {
      for (let x = 0; x < g; x++) {
        const i = (y * cell * D + x * cell) * 3;
        const e = (energy[y * g + x] =
          MOTION_CROP.decay * energy[y * g + x] + Math.abs(c[i] + c[i + 1] + c[i + 2] - p[i] - p[i + 1] - p[i + 2]));
        I[(y + 1) * (g + 1) + x + 1] = e + I[y * (g + 1) + x + 1] + I[(y + 1) * (g + 1) + x] - I[y * (g + 1) + x];
      }
    }
    let best = { x: bx, y: by, e: boxEnergy(bx, by) };
    for (let y = 0; y + s <= g; y++) {
      for (let x = 0; x + s <= g; x++) {
        const e = boxEnergy(x, y);
        if (e > best.e) best = { x, y, e };
      }
    }
    bx += Math.max(-step, Math.min(step, best.x - bx));
    by += Math.max(-step, Math.min(step, best.y - by));
  }

  /** Bilinear sample positions of the square's pixels along one axis, from `start` (decoded pixels). */
  function axis(start: number, i0: Int32Array, i1: Int32Array, f: Float32Array): void {
    const r = side / size;
    for (let v = 0; v < size; v++) {
      const p = Math.min(Math.max(start + (v + 0.5) * r - 0.5, 0), D - 1);
      const i = Math.floor(p);
      i0[v] = i;
      i1[v] = Math.min(i + 1, D - 1);
      f[v] = p - i;
    }
  }

  return {
    encode(rgb, out, at) {
      if (rgb.length !== D * D * 3)
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `motion crop: ${rgb.length} bytes; a ${D}x${D} frame has ${D * D * 3}`);
      if (prev === undefined) {
        out.fill(offset, at, at + size * size * 3);
        prev = rgb;
        return;
      }
      const p = prev;
      follow(p, rgb);
      axis(bx * cell, x0, x1, fx);
      axis(by * cell, y0, y1, fy);
      let k = at;
      for (let v = 0; v < size; v++) {
        const [ra, rb, wy] = [y0[v] * D, y1[v] * D, fy[v]];
        for (let u = 0; u < size; u++) {
          const wx = fx[u];
          const a = (ra + x0[u]) * 3;
          const b = (ra + x1[u]) * 3;
          const c = (rb + x0[u]) * 3;
          const d = (rb + x1[u]) * 3;
          for (let ch = 0; ch < 3; ch++) {
            const now = (rgb[a + ch] * (1 - wx) + rgb[b + ch] * wx) * (1 - wy) + (rgb[c + ch] * (1 - wx) + rgb[d + ch] * wx) * wy;
            const before = (p[a + ch] * (1 - wx) + p[b + ch] * wx) * (1 - wy) + (p[c + ch] * (1 - wx) + p[d + ch] * wx) * wy;
            out[k++] = Math.abs(now - before) * scale + offset;
          }
        }
      }
      prev = rgb;
    },
    box: () => ({ x: bx * cell, y: by * cell, side }),
    reset() {
      prev = undefined;
      energy.fill(0);
      bx = centre;
      by = centre;
    },
  };
}
