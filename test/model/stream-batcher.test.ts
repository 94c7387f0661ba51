import { expect } from 'chai';
import { decodeSide } from '../../src/model/input/frame-encoder.js';
import { createLabeler } from '../../src/model/labeler.js';
import { loadModel, type VigilModel } from '../../src/model/model.js';
import { createStreamBatcher } from '../../src/model/live/stream-batcher.js';
import { createStreamInput } from '../../src/model/input/stream-input.js';
import { openFrames } from '../../src/video/decode.js';
import type { Frame } from '../../src/video/types.js';
import { fixture } from '../helpers/clips.js';

async function frames(name: string, n: number, size: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of openFrames(fixture(name), { width: size, height: size, fps: 8 })) {
    out.push({ ...f, data: Uint8Array.from(f.data) });
    if (out.length === n) break;
  }
  return out;
}

describe('model/stream-batcher', function () {
  this.timeout(60_000);
  let model: VigilModel;
  let a: Frame[];
  let b: Frame[];

  before(async () => {
    model = await loadModel('fight');
    const size = decodeSide(model.manifest.input, model.manifest.inputSize);
    [a, b] = await Promise.all([frames('fight-fi150.mp4', 10, size), frames('nofight-nofi090.mp4', 10, size)]);
  });
  after(() => model?.dispose());

  it('labels interleaved streams exactly as one labeler per stream would, sharing engine calls', async () => {
    const batcher = createStreamBatcher(model);
    const sa = batcher.open();
    const sb = batcher.open();
    expect(batcher.streams).to.equal(2);
    const la = createLabeler(model);
    const lb = createLabeler(model);
    // The motion square is per stream too: each follows its own camera.
    const [ia, ib] = [createStreamInput(model, 1), createStreamInput(model, 1)];
    let focusDiffered = false;
    for (let i = 0; i < a.length; i++) {
      // Handed in the same tick: one engine call for both streams.
      const [pa, pb] = await Promise.all([sa.label(a[i]), sb.label(b[i])]);
      ia.encode([a[i]]);
      ib.encode([b[i]]);
      expect(pa.focus)
        .to.deep.equal(ia.focus())
        .and.to.include({ side: 320 / 448 });
      expect(pb.focus).to.deep.equal(ib.focus());
      focusDiffered ||= JSON.stringify(pa.focus) !== JSON.stringify(pb.focus);
      const [ea, eb] = [await la.label(a[i]), await lb.label(b[i])];
      expect(pa.tMs).to.equal(a[i].tMs);
      for (let k = 0; k < 2; k++) {
        expect(pa.probs[k]).to.be.closeTo(ea.probs[k], 1e-5);
        expect(pb.probs[k]).to.be.closeTo(eb.probs[k], 1e-5);
      }
    }
    expect(batcher.stats).to.deep.equal({ frames: 20, runs: 10, gated: 0 });
    expect(focusDiffered).to.equal(true);
    // The two streams really differ: state is not shared.
    const last = await Promise.all([sa.label(a[0]), sb.label(a[0])]);
    expect(Math.abs(last[0].probs[0] - last[1].probs[0])).to.be.greaterThan(1e-4);
    sa.close();
    sb.close();
    expect(batcher.streams).to.equal(0);
    expect(await sa.label(a[0]).catch((e) => e.code)).to.equal('VIGIL_ERR_INVALID_ARGUMENT');
  });

  it('steps frames of one stream handed in at once in order, never two in one engine call', async () => {
    const batcher = createStreamBatcher(model);
    const s = batcher.open();
    const o = batcher.open();
    const eager = await Promise.all([...a.slice(0, 4).map((f) => s.label(f)), o.label(b[0])]);
    const l = createLabeler(model);
    for (let i = 0; i < 4; i++) {
      const e = await l.label(a[i]);
      for (let k = 0; k < 2; k++) expect(eager[i].probs[k]).to.be.closeTo(e.probs[k], 1e-5);
    }
    // The other stream's frame rode with the first: 5 frames, 4 calls.
    expect(batcher.stats).to.deep.equal({ frames: 5, runs: 4, gated: 0 });
  });

  it('reset() starts a stream over: same numbers as a fresh stream', async () => {
    const batcher = createStreamBatcher(model);
    const s = batcher.open();
    const first = await s.label(a[0]);
    await s.label(a[1]);
    s.reset();
    const again = await s.label(a[0]);
    expect(Array.from(again.probs)).to.deep.equal(Array.from(first.probs));
  });

  it('idle() resolves once every queued frame is answered, closed streams included', async () => {
    const batcher = createStreamBatcher(model);
    await batcher.idle();
    const s = batcher.open();
    const answered: number[] = [];
    const labels = a.slice(0, 3).map((f, i) => s.label(f).then(() => answered.push(i)));
    s.close();
    await batcher.idle();
    expect(answered).to.deep.equal([0, 1, 2]);
    await Promise.all(labels);
    expect(batcher.streams).to.equal(0);
  });
});

describe('model/stream-batcher on a pose model with velocities (fall: MoveNet features with deltas)', function () {
  this.timeout(120_000);

  it('gives each stream its own velocities: same numbers as one labeler per stream', async () => {
    const model = await loadModel('fall');
    try {
      const size = model.manifest.inputSize;
      const grab = async (name: string) => {
        const out: Frame[] = [];
        for await (const f of openFrames(fixture(name), { width: size, height: size, fps: 8 })) {
          out.push({ ...f, data: Uint8Array.from(f.data) });
          if (out.length === 6) break;
        }
        return out;
      };
      const [a, b] = await Promise.all([grab('gmdcsa24-subject4-fall02.mp4'), grab('fight-fi150.mp4')]);
      const batcher = createStreamBatcher(model);
      const [sa, sb] = [batcher.open(), batcher.open()];
      const [la, lb] = [createLabeler(model), createLabeler(model)];
      for (let i = 0; i < a.length; i++) {
        const [pa, pb] = await Promise.all([sa.label(a[i]), sb.label(b[i])]);
        expect(pa.focus, 'a pose model sees the whole frame').to.equal(undefined);
        const [ea, eb] = [await la.label(a[i]), await lb.label(b[i])];
        for (let k = 0; k < model.manifest.classes.length; k++) {
          expect(pa.probs[k]).to.be.closeTo(ea.probs[k], 1e-5);
          expect(pb.probs[k]).to.be.closeTo(eb.probs[k], 1e-5);
        }
      }
      expect(batcher.stats.runs).to.equal(a.length);
    } finally {
      model.dispose();
    }
  });
});
