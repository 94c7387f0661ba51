import { vigilError } from '../../errors.js';
import { createMotionCrop, MOTION_CROP, motionCropSide } from './motion-crop.js';

/**
 * What the CNN looks at. `frame`: the frame itself (appearance). `framediff`: |f_t - f_{t-1}|
 * per channel, so the features describe motion; behaviours like fighting are told apart by
 * motion far more than by appearance. `motioncrop`: the same differences inside a square
 * that follows the motion, decoded at twice the detail (see motion-crop.ts). The first frame
 * after a reset has no predecessor and encodes as black (no motion), in training and
 * inference alike.
 */
export const INPUT_MODES = ['frame', 'framediff', 'motioncrop'] as const;
export type InputMode = (typeof INPUT_MODES)[number];

/** How model cards and `vigil models` name each input. */
export const INPUT_NAMES: Record<InputMode, string> = {
  frame: 'frames',
  framediff: 'frame differences',
  motioncrop: 'frame differences in a square that follows the motion',
};

/** Where the CNN's pixels come from, for cards: `224x224 letterboxed`, or the crop's geometry. */
export function inputGeometry(mode: InputMode, size: number): string {
  const d = decodeSide(mode, size);
  if (d === size) return `${size}x${size} letterboxed`;
  const side = motionCropSide(d);
  return `${size}x${size} from a ${side}x${side} square of a ${d}x${d} letterboxed decode`;
}

/** The side frames are decoded at for a CNN input of `size`: larger when the input crops them. */
export function decodeSide(mode: InputMode, size: number): number {
  return mode === 'motioncrop' ? MOTION_CROP.zoom * size : size;
}

/** Where the CNN looked in the last frame: a square, in fractions of the decoded (letterboxed) frame. */
export interface Focus {
  x: number;
  y: number;
  side: number;
}

interface InputEncoder {
  /** Writes one frame's scaled pixels (`size² · 3` floats) into `out` at `offset`. */
  encode(rgb: Uint8Array, out: Float32Array, offset: number): void;
  /** Forgets the previous frame (a new clip or a reconnected stream). */
  reset(): void;
  /** Absent when the CNN sees the whole frame. */
  focus?(): Focus;
}

function createInputEncoder(mode: InputMode, scale: number, offset: number, size: number): InputEncoder {
  if (!(INPUT_MODES as readonly string[]).includes(mode)) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `input mode ${mode}; allowed: ${INPUT_MODES.join(', ')}`);
  }
  if (mode === 'motioncrop') {
    const crop = createMotionCrop({ size, scale, offset });
    const d = decodeSide(mode, size);
    return {
      encode: (rgb, out, at) => crop.encode(rgb, out, at),
      reset: () => crop.reset(),
      focus() {
        const b = crop.box();
        return { x: b.x / d, y: b.y / d, side: b.side / d };
      },
    };
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

/** Turns a batch of decoded frames into the CNN's input, in one buffer reused for its life. */
export interface FrameEncoder {
  /** Encodes consecutive frames of one stream; returns a view valid until the next call. */
  encode(frames: readonly { width: number; height: number; data: Uint8Array }[]): Float32Array;
  /** Forgets the previous frame (see {@link InputEncoder.reset}). */
  reset(): void;
  /** Where the CNN looked in the last encoded frame; undefined when it sees the whole frame. */
  focus(): Focus | undefined;
}

/**
 * The one place frames become pixels, for the labeler and for training features alike, so
 * both see exactly the same input.
 * @param o.size square CNN input side; frames must be {@link decodeSide} square, others are refused with a coded error.
 * @param o.maxBatch most frames per `encode` call (sizes the buffer).
 * @param o.owner named in errors, e.g. `model fight`.
 */
export function createFrameEncoder(o: {
  mode: InputMode;
  scale: number;
  offset: number;
  size: number;
  maxBatch: number;
  owner: string;
}): FrameEncoder {
  const encoder = createInputEncoder(o.mode, o.scale, o.offset, o.size);
  const decoded = decodeSide(o.mode, o.size);
  const frameFloats = o.size * o.size * 3;
  // Allocated once: the per-frame path creates no pixel arrays.
  const pixels = new Float32Array(o.maxBatch * frameFloats);
  return {
    encode(frames) {
      if (frames.length > o.maxBatch) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `batch of ${frames.length} frames; maxBatch is ${o.maxBatch}`);
      }
      frames.forEach((f, i) => {
        if (f.width !== decoded || f.height !== decoded) {
          throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `frame is ${f.width}x${f.height}; ${o.owner} takes ${decoded}x${decoded}`);
        }
        encoder.encode(f.data, pixels, i * frameFloats);
      });
      return pixels.subarray(0, frames.length * frameFloats);
    },
    reset: () => encoder.reset(),
    focus: () => encoder.focus?.(),
  };
}
