import { dirname, resolve, sep } from 'node:path';
import { vigilError } from '../errors.js';
import { appendDeltas, deltaLags } from '../model/input/feature-deltas.js';
import { augmentVariants, type Augmentation } from './augment.js';
import { readClipFolders } from './clip-folders.js';
import { createFeatureCache, type ClipFeatures, type FeatureSpec } from './feature-cache.js';
import type { Sequence } from './fit-head.js';
import { readGroupsFile } from './groups.js';
import { readSpanManifest, spanFrameLabels, spanLabels, UNLABELLED, type Span, type SpanDataset } from './span-manifest.js';

/**
 * A labelled dataset on disk: class folders (`<dir>/<label>/*.mp4`, a label per clip) or a
 * time-span manifest (a label per span of a clip; see span-manifest.ts).
 */
export type DatasetSource =
  { kind: 'clips'; dir: string; groups?: string } | { kind: 'spans'; manifest: string | SpanDataset; groups?: string };

/** A clip with its features and per-frame labels, ready for training and scoring. */
export interface DatasetItem {
  path: string;
  id: string;
  /** Source group: clips of one group stay on one side of every split. */
  group: string;
  /** Clip datasets: the clip's class. */
  label?: string;
  /** Span datasets: the clip's spans. */
  spans?: Span[];
  tMs: number[];
  /** Features and a class index per frame ({@link UNLABELLED} for frames in no span). */
  seq: Sequence;
  /** Sequences from augmented decodes of the clip (see augment.ts), for training sides only ({@link trainingSequences}). */
  augmented?: Sequence[];
}

export interface LoadedDataset {
  kind: 'clips' | 'spans';
  /** The folder or manifest it was read from. */
  source: string;
  /** A short name for cards and reports: the last two parts of the clips' folder. */
  name: string;
  /** Class order (for spans: the priority order). */
  classes: string[];
  items: DatasetItem[];
}

export interface LoadDatasetOptions {
  /** Which features (must match the model's manifest). */
  spec: FeatureSpec;
  /** Append f_t − f_{t−k} to each frame's features, as a model with these `deltas` sees them (the cache keeps the plain features). */
  deltas?: boolean | readonly number[];
  cacheDir: string;
  /** [augment=none] also load each clip's augmented decodes into {@link DatasetItem.augmented}. */
  augment?: readonly Augmentation[];
  /**
   * Class order. Clip datasets: [the folders' classes]; given (a model's classes), every
   * folder must be one of them. Span datasets: required, the priority order; spans of other
   * labels are ignored.
   */
  classes?: readonly string[];
  log?: (line: string) => void;
}

/**
 * Reads a dataset and its cached features. Groups: `source.groups` (videos.txt format) by clip
 * id first, then a span manifest's `group` column, else each clip is its own group.
 * @throws VIGIL_ERR_DATASET for unreadable data, a clip class the model lacks, or span
 *   classes missing
 */
export async function loadDataset(source: DatasetSource, o: LoadDatasetOptions): Promise<LoadedDataset> {
  const log = o.log ?? (() => {});
  const groupOf = source.groups ? readGroupsFile(source.groups) : new Map<string, string>();
  const cache = createFeatureCache(o.cacheDir);
  const pending: { path: string; id: string; group: string; label?: string; spans?: Span[] }[] = [];
  let classes: string[];
  let from: string;
  if (source.kind === 'clips') {
    const read = readClipFolders(source.dir);
    classes = o.classes ? [...o.classes] : read.classes;
    const foreign = read.classes.filter((c) => !classes.includes(c));
    if (foreign.length > 0) {
      throw vigilError(
        'VIGIL_ERR_DATASET',
        `${source.dir}: class folder(s) ${foreign.join(', ')} not among the model's classes (${classes.join(', ')})`,
      );
    }
    for (const c of read.clips) pending.push({ path: c.path, id: c.id, group: groupOf.get(c.id) ?? `clip:${c.id}`, label: c.label });
    from = source.dir;
  } else {
    const data = typeof source.manifest === 'string' ? readSpanManifest(source.manifest) : source.manifest;
    const labels = spanLabels(data);
    if (!o.classes || o.classes.length === 0) {
      throw vigilError(
        'VIGIL_ERR_INVALID_ARGUMENT',
        `a span dataset needs its classes in priority order, e.g. --classes ${labels.join(',')}`,
      );
    }
    classes = [...o.classes];
    if (!classes.some((c) => labels.includes(c))) {
      throw vigilError(
        'VIGIL_ERR_DATASET',
        `${data.source}: no span has a label among ${classes.join(', ')} (labels: ${labels.join(', ')})`,
      );
    }
    for (const c of data.clips)
      pending.push({ path: c.path, id: c.id, group: groupOf.get(c.id) ?? c.group ?? `clip:${c.id}`, spans: c.spans });
    from = data.source;
  }

  const variants = augmentVariants(o.augment);
  const lags = deltaLags(o.deltas);
  const items: DatasetItem[] = [];
  for (const p of pending) {
    const sequence = (f: ClipFeatures): Sequence => {
      const labels =
        p.spans !== undefined ? spanFrameLabels(p.spans, f.tMs, classes) : new Int32Array(f.tMs.length).fill(classes.indexOf(p.label!));
      return lags.length > 0
        ? { features: appendDeltas(f.features, f.dim, f.tMs.length, lags), dim: (1 + lags.length) * f.dim, labels }
        : { features: f.features, dim: f.dim, labels };
    };
    const f = await cache.get(p.path, o.spec);
    const augmented: Sequence[] = [];
    for (const augment of variants) augmented.push(sequence(await cache.get(p.path, { ...o.spec, augment })));
    items.push({ ...p, tMs: f.tMs, seq: sequence(f), ...(variants.length > 0 ? { augmented } : {}) });
    if (items.length % 20 === 0 || items.length === pending.length) log(`features ${items.length}/${pending.length}`);
  }
  const folder = source.kind === 'clips' ? resolve(source.dir) : commonFolder(pending.map((p) => p.path));
  return { kind: source.kind, source: from, name: folder.split(sep).slice(-2).join('/'), classes, items };
}

/**
 * The sequences a training side learns from: each item's own, then its augmented copies.
 * A copy shorter than the shortest plain sequence is left out, so augmentation never
 * shortens the training window (fit-head crops windows to the shortest sequence).
 */
export function trainingSequences(items: readonly Pick<DatasetItem, 'seq' | 'augmented'>[]): Sequence[] {
  const plain = items.map((i) => i.seq);
  const shortest = Math.min(...plain.map((s) => s.labels.length));
  return [...plain, ...items.flatMap((i) => (i.augmented ?? []).filter((s) => s.labels.length >= shortest))];
}

/** Frames with a class (not {@link UNLABELLED}). */
export function labelledFrames(item: DatasetItem): number {
  let n = 0;
  for (const l of item.seq.labels) if (l !== UNLABELLED) n++;
  return n;
}

function commonFolder(paths: string[]): string {
  if (paths.length === 0) return '';
  let common = dirname(resolve(paths[0])).split(sep);
  for (const p of paths.slice(1)) {
    const parts = dirname(resolve(p)).split(sep);
    let i = 0;
    while (i < common.length && i < parts.length && common[i] === parts[i]) i++;
    common = common.slice(0, i);
  }
  return common.join(sep);
}
