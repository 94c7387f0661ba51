import { vigilError } from '../errors.js';

/** Cuts a byte stream (ffmpeg's stdout) into fixed-size frames. */
export interface FrameAssembler {
  /**
   * Feeds one chunk of any size; returns the frames it completed, in order (often none).
   * A returned buffer is never written to again, so consumers may keep it.
   */
  push(chunk: Uint8Array): Buffer[];
  /** Bytes of an incomplete frame held back; non-zero at end of stream means truncation. */
  readonly pendingBytes: number;
}

/**
 * Creates an assembler for frames of `frameBytes` bytes. A frame lying whole inside one
 * chunk is handed out as a subarray of it (no copy); a frame that spans chunks is copied
 * into a fresh buffer.
 */
export function createFrameAssembler(frameBytes: number): FrameAssembler {
  if (!Number.isInteger(frameBytes) || frameBytes <= 0) {
    throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `frameBytes must be a positive integer (got ${frameBytes})`);
  }
  // The frame being filled across chunks; a new one per frame, since the previous one
  // may still be held by a consumer.
  let partial: Buffer | undefined;
  let filled = 0;

  return {
    push(input) {
      const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      const frames: Buffer[] = [];
      let offset = 0;
      if (partial) {
        const n = Math.min(frameBytes - filled, chunk.length);
        chunk.copy(partial, filled, 0, n);
        filled += n;
        offset = n;
        if (filled < frameBytes) return frames;
        frames.push(partial);
        partial = undefined;
        filled = 0;
      }
      for (; chunk.length - offset >= frameBytes; offset += frameBytes) {
        frames.push(chunk.subarray(offset, offset + frameBytes));
      }
      if (offset < chunk.length) {
        partial = Buffer.allocUnsafe(frameBytes);
        filled = chunk.copy(partial, 0, offset);
      }
      return frames;
    },
    get pendingBytes() {
      return filled;
    },
  };
}
