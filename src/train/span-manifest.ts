import { existsSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, extname, relative, resolve, sep } from 'node:path';
import { vigilError } from '../errors.js';

/** A time span of one behaviour in a clip, in seconds from the clip's start. */
export interface Span {
  label: string;
  startS: number;
  endS: number;
}

/** A clip of a time-span dataset with all its spans, in manifest order. */
export interface SpanClip {
  /** Absolute path of the video. */
  path: string;
  /** File name without extension, the id a groups file (`videos.txt`) uses. */
  id: string;
  /** Source group from the manifest's `group` column, if it has one. */
  group?: string;
  spans: Span[];
}

export interface SpanDataset {
  /** Where it came from (the manifest path, or the importer's folder). */
  source: string;
  clips: SpanClip[];
}

/**
 * One behaviour against the rest: spans labelled `label` keep it, every other span becomes
 * `rest` (e.g. `falling` vs `no_fall`). Frames in no span stay unlabelled.
 */
export function oneVsRest(data: SpanDataset, label: string, rest: string): SpanDataset {
  return {
    ...data,
    clips: data.clips.map((c) => ({ ...c, spans: c.spans.map((s) => ({ ...s, label: s.label === label ? label : rest })) })),
  };
}

/** A frame label that takes no part in the loss or in frame metrics (a frame in no span). */
export const UNLABELLED = -1;

const COLUMNS = ['clip', 'label', 'start', 'end', 'group'] as const;
const REQUIRED = ['clip', 'label', 'start', 'end'] as const;
type Column = (typeof COLUMNS)[number];

/**
 * Reads a time-span manifest: one row per span of one behaviour in one clip.
 *
 * CSV, with a header naming the columns (any order; RFC 4180 quoting for paths with commas):
 *
 *     clip,label,start,end,group
 *     clips/Subject_1__Fall__13.mp4,falling,0.4,4,Subject_1
 *     clips/Subject_1__Fall__13.mp4,standing,0,0.3,Subject_1
 *
 * or JSON Lines with the same keys (`start`/`end` as numbers):
 *
 *     {"clip":"clips/Subject_1__Fall__13.mp4","label":"falling","start":0.4,"end":4,"group":"Subject_1"}
 *
 * - `clip`: video path, relative to the manifest's folder (or absolute). A clip has as many
 *   rows as spans; its rows need not be adjacent.
 * - `label`: the behaviour, used verbatim as a class name (snake_case by convention). Labels
 *   a model does not list in its classes are ignored when training it.
 * - `start`, `end`: seconds from the clip's start, `0 <= start < end`. A span covers the
 *   frames with `start <= t < end`. Spans may overlap and leave gaps: see {@link spanFrameLabels}.
 * - `group` (optional): source group (subject, camera, source video). Clips of one group
 *   never straddle a cross-validation split; a clip's rows must agree on it. Without the
 *   column, groups come from `--groups FILE` or each clip is its own group.
 *
 * The format is told by content: a first non-blank character `{` means JSON Lines.
 *
 * @param text the manifest's contents
 * @param options.baseDir folder clip paths are relative to
 * @param [options.source='manifest'] name used in error messages and as the dataset's source
 * @throws VIGIL_ERR_DATASET naming the line: a missing or unknown column, a bad number, an
 *   empty span, a clip with two groups, or no spans at all
 */
export function parseSpanManifest(text: string, options: { baseDir: string; source?: string }): SpanDataset {
  const source = options.source ?? 'manifest';
  const rows = text.trimStart().startsWith('{') ? jsonlRows(text, source) : csvRows(text, source);
  const clips = new Map<string, SpanClip>();
  for (const { line, values } of rows) {
    const at = `${source}:${line}`;
    const clipPath = values.clip?.trim() ?? '';
    const label = values.label?.trim() ?? '';
    if (clipPath === '') throw vigilError('VIGIL_ERR_DATASET', `${at}: clip is empty`);
    if (label === '') throw vigilError('VIGIL_ERR_DATASET', `${at}: label is empty`);
    const startS = seconds(values.start, 'start', at);
    const endS = seconds(values.end, 'end', at);
    if (startS < 0) throw vigilError('VIGIL_ERR_DATASET', `${at}: start must be >= 0, got ${startS}`);
    if (!(endS > startS)) throw vigilError('VIGIL_ERR_DATASET', `${at}: end (${endS}) must be after start (${startS})`);
    const group = values.group === undefined || values.group.trim() === '' ? undefined : values.group.trim();
    const path = resolve(options.baseDir, clipPath);
    let clip = clips.get(path);
    if (clip === undefined) {
      clip = { path, id: basename(path, extname(path)), group, spans: [] };
      clips.set(path, clip);
    } else if (clip.group !== group) {
      throw vigilError(
        'VIGIL_ERR_DATASET',
        `${at}: clip ${clipPath} is in group ${show(group)} here and ${show(clip.group)} on an earlier row`,
      );
    }
    clip.spans.push({ label, startS, endS });
  }
  if (clips.size === 0) throw vigilError('VIGIL_ERR_DATASET', `${source}: no spans`);
  return { source, clips: [...clips.values()] };
}

