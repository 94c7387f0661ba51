// Research probe: what the product's head makes of differently pooled MobileNetV2 maps of the
// fight clips, through the product's grouped 5-fold CV (same folds, head and early stopping
// as `vigil train`). Prints pooled clip accuracy per seed and the mean ± sd. See README.md.
import { parseArgs } from 'node:util';
import type { DatasetItem } from '../../src/train/dataset.js';
import { crossValidate, scoreClips, type ClipScores } from '../../src/train/evaluate.js';
import { meanStd } from '../../src/train/metrics.js';
import { loadMaps, type ClipMaps, type Input } from './maps.js';

const POOLS = ['avg', 'max', 'avgmax', 'top5'] as const;
type Pool = (typeof POOLS)[number];

const { values: a } = parseArgs({
  options: {
    layer: { type: 'string', default: 'out_relu' },
    input: { type: 'string', default: 'framediff' },
    gain: { type: 'string', default: '1' },
    fps: { type: 'string', default: '8' },
    pool: { type: 'string', default: 'avg' },
    'with-frames': { type: 'boolean', default: false },
    seeds: { type: 'string', default: '1,2,3' },
    hidden: { type: 'string', default: '16' },
    lr: { type: 'string', default: '0.0005' },
    window: { type: 'string', default: '12' },
  },
});

/** One frame's map pooled over positions: `avg`, `max`, both, or the mean of the 5 largest. */
function pool(m: ClipMaps, how: Pool): { features: Float32Array; dim: number } {
  const { positions: P, channels: C } = m;
  const parts: Exclude<Pool, 'avgmax'>[] = how === 'avgmax' ? ['avg', 'max'] : [how];
  const dim = parts.length * C;
  const features = new Float32Array(m.frames * dim);
  const column = new Float32Array(P);
  for (let t = 0; t < m.frames; t++) {
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < P; p++) column[p] = m.data[(t * P + p) * C + c];
      parts.forEach((part, k) => {
        let v: number;
        if (part === 'avg') v = column.reduce((s, x) => s + x, 0) / P;
        else if (part === 'max') v = Math.max(...column);
        else
          v =
            [...column]
              .sort((x, y) => y - x)
              .slice(0, 5)
              .reduce((s, x) => s + x, 0) / 5;
        features[t * dim + k * C + c] = v;
      });
    }
  }
  return { features, dim };
}

function concatRows(a: { features: Float32Array; dim: number }, b: { features: Float32Array; dim: number }, frames: number) {
  const dim = a.dim + b.dim;
  const features = new Float32Array(frames * dim);
  for (let t = 0; t < frames; t++) {
    features.set(a.features.subarray(t * a.dim, (t + 1) * a.dim), t * dim);
    features.set(b.features.subarray(t * b.dim, (t + 1) * b.dim), t * dim + a.dim);
  }
  return { features, dim };
}

const spec = { layer: a.layer, input: a.input as Input, gain: Number(a.gain), fps: Number(a.fps) };
const { classes, clips } = await loadMaps(spec);
const frameMaps = a['with-frames'] ? (await loadMaps({ ...spec, input: 'frame', gain: 1 })).clips : undefined;
const seeds = a.seeds.split(',').map(Number);
for (const how of a.pool.split(',') as Pool[]) {
  if (!POOLS.includes(how)) throw new Error(`--pool ${how}: one of ${POOLS.join(', ')}`);
  const items: DatasetItem[] = clips.map((m, n) => {
    const pooled = frameMaps ? concatRows(pool(m, how), pool(frameMaps[n], how), m.frames) : pool(m, how);
    return {
      path: m.id,
      id: m.id,
      group: m.group,
      label: classes[m.label],
      tMs: Array.from({ length: m.frames }, (_, t) => (t * 1000) / spec.fps),
      seq: { ...pooled, labels: new Int32Array(m.frames).fill(m.label) },
    };
  });
  const accuracies: number[] = [];
  for (const seed of seeds) {
    const r = await crossValidate(items, {
      classes,
      folds: 5,
      seed,
      fit: { hidden: Number(a.hidden), window: Number(a.window), learningRate: Number(a.lr) },
      score: (it, probs) => scoreClips(classes, it, probs),
    });
    const accuracy = (r.pooled as ClipScores).report.accuracy;
    accuracies.push(accuracy);
    console.log(
      `${how} (${items[0].seq.dim}-d) seed ${seed}: ${accuracy.toFixed(3)}, folds ${r.summary[0].values.map((v) => v!.toFixed(2)).join(' ')}`,
    );
  }
  const { mean, std } = meanStd(accuracies);
  console.log(`== ${JSON.stringify({ ...spec, pool: how, withFrames: a['with-frames'] })}: ${mean.toFixed(3)} ± ${std.toFixed(3)}`);
}
