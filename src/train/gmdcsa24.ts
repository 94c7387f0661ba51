import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { vigilError } from '../errors.js';
import type { Span, SpanClip, SpanDataset } from './span-manifest.js';

/**
 * Every label spelling found in the GMDCSA24 CSVs, and the vigil label it becomes. Matched
 * after collapsing spaces, ignoring case; a spelling not here is reported, never guessed.
 * Postures and the fall keep their meaning; the activities (reading, writing, eating,
 * drinking, exercising) overlap a posture in the annotations and are kept under their own
 * names, so a model can leave them out with `--classes` (spans not in the class list are
 * ignored) or learn them.
 */
export const GMDCSA24_LABELS: Readonly<Record<string, string>> = Object.freeze({
  'falling (sw)': 'falling', // sideways
  'falling (bw)': 'falling', // backward
  'falling (fw)': 'falling', // forward
  'fall (fw)': 'falling', // the typo in Subject_3__Fall.csv 01 and 02
  sleeping: 'lying', // lying on a bed or the floor: the posture the camera sees
  sitting: 'sitting',
  standing: 'standing',
  walking: 'walking',
  reading: 'reading',
  writing: 'writing',
  eating: 'eating',
  drinking: 'drinking',
  exercising: 'exercising',
});

/** Something in a CSV row that could not be read; the row's clip is left out. */
export interface Gmdcsa24Problem {
  /** CSV file name and 1-based line. */
  file: string;
  line: number;
  /** The clip the row describes, e.g. `Subject_3__ADL__04.mp4`. */
  clip: string;
  /** Whether `clips/` has that clip (rows of absent clips are skipped in any case). */
  present: boolean;
  /** The text that could not be read. */
  text: string;
  problem: string;
}

export interface Gmdcsa24Import {
  /** The readable rows whose clip is in `clips/`; group = subject (`Subject_1`). */
  dataset: SpanDataset;
  /** Data rows in all CSVs. */
  rows: number;
  /** Clips named by a row but not in `clips/` (the part held back): skipped. */
  absent: string[];
  /** Clips in `clips/` that no row describes: skipped. */
  unlisted: string[];
  /** Every unreadable row or label, in file and line order, whether or not the clip is present. */
  problems: Gmdcsa24Problem[];
  /** Present clips left out because their row has a problem. */
  rejected: string[];
  /** Spans per vigil label in the imported clips. */
  spans: Record<string, number>;
}

const CSV_NAME = /^Subject_(\d+)__(ADL|Fall)\.csv$/;
/** File name, length, time of recording, attire, description, classes. */
const FIELDS = 6;

/**
 * Imports GMDCSA24 (`Subject_N__{ADL,Fall}.csv` + `clips/Subject_N__{ADL,Fall}__NN.mp4`) as a
 * time-span dataset, one group per subject.
 *
 * Reads each row's last column (`Falling (SW)[3.4 to 6]; Sitting[0 to 3.4]`): a label, then
 * `[start to end]` in seconds, several spans in one bracket separated by `;`, labels
 * separated by `;`. Tolerated because nothing is left to interpret: spaces anywhere, an
 * empty item (`...; `), a stray `:` after `]`. Not read, and reported with the row left
 * out: a label without a span (`Reading;`), a bracket without its `]`, a span not of the form
 * `a to b`, a label not in {@link GMDCSA24_LABELS}, a row without six fields. A row with any
 * problem is left out whole: a missing span would otherwise leave a gap in the truth (a fall
 * scored as a false alarm) or let a lower-priority label take its frames.
 *
 * Descriptions in the CSVs hold no commas today; should one, the classes are still the last
 * field and the file name the first.
 *
 * @param dir the dataset folder
 * @throws VIGIL_ERR_DATASET when the folder has no `Subject_N__{ADL,Fall}.csv`
 */
