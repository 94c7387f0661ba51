import { vigilError } from '../errors.js';

/**
 * What the CNN looks at. `frame`: the frame itself (appearance). `framediff`: |f_t - f_{t-1}|
 * per channel, so the features describe motion; behaviours like fighting are told apart by
 * motion far more than by appearance. The first frame after a reset has no predecessor and
 * encodes as black (no motion), in training and inference alike.
 */
export const INPUT_MODES = ['frame', 'framediff'] as const;
export type InputMode = (typeof INPUT_MODES)[number];

export interface InputEncoder {
  /** Writes one frame's scaled pixels into `out` at `offset` (in floats). */
  encode(rgb: Uint8Array, out: Float32Array, offset: number): void;
  /** Forgets the previous frame (a new clip or a reconnected stream). */
  reset(): void;
}

export function createInputEncoder(mode: InputMode, scale: number, offset: number): InputEncoder {
  if (!(INPUT_MODES as readonly string[]).includes(mode)) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `input mode ${mode}; allowed: ${INPUT_MODES.join(', ')}`);
  }
  if (mode === 'frame') {
    return {
      encode(rgb, out, at) {
        for (let i = 0; i < rgb.length; i++) out[at + i] = rgb[i] * scale + offset;
      },
      reset() {},
    };
  }
  let prev: Uint8Array | undefined;
  return {
    encode(rgb, out, at) {
      const p = prev ?? rgb;
      for (let i = 0; i < rgb.length; i++) out[at + i] = Math.abs(rgb[i] - p[i]) * scale + offset;
      prev = rgb;
    },
    reset() {
      prev = undefined;
    },
  };
}
