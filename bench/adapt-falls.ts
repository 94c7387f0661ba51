/**
 * The falls half of `npm run bench:adapt`: GMDCSA24's subjects as sites (each films one home).
 * For each subject: a base `fall` head (the shipped recipe: deltas, flip+speed, an ensemble of 3)
 * is trained on the other subjects, then k of the subject's clips are watched by it and its
 * *events* are reviewed, as a carer would on the Events page: an event whose stretch is mostly
 * annotated `falling` is confirmed, any other a false alarm (a missed fall makes no event, so it
 * is never reviewed). The head is adapted on those reviews exactly as `vigil adapt` does, and
 * the subject's other clips are scored with the timeline a user sees: frame accuracy, falls
 * found and false alarms. Repeats pick the k clips at random (seeded).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { readManifest } from '../src/model/folder/model-folder.js';
import { createRecurrentHead } from '../src/model/head/recurrent-head.js';
import { textTable } from '../src/text-table.js';
import { buildTimeline } from '../src/timeline/segments.js';
import { adaptAndJudge, type ReviewItem } from '../src/train/adapt.js';
import { parseAugment } from '../src/train/augment.js';
import { loadDataset, type DatasetItem } from '../src/train/dataset.js';
import { predictItems, scoreSpans } from '../src/train/evaluate.js';
import { importGmdcsa24 } from '../src/train/gmdcsa24.js';
import { meanStd } from '../src/train/metrics.js';
import { createRandom, shuffle } from '../src/train/random.js';
import { oneVsRest, UNLABELLED } from '../src/train/span-manifest.js';
import { siteBase } from './adapt-base.js';

const DATA = resolve(process.env.BENCH_FALL_DATA ?? '../shared/datasets/gmdcsa24');
const KS = (process.env.BENCH_FALL_KS ?? '0,2,4').split(',').map(Number);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
/** Frames before an event's stretch that a review's sequence starts with, as src/train/adapt.ts's reviewItems does. */
const WARMUP = 8;

if (!existsSync(join(DATA, 'clips'))) {
  console.log(`bench:adapt (falls) skipped: no dataset at ${DATA} (it needs ../shared/datasets/gmdcsa24)`);
  process.exit(0);
}

const manifest = readManifest('models/fall');
const h = manifest.training.hyperparameters ?? {};
const data = await loadDataset(
  { kind: 'spans', manifest: oneVsRest(importGmdcsa24(DATA).dataset, 'falling', 'no_fall') },
  {
    spec: { extractor: manifest.extractor, input: manifest.input, fps: manifest.fps },
    deltas: manifest.deltas,
    augment: parseAugment((h.augment ?? []).join(',')),
    classes: manifest.classes,
    cacheDir: '.cache/features',
    log: (l) => console.error(`falls: ${l}`),
  },
);
const usable = data.items.filter((i) => i.seq.labels.length >= 2);
const subjects = [...new Set(usable.map((i) => i.group))].sort();
const falling = manifest.classes.indexOf('falling');
const smoothing = manifest.smoothing;

/** The base head's events in a clip, reviewed against the annotation. */
function reviewsOf(head: tf.LayersModel, item: DatasetItem): ReviewItem[] {
  const rnn = createRecurrentHead(head);
  const k = manifest.classes.length;
  try {
    const [probs] = predictItems(rnn, [item]);
    const timeline = buildTimeline(
      manifest.classes,
      item.tMs.map((tMs, i) => ({ tMs, probs: probs.subarray(i * k, (i + 1) * k) })),
      smoothing,
    );
    return timeline.segments
      .filter((s) => s.label === 'falling')
      .flatMap((s, n) => {
        const inside = item.tMs.map((t, i) => (t >= s.startMs && t < s.endMs ? i : -1)).filter((i) => i >= 0);
        if (inside.length === 0) return [];
        const fallFrames = inside.filter((i) => item.seq.labels[i] === falling).length;
        const label = fallFrames * 2 > inside.length ? 'falling' : 'no_fall';
        const c = manifest.classes.indexOf(label);
        const from = Math.max(0, inside[0] - WARMUP);
        const to = inside[inside.length - 1] + 1;
        const labels = new Int32Array(to - from).fill(UNLABELLED);
        for (const i of inside) labels[i - from] = c;
        const dim = item.seq.dim;
        return [
          {
            review: { id: `${item.id}#${n}`, clip: item.path, label, startMs: s.startMs, endMs: s.endMs },
            seq: { features: item.seq.features.slice(from * dim, to * dim), dim, labels },
          },
        ];
      });
  } finally {
    rnn.dispose();
  }
}