/**
 * Reads a manifest file (see {@link parseSpanManifest}) and checks that every clip exists.
 * @throws VIGIL_ERR_DATASET
 */
export function readSpanManifest(path: string): SpanDataset {
  if (!existsSync(path) || !statSync(path).isFile()) throw vigilError('VIGIL_ERR_DATASET', `${path}: no such manifest file`);
  const dataset = parseSpanManifest(readFileSync(path, 'utf8'), { baseDir: dirname(resolve(path)), source: path });
  const missing = dataset.clips.filter((c) => !existsSync(c.path));
  if (missing.length > 0) {
    const list = missing
      .slice(0, 3)
      .map((c) => c.path)
      .join(', ');
    throw vigilError('VIGIL_ERR_DATASET', `${path}: ${missing.length} clip(s) not found: ${list}${missing.length > 3 ? ', ...' : ''}`);
  }
  return dataset;
}

/**
 * Writes a dataset as a manifest (JSON Lines when the name ends in `.jsonl` or `.ndjson`, else
 * CSV), with clip paths relative to the manifest's folder so the two can move together.
 */
export function formatSpanManifest(dataset: SpanDataset, format: 'csv' | 'jsonl', manifestDir: string): string {
  const hasGroup = dataset.clips.some((c) => c.group !== undefined);
  const rows = dataset.clips.flatMap((c) => {
    const rel = relative(manifestDir, c.path).split(sep).join('/');
    return c.spans.map((s) => ({ clip: rel, label: s.label, start: s.startS, end: s.endS, ...(hasGroup ? { group: c.group ?? '' } : {}) }));
  });
  if (format === 'jsonl') return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const header = hasGroup ? COLUMNS : REQUIRED;
  const lines = rows.map((r) => header.map((k) => csvField(String((r as Record<string, unknown>)[k]))).join(','));
  return [header.join(','), ...lines].join('\n') + '\n';
}

export async function writeSpanManifest(path: string, dataset: SpanDataset): Promise<void> {
  const format = /\.(jsonl|ndjson)$/i.test(path) ? 'jsonl' : 'csv';
  const text = formatSpanManifest(dataset, format, dirname(resolve(path)));
  await writeFile(path, text).catch((e: Error) => Promise.reject(vigilError('VIGIL_ERR_OUTPUT', `${path}: ${e.message}`)));
}

/** Every label in the dataset, in order of first appearance. */
export function spanLabels(dataset: SpanDataset): string[] {
  return [...new Set(dataset.clips.flatMap((c) => c.spans.map((s) => s.label)))];
}

/**
 * Per-frame class indices from spans. A frame at `t` takes the class of a span with
 * `start <= t < end` (half-open, so where one span ends and the next begins the frame belongs
 * to the next). Where spans of several classes cover a frame, the class listed first in
 * `classes` wins: the class order is the priority (`falling,lying,sitting,...` makes a fall
 * win over the sitting it starts from). Spans whose label is not in `classes` are ignored.
 *
 * Frames in no span get {@link UNLABELLED} (-1) and are left out of the loss and the frame
 * metrics rather than given a background class: in annotated datasets the gaps are mostly
 * transitions and annotation slack around the very onsets that matter, and calling them
 * `other` would teach the model that the start of a fall is not a fall.
 *
 * @param tMs frame timestamps in ms from the clip's start
 */
