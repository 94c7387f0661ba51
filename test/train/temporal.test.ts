import { expect } from 'chai';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluate } from '../../src/train/evaluate.js';
import { createRandom, shuffle } from '../../src/train/random.js';
import { trainClipModel } from '../../src/train/train-clips.js';
import { movingBoxClip } from '../helpers/clips.js';

const SIZE = 64;
const BOX = 12;
const FPS = 4;
const FRAMES = 8;
const PAIRS = 16;

/**
 * Does the recurrent head see time? Each pair of clips shows one set of frames, a square at
 * FRAMES positions, in opposite orders: `right/pNNr.mp4` moves right, `left/pNNl.mp4` moves
 * left. Only the order tells them apart. The frame-shuffled copy holds the very same frames
 * in a random order per clip, so no model can beat chance on it: if it does, the test (or
 * the pipeline) leaks something other than order.
 */
describe('train: temporal order (synthetic moving square)', function () {
  this.timeout(120_000);
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'vigil-temporal-'));
    const random = createRandom(5);
    for (const set of ['ordered', 'shuffled']) for (const c of ['left', 'right']) await mkdir(join(root, set, c), { recursive: true });
    const jobs: Promise<string>[] = [];
    for (let p = 0; p < PAIRS; p++) {
      // Pairs differ in where the sweep starts and how fast it goes.
      const step = 5 + (p % 3);
      const x0 = (p * 3) % (SIZE - BOX - step * (FRAMES - 1));
      const right = Array.from({ length: FRAMES }, (_, i) => x0 + i * step);
      const id = `p${String(p).padStart(2, '0')}`;
      const clip = (set: string, c: string, xs: number[]) =>
        movingBoxClip(join(root, set, c, `${id}${c[0]}.mp4`), { size: SIZE, fps: FPS, box: BOX, y: 26, xs });
      jobs.push(
        clip('ordered', 'right', right),
        clip('ordered', 'left', [...right].reverse()),
        clip('shuffled', 'right', shuffle(right, random)),
        clip('shuffled', 'left', shuffle(right, random)),
      );
    }
    await Promise.all(jobs);
  });
  after(() => rm(root, { recursive: true, force: true }));

  /**
   * `vigil train` on one set (appearance input), then `vigil eval --cv 4` on it: held-out clip
   * accuracy, and the share of frames whose timeline label (no smoothing here) is their clip's.
   */
  async function heldOut(set: string): Promise<{ accuracy: number; frameAccuracy: number }> {
    const out = join(root, `model-${set}`);
    await trainClipModel({
      data: join(root, set),
      name: `temporal-${set}`,
      out,
      description: 'left vs right',
      extractor: 'mobilenet_v2',
      input: 'frame',
      fps: FPS,
      folds: 0,
      cacheDir: join(root, 'cache'),
      fit: { hidden: 8, window: FRAMES, epochs: 40, learningRate: 0.01 },
      seed: 1,
      smoothing: { windowMs: 0, minHoldMs: 0 },
      command: 'test',
      log: () => {},
    });
    const report = await evaluate({ model: out, source: { kind: 'clips', dir: join(root, set) }, cacheDir: join(root, 'cache'), cv: 4 });
    expect(report.mode).to.equal('cross-validation');
    expect(report.dataset.clips).to.equal(2 * PAIRS);
    if (report.scores.kind !== 'clips') expect.fail('a clip dataset gives clip scores');
    expect(report.crossValidation!.summary.map((s) => s.metric)).to.deep.equal(['accuracy', 'timelineFrameAccuracy']);
    return { accuracy: report.scores.report.accuracy, frameAccuracy: report.scores.timeline!.frameAccuracy };
  }

  it('a tiny model trained on frames in order tells left from right on held-out clips', async () => {
    const { accuracy, frameAccuracy } = await heldOut('ordered');
    expect(accuracy).to.be.at.least(0.9);
    expect(frameAccuracy).to.be.at.least(0.8);
  });

  it('the frame-shuffled copy of the same clips scores near chance', async () => {
    const { accuracy, frameAccuracy } = await heldOut('shuffled');
    expect(accuracy).to.be.within(0.25, 0.75);
    expect(frameAccuracy).to.be.within(0.25, 0.75);
  });
});
