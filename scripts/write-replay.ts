/**
 * `npm run replay`: writes the replay sample (model/folder/replay.ts) into the shipped model
 * folders from the datasets they were trained on, without retraining: the same training side
 * (`vigil train`'s early-stopping split, same seed) and the same augmented decodes, from the
 * feature cache. `vigil train` writes it itself for models trained from now on. Weights and
 * manifests are untouched, so versions stay. Needs ../shared/datasets.
 */
import { existsSync } from 'node:fs';
import { readManifest } from '../src/model/folder/model-folder.js';
import { importGmdcsa24 } from '../src/train/gmdcsa24.js';
import { loadDataset, trainingSequences, type DatasetSource } from '../src/train/dataset.js';
import { parseAugment } from '../src/train/augment.js';
import { writeShippedReplay } from '../src/train/ship.js';
import { oneVsRest } from '../src/train/span-manifest.js';
import { earlyStoppingSplit } from '../src/train/split.js';

const FIGHT = '../shared/datasets/fight-surveillance';
const GMDCSA24 = '../shared/datasets/gmdcsa24';
if (!existsSync(FIGHT) || !existsSync(GMDCSA24)) {
  console.log('replay: needs ../shared/datasets (fight-surveillance and gmdcsa24)');
  process.exit(1);
}

const sources: Record<string, DatasetSource> = {
  fight: { kind: 'clips', dir: FIGHT, groups: `${FIGHT}/videos.txt` },
  fall: { kind: 'spans', manifest: oneVsRest(importGmdcsa24(GMDCSA24).dataset, 'falling', 'no_fall') },
};
for (const [name, source] of Object.entries(sources)) {
  const dir = `models/${name}`;
  const m = readManifest(dir);
  const h = m.training.hyperparameters ?? {};
  const seed = Number(h.seed ?? 1);
  const data = await loadDataset(source, {
    spec: { extractor: m.extractor, input: m.input, fps: m.fps },
    deltas: m.deltas,
    augment: parseAugment((h.augment ?? []).join(',')),
    classes: m.classes,
    cacheDir: '.cache/features',
    log: (l) => console.error(`${name}: ${l}`),
  });
  const usable = data.items.filter((i) => i.seq.labels.length >= 2);
  const { train } = earlyStoppingSplit(usable, seed);
  const n = await writeShippedReplay(dir, trainingSequences(train), m.classes.length, Number(h.window ?? 12), seed);
  console.log(`${name}: ${n} replay windows from ${train.length} training clips`);
}