export function importGmdcsa24(dir: string): Gmdcsa24Import {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw vigilError('VIGIL_ERR_DATASET', `${dir} is not a folder`);
  const csvs = readdirSync(root)
    .filter((f) => CSV_NAME.test(f))
    .sort();
  if (csvs.length === 0) throw vigilError('VIGIL_ERR_DATASET', `${dir}: no Subject_N__{ADL,Fall}.csv files (is this GMDCSA24?)`);
  const clipsDir = join(root, 'clips');
  const onDisk = new Set(existsSync(clipsDir) ? readdirSync(clipsDir).filter((f) => f.endsWith('.mp4')) : []);

  const clips: SpanClip[] = [];
  const problems: Gmdcsa24Problem[] = [];
  const absent: string[] = [];
  const rejected: string[] = [];
  const listed = new Set<string>();
  let rows = 0;
  for (const file of csvs) {
    const [, subject, kind] = CSV_NAME.exec(file)!;
    const lines = readFileSync(join(root, file), 'utf8')
      .replace(/^\uFEFF/, '')
      .split(/\r?\n/);
    lines.forEach((text, i) => {
      if (i === 0 || text.trim() === '') return;
      rows++;
      const line = i + 1;
      const fields = text.split(',');
      const name = fields[0].trim();
      const nn = /^(\d+)\.mp4$/i.exec(name)?.[1];
      const clip = nn === undefined ? `${file}:${line}` : `Subject_${subject}__${kind}__${nn}.mp4`;
      const present = nn !== undefined && onDisk.has(clip);
      const report = (t: string, problem: string) => problems.push({ file, line, clip, present, text: t, problem });
      if (fields.length < FIELDS) report(text.trim(), `${fields.length} fields, expected ${FIELDS}`);
      else if (nn === undefined) report(name, 'file name is not NN.mp4');
      else if (listed.has(clip)) report(name, 'clip listed twice');
      else {
        const parsed = parseGmdcsa24Classes(fields[fields.length - 1]);
        for (const p of parsed.problems) report(p.text, p.problem);
        if (parsed.problems.length === 0 && parsed.spans.length === 0) report(fields[fields.length - 1].trim(), 'no labels');
      }
      if (nn === undefined) return;
      listed.add(clip);
      if (!present) {
        absent.push(clip);
        return;
      }
      if (problems.some((p) => p.file === file && p.line === line)) {
        rejected.push(clip);
        return;
      }
      const { spans } = parseGmdcsa24Classes(fields[fields.length - 1]);
      clips.push({ path: join(clipsDir, clip), id: basename(clip, '.mp4'), group: `Subject_${subject}`, spans });
    });
  }
  const spans: Record<string, number> = {};
  for (const c of clips) for (const s of c.spans) spans[s.label] = (spans[s.label] ?? 0) + 1;
  return {
    dataset: { source: root, clips },
    rows,
    absent,
    unlisted: [...onDisk].filter((c) => !listed.has(c)).sort(),
    problems,
    rejected,
    spans,
  };
}

/**
 * Reads one `Classes` cell into spans with vigil labels (see {@link importGmdcsa24} for what
 * is tolerated and what is reported).
 * @example
 * parseGmdcsa24Classes('Falling (SW)[3.4 to 6]; Sitting[0 to 3.4]').spans
 * // [{ label: 'falling', startS: 3.4, endS: 6 }, { label: 'sitting', startS: 0, endS: 3.4 }]
 */
export function parseGmdcsa24Classes(cell: string): { spans: Span[]; problems: { text: string; problem: string }[] } {
  const s = cell;
  const n = s.length;
  const spans: Span[] = [];
  const problems: { text: string; problem: string }[] = [];
  const LABEL = /^[A-Za-z][A-Za-z ]*?(?:\s*\([^()[\];]*\))?(?=\s*(?:\[|;|$))/;
  const RANGE = /^\s*(\d+(?:\.\d+)?)\s+to\s+(\d+(?:\.\d+)?)\s*$/;
  let i = 0;
  while (i < n) {
    while (i < n && /[\s;]/.test(s[i])) i++;
    if (i >= n) break;
    const m = LABEL.exec(s.slice(i));
    if (m === null) {
      problems.push({ text: s.slice(i).trim(), problem: 'not a label' });
      break;
    }
    const from = i;
    const name = m[0].trim().replace(/\s+/g, ' ');
    i += m[0].length;
    while (i < n && s[i] === ' ') i++;
    if (s[i] !== '[') {
      problems.push({ text: name, problem: 'label without a time span' });
      continue;
    }
    const close = s.indexOf(']', i);
    const reopen = s.indexOf('[', i + 1);
    if (close < 0 || (reopen >= 0 && reopen < close)) {
      // The list runs into the next label's bracket: resume at that label, after the last `;`.
      const semi = reopen < 0 ? -1 : s.lastIndexOf(';', reopen);
      const stop = semi > i ? semi + 1 : n;
      problems.push({ text: s.slice(from, stop).trim(), problem: 'no closing ]' });
      i = stop;
      continue;
    }
    const body = s.slice(i + 1, close);
    i = close + 1;
    // A stray `:` after the bracket (`[1.8 to 5]:`) leaves the span itself unambiguous.
    while (i < n && /[\s:]/.test(s[i])) i++;
    if (i < n && s[i] !== ';') {
      const next = s.indexOf(';', i);
      const stop = next < 0 ? n : next;
      problems.push({ text: s.slice(from, stop).trim(), problem: 'text after ]' });
      i = stop;
      continue;
    }
    const label = GMDCSA24_LABELS[name.toLowerCase()];
    if (label === undefined) {
      problems.push({ text: name, problem: 'unknown label' });
      continue;
    }
    const item: Span[] = [];
    for (const part of body.split(';')) {
      const r = RANGE.exec(part);
      const startS = Number(r?.[1]);
      const endS = Number(r?.[2]);
      if (r === null || !(endS > startS)) {
        problems.push({
          text: s.slice(from, close + 1).trim(),
          problem: r === null ? `not "start to end": ${part.trim()}` : `empty span ${part.trim()}`,
        });
        item.length = 0;
        break;
      }
      item.push({ label, startS, endS });
    }
    spans.push(...item);
  }
  return { spans, problems };
}
