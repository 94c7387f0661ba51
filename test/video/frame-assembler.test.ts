import { expect } from 'chai';
import { VigilError } from '../../src/errors.js';
import { createFrameAssembler } from '../../src/video/frame-assembler.js';

const FRAME = 48; // a 4x4 RGB frame

/** `count` frames whose bytes say which frame and offset they are. */
function byteStream(count: number, frameBytes = FRAME): Buffer {
  const b = Buffer.alloc(count * frameBytes);
  for (let i = 0; i < b.length; i++) b[i] = (Math.floor(i / frameBytes) * 31 + (i % frameBytes) * 7) & 255;
  return b;
}

/** Feeds `bytes` in chunks whose sizes come from `size()`; every chunk is a fresh buffer. */
function feed(bytes: Buffer, size: () => number, frameBytes = FRAME) {
  const asm = createFrameAssembler(frameBytes);
  const frames: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(size(), bytes.length - at);
    frames.push(...asm.push(Buffer.from(bytes.subarray(at, at + n))));
    at += n;
  }
  return { frames, pending: asm.pendingBytes };
}

/** Whether two views share any byte of memory. */
function overlaps(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
}

function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('video/frame-assembler', () => {
  const count = 10;
  const bytes = byteStream(count);
  const random = seeded(42);
  const sizes: Array<[string, () => number]> = [
    ['1', () => 1],
    ['7', () => 7],
    ['frameBytes-1', () => FRAME - 1],
    ['frameBytes', () => FRAME],
    ['3*frameBytes+5', () => 3 * FRAME + 5],
    ['random 1..3*frameBytes', () => 1 + Math.floor(random() * 3 * FRAME)],
  ];

  for (const [name, size] of sizes) {
    // Frames are checked after the whole stream went through: a reused buffer would show.
    it(`reassembles every frame from chunks of ${name} bytes`, () => {
      const { frames, pending } = feed(bytes, size);
      expect(frames).to.have.length(count);
      frames.forEach((f, i) => expect(f.equals(bytes.subarray(i * FRAME, (i + 1) * FRAME)), `frame ${i}`).to.equal(true));
      expect(pending).to.equal(0);
    });
  }

  it('holds back a partial last frame and reports its size', () => {
    const { frames, pending } = feed(bytes.subarray(0, 3 * FRAME + 5), () => 7);
    expect(frames).to.have.length(3);
    expect(pending).to.equal(5);
  });

  it('hands out whole frames inside a chunk without copying', () => {
    const asm = createFrameAssembler(FRAME);
    const chunk = byteStream(3).subarray(0, 2 * FRAME + 5);
    const [a, b, ...rest] = asm.push(chunk);
    expect(rest).to.have.length(0);
    expect(a.buffer).to.equal(chunk.buffer);
    expect(a.byteOffset).to.equal(chunk.byteOffset);
    expect(b.byteOffset).to.equal(chunk.byteOffset + FRAME);
  });

  it('copies a frame that spans chunks into a fresh buffer, never reused', () => {
    const asm = createFrameAssembler(FRAME);
    const src = byteStream(3);
    const c1 = Buffer.from(src.subarray(0, 20));
    const c2 = Buffer.from(src.subarray(20, FRAME + 20));
    const c3 = Buffer.from(src.subarray(FRAME + 20));
    expect(asm.push(c1)).to.have.length(0);
    const [first] = asm.push(c2);
    const [second, third] = asm.push(c3);
    expect(overlaps(first, c1) || overlaps(first, c2)).to.equal(false);
    expect(overlaps(second, first) || overlaps(second, c2) || overlaps(second, c3)).to.equal(false);
    // c3 began mid-frame; the frame after the spanning one lies whole in it: a view, no copy.
    expect(third.buffer).to.equal(c3.buffer);
    c1.fill(0);
    c2.fill(0);
    expect(first.equals(src.subarray(0, FRAME))).to.equal(true);
    expect(second.equals(src.subarray(FRAME, 2 * FRAME))).to.equal(true);
  });

  it('rejects a frame size that is not a positive integer', () => {
    for (const bad of [0, -3, 1.5, Number.NaN]) {
      expect(() => createFrameAssembler(bad))
        .to.throw(VigilError, `invalid argument: frameBytes must be a positive integer (got ${bad})`)
        .with.property('code', 'VIGIL_ERR_INVALID_ARGUMENT');
    }
  });
});
