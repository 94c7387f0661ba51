import { expect } from 'chai';
import { VigilError } from '../../src/errors.js';
import { framesFor, modelFrames, openModelFrames, type FramesManifest, type ModelFrameOptions } from '../../src/model/frames.js';
import { openFrames } from '../../src/video/decode.js';
import type { Frame } from '../../src/video/types.js';
import { fixture } from '../helpers/clips.js';

const collect = async (frames: AsyncIterable<Frame>) => {
  const out: Frame[] = [];
  for await (const f of frames) out.push(f);
  return out;
};

describe('a model decodes its own frames (frames.ts)', function () {
  this.timeout(120_000);
  const fight: FramesManifest = { input: 'motioncrop', inputSize: 224, fps: 8 };
  const clip = fixture('fight-fi002.mp4');

  it('decodes at the CNN side, twice it where the input crops, at the trained rate', () => {
    expect(framesFor(fight)).to.deep.equal({ width: 448, height: 448, fps: 8, input: 'motioncrop' });
    expect(framesFor({ input: 'framediff', inputSize: 224, fps: 6 })).to.deep.equal({
      width: 224,
      height: 224,
      fps: 6,
      input: 'framediff',
    });
    expect(framesFor({ input: 'frame', inputSize: 192, fps: 8 })).to.deep.equal({ width: 192, height: 192, fps: 8, input: 'frame' });
    expect(modelFrames(fight).frameSpec).to.deep.equal(framesFor(fight));
  });

  it("gives the same frames as openFrames at the model's geometry, at its fps by default", async () => {
    const own = await collect(modelFrames(fight).openFrames(clip));
    const plain = await collect(openFrames(clip, { fps: 8, width: 448, height: 448 }));
    expect(own).to.have.length(20);
    expect(own.map((f) => [f.width, f.height, f.tMs])).to.deep.equal(plain.map((f) => [f.width, f.height, f.tMs]));
    own.forEach((f, i) => expect(Buffer.from(f.data).equals(Buffer.from(plain[i].data)), `frame ${i}`).to.equal(true));
  });

  it("passes the caller's options through (fps, filters, signal)", async () => {
    const flipped = await collect(openModelFrames(fight, clip, { fps: 4, filters: ['hflip'] }));
    const plain = await collect(openFrames(clip, { fps: 4, width: 448, height: 448, filters: ['hflip'] }));
    expect(flipped.length).to.equal(plain.length).and.to.be.within(8, 12);
    flipped.forEach((f, i) => expect(Buffer.from(f.data).equals(Buffer.from(plain[i].data)), `frame ${i}`).to.equal(true));
    const unflipped = await collect(openModelFrames(fight, clip, { fps: 4 }));
    expect(Buffer.from(unflipped[5].data).equals(Buffer.from(flipped[5].data))).to.equal(false);

    const ctl = new AbortController();
    ctl.abort();
    try {
      await collect(openModelFrames(fight, clip, { signal: ctl.signal }));
      expect.fail('should reject');
    } catch (e) {
      expect(e).to.be.instanceOf(VigilError);
      expect((e as VigilError).code).to.equal('VIGIL_ERR_ABORTED');
    }
  });

  it('refuses a width or height: the geometry is the model’s', () => {
    for (const bad of [{ width: 224 }, { height: 224 }, { width: 448, height: 448 }]) {
      try {
        openModelFrames(fight, clip, bad as ModelFrameOptions);
        expect.fail('should throw');
      } catch (e) {
        expect(e).to.be.instanceOf(VigilError);
        expect((e as VigilError).code).to.equal('VIGIL_ERR_INVALID_ARGUMENT');
        expect((e as VigilError).message).to.equal(
          'invalid argument: the model decodes at 448x448; width and height are not options (openFrames decodes at other sizes)',
        );
      }
    }
  });
});
