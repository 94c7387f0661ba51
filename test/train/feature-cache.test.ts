import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractorWeightsHash } from '../../src/model/extractors/weights-hash.js';
import { MOTION_CROP } from '../../src/model/input/motion-crop.js';
import { loadModel } from '../../src/model/model.js';
import { createStreamInput } from '../../src/model/input/stream-input.js';
import {
  computeClipFeatures,
  createFeatureCache,
  featureKey,
  featureProvenance,
  type FeatureProvenance,
  type FeatureSpec,
} from '../../src/train/feature-cache.js';
import { resolveFfmpeg } from '../../src/video/ffmpeg.js';
import { fixture } from '../helpers/clips.js';

type Event = { type: 'hit' | 'miss' | 'corrupt'; path: string };

describe('feature cache', function () {
  this.timeout(120_000);
  const spec: FeatureSpec = { extractor: 'mobilenet_v2', input: 'framediff', fps: 8 };
  const clipA = fixture('nofight-nofi090.mp4');
  const clipB = fixture('fight-fi150.mp4');
  let dir: string;
  let events: Event[];
  const cache = (provenance?: (spec: FeatureSpec) => Promise<FeatureProvenance>) =>
    createFeatureCache(dir, (e) => events.push(e), { provenance });
  const entry = (ext: string) =>
    readdirSync(dir)
      .filter((f) => f.endsWith(ext))
      .map((f) => join(dir, f));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-features-'));
    events = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('computes once, then serves the same features from disk', async () => {
    const first = await cache().get(clipA, spec);
    const again = await cache().get(clipA, spec);
    expect(events.map((e) => e.type)).to.deep.equal(['miss', 'hit']);
    expect(first.tMs).to.have.length(16);
    expect(first.features).to.have.length(16 * 1280);
    expect(Array.from(again.features)).to.deep.equal(Array.from(first.features));
    expect(again.tMs).to.deep.equal(first.tMs);
  });

  it("trains on what the labeler sees: motioncrop features of a clip equal the shipped fight model's, frame by frame", async () => {
    const model = await loadModel('fight');
    try {
      expect(model.manifest.input).to.equal('motioncrop');
      const trained = await computeClipFeatures(clipB, { extractor: 'mobilenet_v2', input: 'motioncrop', fps: 8 });
      const input = createStreamInput(model, 1);
      let t = 0;
      for await (const f of model.openFrames(clipB)) {
        const live = await model.extractor.extract(input.encode([f]), 1);
        const row = trained.features.subarray(t * 1280, (t + 1) * 1280);
        expect(Math.max(...live.map((v, i) => Math.abs(v - row[i])))).to.be.below(1e-4);
        t++;
      }
      expect(t).to.equal(trained.tMs.length).and.to.be.greaterThan(10);
    } finally {
      model.dispose();
    }
  });

  it('resumes an interrupted run: clips done before are hits, the rest are computed', async () => {
    await cache().get(clipA, spec); // the run that was killed after one clip
    events = [];
    for (const clip of [clipA, clipB]) await cache().get(clip, spec);
    expect(events).to.deep.equal([
      { type: 'hit', path: clipA },
      { type: 'miss', path: clipB },
    ]);
  });

  it('misses when the sampling settings change', async () => {
    await cache().get(clipA, spec);
    await cache().get(clipA, { ...spec, fps: 4 });
    await cache().get(clipA, { ...spec, input: 'frame' });
    expect(events.map((e) => e.type)).to.deep.equal(['miss', 'miss', 'miss']);
  });

  it("keys on the extractor's weights, ffmpeg's version, the engine and, for motioncrop, the crop's constants", async () => {
    const real = await featureProvenance(spec);
    expect(real).to.deep.include({ weights: await extractorWeightsHash('mobilenet_v2'), ffmpeg: (await resolveFfmpeg()).ffmpeg.version });
    expect(real.engine).to.match(/^(ort \d+\.\d+\.\d+|tfjs \w+)$/);
    const crop: FeatureSpec = { ...spec, input: 'motioncrop' };
    const cropped = await featureProvenance(crop);
    expect(cropped.motionCrop).to.deep.equal({ ...MOTION_CROP });

    const key = featureKey('abc', crop, cropped);
    expect(featureKey('abc', crop, { ...cropped })).to.equal(key);
    expect(featureKey('abc', crop, { ...cropped, weights: 'f'.repeat(64) })).to.not.equal(key);
    expect(featureKey('abc', crop, { ...cropped, ffmpeg: '7.0.2' })).to.not.equal(key);
    expect(featureKey('abc', crop, { ...cropped, engine: 'tfjs wasm' })).to.not.equal(key);
    expect(featureKey('abc', crop, { ...cropped, motionCrop: { ...MOTION_CROP, decay: 0.7 } })).to.not.equal(key);
    expect(featureKey('abc', crop, { ...cropped, motionCrop: { ...MOTION_CROP, side: 4 / 7 } })).to.not.equal(key);
  });

  it('misses when the weights or ffmpeg change, hits again when nothing did', async () => {
    const real = await featureProvenance(spec);
    const as = (p: Partial<FeatureProvenance>) => () => Promise.resolve({ ...real, ...p });
    const first = await cache(as({})).get(clipA, spec);
    await cache(as({ weights: '0'.repeat(64) })).get(clipA, spec); // an npm update of the extractor
    await cache(as({ ffmpeg: 'N-99999-gdeadbeef-static' })).get(clipA, spec); // another ffmpeg build
    const again = await cache().get(clipA, spec);
    expect(events.map((e) => e.type)).to.deep.equal(['miss', 'miss', 'miss', 'hit']);
    expect(Array.from(again.features)).to.deep.equal(Array.from(first.features));
    expect(entry('.json')).to.have.length(3);
  });

  it('misses for motioncrop when the crop constants change', async () => {
    const crop: FeatureSpec = { ...spec, input: 'motioncrop' };
    const real = await featureProvenance(crop);
    await cache().get(clipA, crop);
    await cache(() => Promise.resolve({ ...real, motionCrop: { ...MOTION_CROP, maxStep: 1 / 7 } })).get(clipA, crop);
    await cache().get(clipA, crop);
    expect(events.map((e) => e.type)).to.deep.equal(['miss', 'miss', 'hit']);
  });

  it('detects a damaged entry by its checksum and recomputes it', async () => {
    const good = await cache().get(clipA, spec);
    const [data] = entry('.f32');
    const bytes = readFileSync(data);
    bytes[100] ^= 0xff;
    writeFileSync(data, bytes);
    const healed = await cache().get(clipA, spec);
    expect(events.map((e) => e.type)).to.deep.equal(['miss', 'corrupt']);
    expect(Array.from(healed.features)).to.deep.equal(Array.from(good.features));
    await cache().get(clipA, spec);
    expect(events.at(-1)!.type).to.equal('hit');
  });

  it('treats an unreadable header or a short data file as damaged', async () => {
    await cache().get(clipA, spec);
    writeFileSync(entry('.json')[0], '{"tMs": [0, 1');
    await cache().get(clipA, spec);
    writeFileSync(entry('.f32')[0], Buffer.alloc(8));
    await cache().get(clipA, spec);
    expect(events.map((e) => e.type)).to.deep.equal(['miss', 'corrupt', 'corrupt']);
  });
});
