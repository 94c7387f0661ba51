/**
 * `npm run bench:adapt`: does adapting a model to a camera from a few reviews help, on real
 * footage? Each *site* stands for a camera: one source group of the fight dataset's videos.txt
 * (the same scene, angle and light) with at least BENCH_MIN_CLIPS clips and both classes.
 * For each site: a base head is trained without any of the site's clips (as the shipped `fight`
 * was trained, on every other group), then k of the site's clips are "reviewed" (random, seeded,
 * BENCH_REPEATS times), the head is adapted exactly as `vigil adapt` does (src/train/adapt.ts:
 * same split, same not-worse rule), and the site's other clips are scored.
 * Prints clip accuracy and false alarms against k (mean over sites and repeats, with the spread
 * over sites), how often the rule accepted, and the adaptation time; writes the learning curve
 * as an SVG (BENCH_OUT, default .cache/bench-adapt.svg).
 * Needs ../shared/datasets (skips with a message without it); features come from the cache
 * (`npm run train:fight` fills it in about 2 minutes on a fresh machine).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { readManifest } from '../src/model/folder/model-folder.js';
import { createRecurrentHead } from '../src/model/head/recurrent-head.js';
import { textTable } from '../src/text-table.js';
import { adaptAndJudge, type ReviewItem } from '../src/train/adapt.js';
import { loadDataset, type DatasetItem } from '../src/train/dataset.js';
import { predictItems, scoreClips } from '../src/train/evaluate.js';
import { meanStd } from '../src/train/metrics.js';
import { createRandom, shuffle } from '../src/train/random.js';
import { siteBase } from './adapt-base.js';
import { learningCurveSvg } from './adapt-chart.js';

const DATA = resolve(process.env.BENCH_DATA ?? '../shared/datasets/fight-surveillance');
const KS = (process.env.BENCH_KS ?? '0,2,4,8').split(',').map(Number);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const MIN_CLIPS = Number(process.env.BENCH_MIN_CLIPS ?? 10);
const MAX_SITES = Number(process.env.BENCH_SITES ?? Infinity);
const OUT = resolve(process.env.BENCH_OUT ?? '.cache/bench-adapt.svg');

if (!existsSync(join(DATA, 'videos.txt'))) {
  console.log(`bench:adapt skipped: no dataset at ${DATA} (it needs ../shared/datasets/fight-surveillance)`);
  process.exit(0);
}

const manifest = readManifest('models/fight');
const data = await loadDataset(
  { kind: 'clips', dir: DATA, groups: join(DATA, 'videos.txt') },
  {
    spec: { extractor: manifest.extractor, input: manifest.input, fps: manifest.fps },
    cacheDir: '.cache/features',
    augment: ['flip'],
    classes: manifest.classes,
    log: (l) => console.error(l),
  },
);
const [alert, background] = [manifest.classes[0], manifest.classes[1]];
const usable = data.items.filter((i) => i.seq.labels.length >= 2);
const groups = new Map<string, DatasetItem[]>();
for (const i of usable) groups.set(i.group, [...(groups.get(i.group) ?? []), i]);
const sites = [...groups]
  .filter(([, items]) => items.length >= MIN_CLIPS && items.some((i) => i.label === alert) && items.some((i) => i.label === background))
  .sort((a, b) => b[1].length - a[1].length)
  .slice(0, MAX_SITES);

console.log(`machine: ${cpus()[0].model.trim()}, ${cpus().length} cores`);
console.log(
  `${sites.length} sites (source groups with >= ${MIN_CLIPS} clips of both classes), k = ${KS.join(', ')}, ${REPEATS} repeats each`,
);

interface Cell {
  accuracy: number;
  /** The base head on the same scored clips: the paired figure. */
  baseAccuracy: number;
  /** The adapted head whatever the rule said. */
  adaptedAccuracy: number;
  falseAlarmRate: number;
  accepted: boolean | null;
  seconds: number;
}
/** results[site][k] = a cell per repeat */
const results: Cell[][][] = [];

const asReview = (i: DatasetItem): ReviewItem => ({ review: { id: i.id, clip: i.path, label: i.label! }, seq: i.seq });

function scoreSite(head: tf.LayersModel, items: readonly DatasetItem[]): { accuracy: number; falseAlarmRate: number } {
  const rnn = createRecurrentHead(head);
  try {
    const s = scoreClips(manifest.classes, items, predictItems(rnn, items));
    const bg = manifest.classes.indexOf(background);
    const row = s.report.confusion[bg];
    const bgClips = row.reduce((a, b) => a + b, 0);
    return { accuracy: s.report.accuracy, falseAlarmRate: bgClips === 0 ? 0 : row[manifest.classes.indexOf(alert)] / bgClips };
  } finally {
    rnn.dispose();
  }
}

