import { vigilError } from '../errors.js';
import { openFrames, type FfmpegFrameSource } from '../video/decode.js';
import type { FrameSourceOptions, SourceInput } from '../video/types.js';
import type { ModelManifest } from './folder/manifest.js';
import { decodeSide, type InputMode } from './input/frame-encoder.js';

/**
 * How a model wants its frames: square, letterboxed, at the rate it was trained at. The one
 * place decode geometry is decided, for clips, live cameras and training features alike
 * (geometry computed by every caller drifts).
 */
export interface FrameSpec {
  /** Decoded side in pixels: the CNN's input, or larger where the input crops it (`motioncrop`: twice). */
  readonly width: number;
  readonly height: number;
  /** The sampling rate it was trained at: the default of {@link openModelFrames}. */
  readonly fps: number;
  /** What the CNN makes of the frames (see `INPUT_MODES`). */
  readonly input: InputMode;
}

/** What decides a model's frames: its manifest, or an extractor's side and a mode before a model exists (training). */
export type FramesManifest = Pick<ModelManifest, 'input' | 'inputSize' | 'fps'>;

/** Everything a caller chooses about decoding (rate, realtime, loop, signal, filters, extra outputs, ...); the geometry is the model's. */
export type ModelFrameOptions = Omit<FrameSourceOptions, 'width' | 'height'>;

/** The frames a model (or a manifest-to-be) takes, e.g. fight's `{ width: 448, height: 448, fps: 8, input: 'motioncrop' }`. */
export function framesFor(m: FramesManifest): FrameSpec {
  const side = decodeSide(m.input, m.inputSize);
  return { width: side, height: side, fps: m.fps, input: m.input };
}

/**
 * `openFrames` at the geometry of {@link framesFor}; every other option passes through.
 * @param [options.fps=the model's]
 * @throws VIGIL_ERR_INVALID_ARGUMENT when `options` has a width or height (call `openFrames` to decode at another size), and what `openFrames` throws.
 */
export function openModelFrames(m: FramesManifest, source: SourceInput, options: ModelFrameOptions = {}): FfmpegFrameSource {
  const spec = framesFor(m);
  const given = options as Partial<FrameSourceOptions>;
  if (given.width !== undefined || given.height !== undefined) {
    throw vigilError(
      'VIGIL_ERR_INVALID_ARGUMENT',
      `the model decodes at ${spec.width}x${spec.height}; width and height are not options (openFrames decodes at other sizes)`,
    );
  }
  return openFrames(source, { ...options, fps: options.fps ?? spec.fps, width: spec.width, height: spec.height });
}

/** The frame half of a loaded model (see `VigilModel`). */
export interface ModelFrames {
  /** How it wants its frames. */
  readonly frameSpec: FrameSpec;
  /**
   * Decodes a file, URL or byte stream into the frames it takes (see {@link openModelFrames}).
   * @example
   * for await (const frame of model.openFrames('rtsp://10.0.0.5/stream1')) await labeler.label(frame);
   */
  openFrames(source: SourceInput, options?: ModelFrameOptions): FfmpegFrameSource;
}

export function modelFrames(m: FramesManifest): ModelFrames {
  return { frameSpec: framesFor(m), openFrames: (source, options) => openModelFrames(m, source, options) };
}
