import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { labelClip } from '../src/label-clip.js';
import { loadModel } from '../src/model/model.js';
import type { TimelineJson } from '../src/timeline/format.js';
import { fixture } from './helpers/clips.js';

/**
 * The label JSON of real fixture clips against stored goldens. Probabilities may move by
 * backend rounding (wasm, cpu and tfjs-node differ in the last bits); anything beyond the
 * tolerance is a behaviour change: regenerate with `npm run golden` only when it is meant.
 */
const TOLERANCE = 2e-3;
const GOLDEN_CLIPS = ['fight-fi002.mp4', 'nofight-nofi090.mp4', 'gmdcsa24-subject4-fall02.mp4'];

describe('golden timelines (shipped fight model)', function () {
  this.timeout(120_000);
  for (const clip of GOLDEN_CLIPS) {
    it(clip, async () => {
      const golden = JSON.parse(readFileSync(fileURLToPath(new URL(`golden/${clip}.json`, import.meta.url)), 'utf8')) as TimelineJson;
      const model = await loadModel('fight');
      const got = await labelClip(fixture(clip), model);
      model.dispose();
      expect(got.model).to.deep.equal(golden.model);
      expect(got.frames.map((f) => f.tMs)).to.deep.equal(golden.frames.map((f) => f.tMs));
      got.frames.forEach((f, i) => {
        f.probs.forEach((p, c) => expect(p, `frame ${i} class ${c}`).to.be.closeTo(golden.frames[i].probs[c], TOLERANCE));
        expect(f.label).to.equal(golden.frames[i].label);
      });
      expect(got.segments.map((s) => [s.label, s.startMs, s.endMs])).to.deep.equal(
        golden.segments.map((s) => [s.label, s.startMs, s.endMs]),
      );
      got.segments.forEach((s, i) => expect(s.confidence).to.be.closeTo(golden.segments[i].confidence, TOLERANCE));
    });
  }
});
