import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { augmentDecode, augmentVariants, parseAugment } from '../../src/train/augment.js';
import { trainingSequences, type DatasetItem } from '../../src/train/dataset.js';
import { foldSides } from '../../src/train/evaluate.js';
import { createFeatureCache, featureKey, type FeatureSpec } from '../../src/train/feature-cache.js';
import type { Sequence } from '../../src/train/fit-head.js';
import { openFrames } from '../../src/video/decode.js';
import type { Frame } from '../../src/video/types.js';
import { BAR_WIDTH, createClipDir, fixture, type ClipDir } from '../helpers/clips.js';
import { expectCoded, thrown } from '../helpers/errors.js';

async function decode(path: string, variant: string | undefined, o: { size: number; fps: number }): Promise<Frame[]> {
  const aug = variant === undefined ? { filters: [], fpsScale: 1 } : augmentDecode(variant);
  const frames: Frame[] = [];
  for await (const f of openFrames(path, { width: o.size, height: o.size, fps: o.fps * aug.fpsScale, filters: aug.filters }))
    frames.push(f);
  return frames;
}

/** Mean of the red channel per column of a square RGB frame. */
function columnMeans(f: Frame): number[] {
  const out = new Array<number>(f.width).fill(0);
  for (let y = 0; y < f.height; y++) for (let x = 0; x < f.width; x++) out[x] += f.data[(y * f.width + x) * 3] / f.height;
  return out;
}

describe('training augmentation', function () {
  this.timeout(120_000);

  describe('decodes', () => {
    let clips: ClipDir;
    before(async () => (clips = await createClipDir()));
    after(() => clips.remove());

    it('flip mirrors every frame, in order', async () => {
      // A bar sweeping left to right on black: asymmetric in every frame but the middle one.
      const clip = await clips.clip('bar.mp4', { width: 160, height: 160, fps: 25, durationS: 2, pattern: 'bar' });
      const plain = await decode(clip, undefined, { size: 160, fps: 8 });
      const flipped = await decode(clip, 'flip', { size: 160, fps: 8 });
      expect(flipped.map((f) => f.tMs)).to.deep.equal(plain.map((f) => f.tMs));
      for (let n = 0; n < plain.length; n++) {
        const a = columnMeans(plain[n]);
        const b = columnMeans(flipped[n]);
        const left = a.findIndex((v) => v > 128);
        expect(
          b.findIndex((v) => v > 128),
          `frame ${n}`,
        ).to.be.within(160 - left - BAR_WIDTH - 2, 160 - left - BAR_WIDTH + 2);
        for (let x = 0; x < 160; x++) expect(b[x], `frame ${n} column ${x}`).to.be.closeTo(a[159 - x], 24);
      }
    });

    it('speed samples at 0.75x and 1.25x the fps; crop keeps the size', async () => {
      const clip = await clips.clip('bar4.mp4', { width: 160, height: 120, fps: 30, durationS: 4, pattern: 'bar' });
      const counts = await Promise.all(
        [undefined, 'fps0.75x', 'fps1.25x', 'crop85'].map(async (v) => (await decode(clip, v, { size: 64, fps: 8 })).length),
      );
      expect(counts).to.deep.equal([32, 24, 40, 32]);
    });
  });

  describe('feature cache', () => {
    const spec: FeatureSpec = { extractor: 'mobilenet_v2', input: 'framediff', fps: 8 };
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'vigil-features-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('keys each augmented decode apart from the plain one, and an undefined augment as the plain one', () => {
      const provenance = { weights: 'w', ffmpeg: 'f', engine: 'e' };
      const keys = [undefined, ...augmentVariants(['flip', 'speed', 'crop'])].map((augment) =>
        featureKey('abc', { ...spec, ...(augment ? { augment } : {}) }, provenance),
      );
      expect(new Set(keys).size).to.equal(5);
      expect(featureKey('abc', { ...spec, augment: undefined }, provenance)).to.equal(keys[0]);
    });

    it('computes an augmented decode once, apart from the plain features', async () => {
      const events: string[] = [];
      const cache = createFeatureCache(dir, (e) => events.push(e.type));
      const clip = fixture('fight-fi150.mp4');
      const plain = await cache.get(clip, spec);
      const flipped = await cache.get(clip, { ...spec, augment: 'flip' });
      const again = await cache.get(clip, { ...spec, augment: 'flip' });
      expect(events).to.deep.equal(['miss', 'miss', 'hit']);
      expect(flipped.tMs).to.deep.equal(plain.tMs);
      expect(Array.from(again.features)).to.deep.equal(Array.from(flipped.features));
      expect(Array.from(flipped.features)).to.not.deep.equal(Array.from(plain.features));
    });
  });

  describe('folds', () => {
    const seq = (frames: number, tag: number): Sequence => ({
      features: new Float32Array(frames).fill(tag),
      dim: 1,
      labels: new Int32Array(frames),
    });
    // 10 clips in 10 groups; clip n's own sequence is tagged n, its augmented copies 100 + n and 200 + n.
    const items: DatasetItem[] = Array.from({ length: 10 }, (_, n) => ({
      path: `c${n}.mp4`,
      id: `c${n}`,
      group: `g${n}`,
      label: 'a',
      tMs: [],
      seq: seq(8, n),
      augmented: [seq(8, 100 + n), seq(n === 3 ? 4 : 10, 200 + n)],
    }));
    const tags = (seqs: Sequence[]) => seqs.map((s) => s.features[0]);

    it('trains on the training clips and their augmented copies; early stopping and test see plain clips only', () => {
      const foldOf = items.map((_, n) => n % 5);
      const { train, val, test } = foldSides(items, foldOf, 2, 1);
      expect(test.map((i) => i.id)).to.deep.equal(['c2', 'c7']);
      const own = tags(train).filter((t) => t < 100);
      expect(tags(val)).to.not.be.empty;
      expect(tags(val).every((t) => t < 100)).to.equal(true);
      expect([...own, ...tags(val), 2, 7].sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // Every augmented copy in training belongs to a training clip; none of a held-out or stopping clip.
      const expected = own.flatMap((n) => (n === 3 ? [100 + n] : [100 + n, 200 + n]));
      expect(
        tags(train)
          .filter((t) => t >= 100)
          .sort((a, b) => a - b),
      ).to.deep.equal(expected.sort((a, b) => a - b));
    });

    it('leaves out an augmented copy shorter than the shortest plain clip', () => {
      expect(tags(trainingSequences([items[3], items[4]]))).to.deep.equal([3, 4, 103, 104, 204]);
      expect(tags(trainingSequences([{ seq: seq(8, 1) }]))).to.deep.equal([1]);
    });
  });

  it('parses --augment lists and refuses unknown or repeated names', () => {
    expect(parseAugment('speed, flip')).to.deep.equal(['speed', 'flip']);
    expect(augmentVariants(['speed', 'flip'])).to.deep.equal(['flip', 'fps0.75x', 'fps1.25x']);
    for (const bad of ['flip,zoom', 'flip,flip', '']) {
      expectCoded(
        thrown(() => parseAugment(bad)),
        'VIGIL_ERR_INVALID_ARGUMENT',
        `invalid argument: augment ${JSON.stringify(bad)}; a comma-separated list of flip, speed, crop, each once`,
      );
    }
    expectCoded(
      thrown(() => augmentDecode('mirror')),
      'VIGIL_ERR_INVALID_ARGUMENT',
      'invalid argument: augmentation variant mirror; allowed: flip, fps0.75x, fps1.25x, crop85',
    );
  });
});