function score(head: tf.LayersModel, items: readonly DatasetItem[]) {
  const rnn = createRecurrentHead(head);
  try {
    const s = scoreSpans(manifest.classes, items, predictItems(rnn, items), { smoothing });
    const e = s.events[falling];
    return { frameAccuracy: s.frameReport.accuracy, hits: e.hits, events: e.events, falseAlarms: e.falseAlarms };
  } finally {
    rnn.dispose();
  }
}

interface Cell {
  live: ReturnType<typeof score>;
  base: ReturnType<typeof score>;
  reviews: { confirmed: number; falseAlarms: number };
  accepted: boolean | null;
}
const rows: { subject: string; k: number; cells: Cell[] }[] = [];
for (const [s, subject] of subjects.entries()) {
  const own = usable.filter((i) => i.group === subject);
  const { base, replay } = await siteBase(
    manifest,
    usable.filter((i) => i.group !== subject),
  );
  for (const k of KS) {
    // At least two clips left to score, or the row says nothing.
    if (k > own.length - 2) continue;
    const cells: Cell[] = [];
    for (let r = 0; r < (k === 0 ? 1 : REPEATS); r++) {
      const picked = shuffle(own, createRandom(100 * s + 7 * k + r));
      const scored = picked.slice(k);
      const baseScore = score(base, scored);
      const reviews = picked.slice(0, k).flatMap((i) => reviewsOf(base, i));
      const counts = {
        confirmed: reviews.filter((x) => x.review.label === 'falling').length,
        falseAlarms: reviews.filter((x) => x.review.label !== 'falling').length,
      };
      if (k === 0 || reviews.length < 2) {
        cells.push({ live: baseScore, base: baseScore, reviews: counts, accepted: null });
        continue;
      }
      const judged = await adaptAndJudge(base, reviews, manifest, {
        numClasses: manifest.classes.length,
        replay,
        seed: r + 1,
        fit: { learningRate: h.learningRate ?? 0.002 },
      });
      cells.push({
        live: judged.accepted ? score(judged.model, scored) : baseScore,
        base: baseScore,
        reviews: counts,
        accepted: judged.accepted,
      });
      judged.model.dispose();
    }
    rows.push({ subject, k, cells });
    const m = (pick: (c: Cell) => number) => meanStd(cells.map(pick)).mean.toFixed(3);
    console.error(
      `falls: ${subject} k=${k}: frame accuracy ${m((c) => c.live.frameAccuracy)} (base ${m((c) => c.base.frameAccuracy)}), ` +
        `false alarms ${m((c) => c.live.falseAlarms)} (base ${m((c) => c.base.falseAlarms)}), ` +
        `accepted ${cells.filter((c) => c.accepted).length}/${cells.length}`,
    );
  }
  base.dispose();
}

const sum = (cells: Cell[], pick: (c: Cell) => number) => cells.reduce((a, c) => a + pick(c), 0);
console.log(
  `falls: ${subjects.length} subjects as sites (GMDCSA24), k = ${KS.join(', ')} clips watched and their events reviewed, ${REPEATS} repeats`,
);
console.log(
  textTable([
    [
      'subject',
      'k',
      'reviews (confirmed / false alarm)',
      'frame accuracy, live',
      'base, same clips',
      'falls found',
      'false alarms',
      'base false alarms',
      'accepted',
    ],
    ...rows.map(({ subject, k, cells }) => [
      subject,
      String(k),
      `${(sum(cells, (c) => c.reviews.confirmed) / cells.length).toFixed(1)} / ${(sum(cells, (c) => c.reviews.falseAlarms) / cells.length).toFixed(1)}`,
      meanStd(cells.map((c) => c.live.frameAccuracy)).mean.toFixed(3),
      meanStd(cells.map((c) => c.base.frameAccuracy)).mean.toFixed(3),
      `${sum(cells, (c) => c.live.hits)}/${sum(cells, (c) => c.live.events)}`,
      String(sum(cells, (c) => c.live.falseAlarms)),
      String(sum(cells, (c) => c.base.falseAlarms)),
      cells.some((c) => c.accepted !== null)
        ? `${cells.filter((c) => c.accepted).length}/${cells.filter((c) => c.accepted !== null).length}`
        : '-',
    ]),
  ]).join('\n'),
);