export function spanFrameLabels(spans: readonly Span[], tMs: ArrayLike<number>, classes: readonly string[]): Int32Array {
  const labels = new Int32Array(tMs.length).fill(UNLABELLED);
  // A hair of slack so a frame stamped 3399.9999999 ms is still at 3.4 s.
  const EPS = 1e-6;
  for (const span of spans) {
    const c = classes.indexOf(span.label);
    if (c < 0) continue;
    const from = span.startS * 1000 - EPS;
    const to = span.endS * 1000 - EPS;
    for (let i = 0; i < tMs.length; i++) {
      if (tMs[i] >= from && tMs[i] < to && (labels[i] === UNLABELLED || c < labels[i])) labels[i] = c;
    }
  }
  return labels;
}

interface RawRow {
  line: number;
  values: Partial<Record<Column, string>>;
}

function seconds(v: string | undefined, name: string, at: string): number {
  const s = v?.trim() ?? '';
  const n = s === '' ? NaN : Number(s);
  if (!Number.isFinite(n)) throw vigilError('VIGIL_ERR_DATASET', `${at}: ${name} must be a number of seconds, got ${show(v)}`);
  return n;
}

const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));

function checkColumns(names: string[], at: string): void {
  for (const n of names) {
    if (!(COLUMNS as readonly string[]).includes(n))
      throw vigilError('VIGIL_ERR_DATASET', `${at}: unknown column ${show(n)} (allowed: ${COLUMNS.join(', ')})`);
  }
  for (const n of REQUIRED)
    if (!names.includes(n)) throw vigilError('VIGIL_ERR_DATASET', `${at}: missing column ${n} (need ${REQUIRED.join(', ')}[, group])`);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw vigilError('VIGIL_ERR_DATASET', `${at}: column ${dup} twice`);
}

function jsonlRows(text: string, source: string): RawRow[] {
  const rows: RawRow[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      throw vigilError('VIGIL_ERR_DATASET', `${source}:${line}: not JSON: ${(e as Error).message}`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
      throw vigilError('VIGIL_ERR_DATASET', `${source}:${line}: expected an object {clip, label, start, end[, group]}`);
    const o = obj as Record<string, unknown>;
    checkColumns(Object.keys(o), `${source}:${line}`);
    const values: RawRow['values'] = {};
    for (const k of COLUMNS) {
      const v = o[k];
      if (v === undefined || v === null) continue;
      if (k === 'start' || k === 'end') {
        if (typeof v !== 'number')
          throw vigilError('VIGIL_ERR_DATASET', `${source}:${line}: ${k} must be a number of seconds, got ${show(v)}`);
        values[k] = String(v);
      } else {
        if (typeof v !== 'string') throw vigilError('VIGIL_ERR_DATASET', `${source}:${line}: ${k} must be a string, got ${show(v)}`);
        values[k] = v;
      }
    }
    rows.push({ line, values });
  });
  return rows;
}

function csvRows(text: string, source: string): RawRow[] {
  const records = parseCsv(text.replace(/^\uFEFF/, ''), source).filter((r) => !(r.fields.length === 1 && r.fields[0].trim() === ''));
  if (records.length === 0) throw vigilError('VIGIL_ERR_DATASET', `${source}: no spans`);
  const [head, ...body] = records;
  const names = head.fields.map((f) => f.trim().toLowerCase());
  checkColumns(names, `${source}:${head.line}`);
  return body.map(({ line, fields }) => {
    if (fields.length !== names.length) {
      throw vigilError(
        'VIGIL_ERR_DATASET',
        `${source}:${line}: ${fields.length} fields, the header has ${names.length} (${names.join(',')})`,
      );
    }
    return { line, values: Object.fromEntries(names.map((n, i) => [n, fields[i]])) };
  });
}

/** RFC 4180 records with the line each starts on; a quoted field may hold commas, quotes ("") and newlines. */
function parseCsv(text: string, source: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field.trim() === '') {
      quoted = true;
      field = '';
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      out.push({ line: start, fields });
      fields = [];
      field = '';
      start = ++line;
    } else {
      field += ch;
    }
  }
  if (quoted) throw vigilError('VIGIL_ERR_DATASET', `${source}:${start}: unterminated quoted field`);
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    out.push({ line: start, fields });
  }
  return out;
}

function csvField(v: string): string {
  return /[",\n\r]/.test(v) || v !== v.trim() ? `"${v.replace(/"/g, '""')}"` : v;
}