for (const [s, [group, siteItems]] of sites.entries()) {
  const {
    base,
    replay,
    seconds: baseSeconds,
  } = await siteBase(
    manifest,
    usable.filter((i) => i.group !== group),
  );
  const site: Cell[][] = [];
  for (const k of KS) {
    const cells: Cell[] = [];
    for (let r = 0; r < (k === 0 ? 1 : REPEATS); r++) {
      const picked = shuffle(siteItems, createRandom(1000 * s + 17 * k + r));
      const reviewed = picked.slice(0, k);
      const scored = picked.slice(k);
      if (k === 0) {
        const b = scoreSite(base, scored);
        cells.push({ ...b, baseAccuracy: b.accuracy, adaptedAccuracy: b.accuracy, accepted: null, seconds: 0 });
        continue;
      }
      const items = reviewed.map(asReview);
      const t = performance.now();
      // Exactly what `vigil adapt` does (src/train/adapt.ts): K-fold over the reviews judges, all of them train.
      const judged = await adaptAndJudge(base, items, manifest, {
        numClasses: manifest.classes.length,
        replay,
        seed: r + 1,
        ...(process.env.X_SHARE ? { reviewShare: Number(process.env.X_SHARE) } : {}),
        fit: JSON.parse(process.env.X_FIT ?? '{}') as object,
      });
      const seconds = (performance.now() - t) / 1000;
      const adapted = scoreSite(judged.model, scored);
      const live = judged.accepted ? adapted : scoreSite(base, scored);
      cells.push({
        ...live,
        adaptedAccuracy: adapted.accuracy,
        baseAccuracy: scoreSite(base, scored).accuracy,
        accepted: judged.accepted,
        seconds,
      });
      judged.model.dispose();
    }
    site.push(cells);
  }
  base.dispose();
  results.push(site);
  const mean = (cells: Cell[], pick: (c: Cell) => number) => meanStd(cells.map(pick)).mean.toFixed(3);
  const line = KS.map(
    (k, i) =>
      `k=${k} ${mean(site[i], (c) => c.accuracy)} (adapted ${mean(site[i], (c) => c.adaptedAccuracy)}, ` +
      `base ${mean(site[i], (c) => c.baseAccuracy)}, accepted ${site[i].filter((c) => c.accepted).length}/${site[i].length})`,
  ).join('  ');
  console.error(
    `site ${s + 1}/${sites.length} ${group.replace('src:https://www.youtube.com/watch?v=', 'yt:')} (${siteItems.length} clips): base ${baseSeconds.toFixed(0)} s; ${line}`,
  );
}

const rows = KS.map((k, i) => {
  const perSite = results.map((site) => meanStd(site[i].map((c) => c.accuracy)).mean);
  const fa = results.map((site) => meanStd(site[i].map((c) => c.falseAlarmRate)).mean);
  const cells = results.flatMap((site) => site[i]);
  const judged = cells.filter((c) => c.accepted !== null);
  const siteMean = (site: Cell[][], pick: (c: Cell) => number) => meanStd(site[i].map(pick)).mean;
  // Paired: the base head on the very clips each repeat scored, so a site's easy or hard leftovers cancel out.
  const better = results.filter((site) => siteMean(site, (c) => c.accuracy) > siteMean(site, (c) => c.baseAccuracy) + 1e-9).length;
  const worse = results.filter((site) => siteMean(site, (c) => c.accuracy) < siteMean(site, (c) => c.baseAccuracy) - 1e-9).length;
  return {
    k,
    accuracy: meanStd(perSite),
    base: meanStd(results.map((site) => siteMean(site, (c) => c.baseAccuracy))).mean,
    adapted: meanStd(results.map((site) => siteMean(site, (c) => c.adaptedAccuracy))).mean,
    minSite: Math.min(...perSite),
    falseAlarms: meanStd(fa),
    accepted: judged.length === 0 ? '-' : `${judged.filter((c) => c.accepted).length}/${judged.length}`,
    better: k === 0 ? '-' : `${better} / ${worse}`,
    seconds: k === 0 ? null : meanStd(cells.map((c) => c.seconds)).mean,
  };
});
console.log(
  textTable([
    [
      'k reviewed',
      'site accuracy, live (± sd over sites)',
      'base, same clips',
      'adapted, rule ignored',
      'worst site',
      'false-alarm rate',
      'rule accepted',
      'sites better / worse',
      'adapt s',
    ],
    ...rows.map((r) => [
      String(r.k),
      `${r.accuracy.mean.toFixed(3)} ± ${r.accuracy.std.toFixed(3)}`,
      r.base.toFixed(3),
      r.adapted.toFixed(3),
      r.minSite.toFixed(3),
      `${r.falseAlarms.mean.toFixed(3)} ± ${r.falseAlarms.std.toFixed(3)}`,
      r.accepted,
      r.better,
      r.seconds === null ? '-' : r.seconds.toFixed(1),
    ]),
  ]).join('\n'),
);
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(
  OUT,
  learningCurveSvg({
    title: `fight: site clip accuracy after k reviews (${results.length} sites, ${REPEATS} repeats)`,
    points: rows.map((r) => ({ k: r.k, mean: r.accuracy.mean, std: r.accuracy.std, falseAlarms: r.falseAlarms.mean })),
  }),
);
console.log(`learning curve: ${OUT}`);
