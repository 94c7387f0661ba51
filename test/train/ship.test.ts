import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeModel } from '../../src/cli/models.js';
import { readManifest } from '../../src/model/folder/model-folder.js';
import { buildHeadModel } from '../../src/model/head/recurrent-head.js';
import type { FitResult } from '../../src/train/fit-head.js';
import { headWeightBytes, shipModel, shipVersion } from '../../src/train/ship.js';
import type { TrainCommonOptions } from '../../src/train/train-clips.js';
import { uniform } from '../helpers/numbers.js';

describe('shipping a model: versions follow the weights', function () {
  this.timeout(120_000);
  let root: string;
  let out: string;
  const options = (o: Partial<TrainCommonOptions> = {}): TrainCommonOptions => ({
    name: 'hallway',
    out,
    description: 'a test head',
    extractor: 'mobilenet_v2',
    input: 'framediff',
    fps: 8,
    cacheDir: join(root, 'cache'),
    fit: { hidden: 4 },
    seed: 1,
    smoothing: { windowMs: 1000, minHoldMs: 500 },
    command: 'vigil train --name hallway',
    log: () => {},
    ...o,
  });
  // Weights set from a seeded PRNG: the same seed gives byte-identical weights, as a rerun that trains to the same numbers does.
  const fit = (seed: number): FitResult => {
    const model = buildHeadModel({ featureSize: 1280, hidden: 4, numClasses: 2 }, { blank: true });
    const values = model.getWeights().map((w, i) => tf.tensor(uniform(w.size, seed * 100 + i, -0.1, 0.1), w.shape));
    model.setWeights(values);
    tf.dispose(values);
    return { model, epochs: 3, bestEpoch: 1, valLoss: null };
  };
  const weightsOf = async (seed: number) => {
    const { model } = fit(seed);
    try {
      return await headWeightBytes(model);
    } finally {
      model.dispose();
    }
  };
  const ship = (seed: number, o: Partial<TrainCommonOptions> = {}) =>
    shipModel(
      options(o),
      ['walk', 'run'],
      fit(seed),
      { trainClips: 2, earlyStoppingClips: 1 },
      { dataset: 'test', clips: { walk: 1, run: 2 }, groups: 3, crossValidation: null },
      Date.now(),
    );

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'vigil-ship-'));
    out = join(root, 'hallway');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('starts at 1.0.0, keeps it for identical weights, and bumps the minor version when weights or settings change', async () => {
    expect((await ship(1)).version).to.equal('1.0.0');
    expect((await ship(1)).version).to.equal('1.0.0');
    const changed = await ship(2);
    expect(changed.version).to.equal('1.1.0');
    expect(readManifest(out).version).to.equal('1.1.0');
    expect(readFileSync(join(out, 'README.md'), 'utf8').split('\n')[0]).to.equal('# hallway 1.1.0');
    expect(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).generatedBy).to.equal('vigil hallway@1.1.0');
    expect(describeModel(readManifest(out)).split('\n')[0]).to.equal('hallway 1.1.0: a test head');
    // Same weights, other smoothing: the labels change, so does the version.
    expect((await ship(2, { smoothing: { windowMs: 1000, minHoldMs: 750 } })).version).to.equal('1.2.0');
    expect((await ship(2, { smoothing: { windowMs: 1000, minHoldMs: 750 }, description: 'reworded' })).version).to.equal('1.2.0');
  });

  it('starts over at 1.0.0 over another model, or a folder whose manifest does not parse', async () => {
    await ship(1);
    await ship(2); // 1.1.0
    const next = { ...readManifest(out), name: 'corridor' };
    const weights = await weightsOf(2);
    expect(shipVersion(out, next, weights)).to.equal('1.0.0');
    expect(shipVersion(out, { ...next, name: 'hallway' }, weights)).to.equal('1.1.0');
    expect(shipVersion(join(root, 'nothing-here'), next, weights)).to.equal('1.0.0');
    unlinkSync(join(out, 'weights.bin'));
    expect(shipVersion(out, { ...next, name: 'hallway' }, weights)).to.equal('1.2.0');
    writeFileSync(join(out, 'manifest.json'), '{"name": "hallway", "vers');
    expect(shipVersion(out, { ...next, name: 'hallway' }, weights)).to.equal('1.0.0');
  });

  it('compares the bytes it writes: headWeightBytes equals weights.bin', async () => {
    await ship(3);
    expect(Buffer.from(await weightsOf(3)).equals(readFileSync(join(out, 'weights.bin')))).to.equal(true);
    expect(Buffer.from(await weightsOf(4)).equals(readFileSync(join(out, 'weights.bin')))).to.equal(false);
  });
});
