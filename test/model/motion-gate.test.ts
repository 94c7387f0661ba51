import { expect } from 'chai';
import { decodeSide } from '../../src/model/input/frame-encoder.js';
import { loadModel, type VigilModel } from '../../src/model/model.js';
import { createStreamBatcher } from '../../src/model/live/stream-batcher.js';
import { createInferencePool } from '../../src/model/workers/pool.js';
import { openFrames } from '../../src/video/decode.js';
import type { Frame } from '../../src/video/types.js';
import { createClipDir, type ClipDir } from '../helpers/clips.js';

const GATE = 0.004; // the server's default (config.ts: motionGate)

async function frames(path: string, size: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of openFrames(path, { width: size, height: size, fps: 8 })) out.push({ ...f, data: Uint8Array.from(f.data) });
  return out;
}

describe('model: motion gating', function () {
  this.timeout(120_000);
  let model: VigilModel;
  let clips: ClipDir;
  let still: Frame[];
  let moving: Frame[];

  before(async () => {
    model = await loadModel('fight');
    clips = await createClipDir();
    const size = decodeSide(model.manifest.input, model.manifest.inputSize);
    const spec = { width: 320, height: 240, fps: 8, durationS: 3 };
    still = await frames(await clips.clip('still.mp4', { ...spec, pattern: 'corner' }), size);
    moving = await frames(await clips.clip('moving.mp4', { ...spec, pattern: 'bar' }), size);
  });
  after(async () => {
    model?.dispose();
    await clips?.remove();
  });

  it('skips the CNN on a still clip, with the numbers the CNN gives on it', async () => {
    const batcher = createStreamBatcher(model);
    const gated = batcher.open({ gate: GATE });
    const plain = batcher.open();
    for (const f of still) {
      const [g, p] = await Promise.all([gated.label(f), plain.label(f)]);
      expect(g.gated, `frame ${f.index}`).to.equal(true);
      expect(p.gated).to.equal(undefined);
      // A still scene's differences are (nearly) zero: the still features are what the CNN sees.
      for (let k = 0; k < p.probs.length; k++) expect(g.probs[k]).to.be.closeTo(p.probs[k], 1e-3);
    }
    expect(batcher.stats.gated).to.equal(still.length);
    expect(batcher.stats.frames).to.equal(2 * still.length);
  });

  it('does not skip a moving clip, except its first frame (no predecessor: no motion)', async () => {
    const batcher = createStreamBatcher(model);
    const s = batcher.open({ gate: GATE });
    const out = [];
    for (const f of moving) out.push(await s.label(f));
    expect(out[0].gated).to.equal(true);
    expect(out.slice(1).filter((o) => o.gated).length).to.equal(0);
  });

  it('never gates a model that sees frames, not differences (fall)', async () => {
    const fall = await loadModel('fall');
    try {
      const batcher = createStreamBatcher(fall);
      const s = batcher.open({ gate: 1 });
      const f = (
        await frames(await clips.clip('still-192.mp4', { width: 192, height: 192, fps: 8, durationS: 1, pattern: 'corner' }), 192)
      )[0];
      expect((await s.label(f)).gated).to.equal(undefined);
    } finally {
      fall.dispose();
    }
  });

  it('gates in an inference worker too, and says so', async () => {
    const pool = createInferencePool({ workers: 1 });
    try {
      const s = await pool.open('fight', { gate: GATE });
      const copy = (f: Frame) => ({ ...f, data: Uint8Array.from(f.data) });
      const out = [];
      for (const f of still.slice(0, 4)) out.push(await s.label(copy(f)));
      expect(out.every((o) => o.gated === true)).to.equal(true);
    } finally {
      await pool.close();
    }
  });
});
