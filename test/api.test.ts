import { expect } from 'chai';
import * as api from '../src/index.js';
import { createLabeler, loadModel } from '../src/index.js';
import { fixture } from './helpers/clips.js';
import { readDoc } from './helpers/docs.js';

describe("the public API's live example (docs/api.md)", function () {
  this.timeout(120_000);

  it('imports only what the API exports', () => {
    const imported = [...readDoc('api').matchAll(/^import \{ ([^}]+) \} from 'vigil';/gm)].flatMap((m) =>
      m[1].split(',').map((name) => name.trim()),
    );
    expect(imported).to.include.members(['createLabeler', 'labelClip', 'loadModel', 'toWebVtt', 'startServer']);
    for (const name of imported) expect(api, name).to.have.property(name).that.is.a('function');
  });

  it("gives fight's frameSpec as the model has it", async () => {
    const [, side, fps] = /model\.frameSpec: (\d+)x\1 at (\d+) fps for fight's motioncrop/.exec(readDoc('api')) ?? [];
    const model = await loadModel('fight');
    try {
      expect(model.frameSpec).to.deep.equal({ width: Number(side), height: Number(side), fps: Number(fps), input: 'motioncrop' });
    } finally {
      model.dispose();
    }
  });

  for (const [name, side] of [
    ['fight', 448],
    ['fall', 192],
  ] as const) {
    it(`labels the frames the model decodes itself (${name}: ${side}x${side} at its fps)`, async () => {
      const model = await loadModel(name);
      try {
        expect(model.frameSpec).to.deep.equal({ width: side, height: side, fps: model.manifest.fps, input: model.manifest.input });
        const labeler = createLabeler(model);
        let n = 0;
        for await (const frame of model.openFrames(fixture('fight-fi002.mp4'))) {
          expect([frame.width, frame.height]).to.deep.equal([side, side]);
          const { probs } = await labeler.label(frame);
          expect(probs).to.have.length(model.manifest.classes.length);
          n++;
        }
        expect(n).to.equal(20);
      } finally {
        model.dispose();
      }
    });
  }
});
