// Research probe: the shipped fight input (`motioncrop`, trained also mirrored) under other head
// settings, including those `vigil train` has no flag for (`l2`, `featureDropout`). Product
// features (`.cache/features`), folds, head and CV; prints pooled held-out clip accuracy per seed.
// `--tta` also decides each held-out clip on the mean of its plain and mirrored frames' probabilities.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend } from '../../src/model/runtime/backend.js';
import { createRecurrentHead } from '../../src/model/head/recurrent-head.js';
import { loadDataset } from '../../src/train/dataset.js';
import { foldSides, scoreClips } from '../../src/train/evaluate.js';
import { fitHead } from '../../src/train/fit-head.js';
import { meanStd } from '../../src/train/metrics.js';
import { groupedFolds } from '../../src/train/split.js';
import { DATASET } from './maps.js';

const { values: a } = parseArgs({
  options: {
    fit: { type: 'string', default: '{}' },
    seeds: { type: 'string', default: '1,2,3' },
    tta: { type: 'boolean', default: false },
  },
});
const fit = { hidden: 16, window: 12, epochs: 60, learningRate: 0.0005, ...(JSON.parse(a.fit) as Record<string, number>) };
await selectBackend();
const data = await loadDataset(
  { kind: 'clips', dir: DATASET, groups: join(DATASET, 'videos.txt') },
  { spec: { extractor: 'mobilenet_v2', input: 'motioncrop', fps: 8 }, cacheDir: '.cache/features', augment: ['flip'] },
);
const items = data.items.filter((i) => i.seq.labels.length >= 2);
const plainAcc: number[] = [];
const ttaAcc: number[] = [];
for (const seed of a.seeds.split(',').map(Number)) {
  // crossValidate's folds, sides and seeds, unrolled to reach each fold's head.
  const foldOf = groupedFolds(
    items.map((i) => i.group),
    5,
    seed,
  );
  const plain = new Array<Float32Array>(items.length);
  const both = new Array<Float32Array>(items.length);
  for (let f = 0; f < 5; f++) {
    const { train, val } = foldSides(items, foldOf, f, seed + f);
    const fitted = await fitHead(train, val, { ...fit, numClasses: data.classes.length, seed: seed + f });
    const head = createRecurrentHead(fitted.model);
    fitted.model.dispose();
    items.forEach((it, i) => {
      if (foldOf[i] !== f) return;
      const p = head.sequence(it.seq.features, it.seq.labels.length).probs;
      plain[i] = p;
      if (!a.tta) return;
      const mirrored = it.augmented![0];
      const q = head.sequence(mirrored.features, mirrored.labels.length).probs;
      const n = Math.min(p.length, q.length);
      both[i] = Float32Array.from({ length: n }, (_, j) => (p[j] + q[j]) / 2);
    });
    head.dispose();
  }
  plainAcc.push(scoreClips(data.classes, items, plain).report.accuracy);
  if (a.tta) ttaAcc.push(scoreClips(data.classes, items, both).report.accuracy);
  console.log(
    `${a.fit} seed ${seed}: ${plainAcc.at(-1)!.toFixed(3)}${a.tta ? `, mirrored too at test time ${ttaAcc.at(-1)!.toFixed(3)}` : ''}`,
  );
}
const line = (acc: number[]) => `${meanStd(acc).mean.toFixed(3)} ± ${meanStd(acc).std.toFixed(3)}`;
console.log(`== ${a.fit}: ${line(plainAcc)}${a.tta ? `; mirrored too at test time ${line(ttaAcc)}` : ''}`);
