import { expect } from 'chai';
import { createLabeler, decodeSide, loadModel, openFrames } from '../src/index.js';
import { fixture } from './helpers/clips.js';

describe("the public API's live example (README: Use it from code)", function () {
  this.timeout(120_000);

  for (const [name, side] of [['fight', 448], ['fall', 192]] as const) {
    it(`labels frames decoded at the model's decode side (${name}: ${side})`, async () => {
      const model = await loadModel(name);
      try {
        const labeler = createLabeler(model);
        const size = decodeSide(model.manifest.input, model.manifest.inputSize);
        expect(size).to.equal(side);
        let n = 0;
        for await (const frame of openFrames(fixture('fight-fi002.mp4'), { fps: model.manifest.fps, width: size, height: size })) {
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
