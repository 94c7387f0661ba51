import { expect } from 'chai';
import { createLabeler, loadModel } from '../src/index.js';
import { fixture } from './helpers/clips.js';

describe("the public API's live example (README: Use it from code)", function () {
  this.timeout(120_000);

  for (const [name, side] of [['fight', 448], ['fall', 192]] as const) {
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
