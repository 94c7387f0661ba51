import { resolve } from 'node:path';
import { Command } from 'commander';
import { vigilError } from '../errors.js';
import { textTable } from '../text-table.js';
import { eventFailureLines, type EventReport } from '../train/event-metrics.js';
import type { EvaluationReport, FoldSummary, Scores } from '../train/evaluate.js';
import type { ClassificationReport } from '../train/metrics.js';
import { integer, positive } from './options.js';

interface EvalOptions {
  model: string;
  data?: string;
  manifest?: string;
  groups?: string;
  cv?: number;
  seed?: number;
  tolerance: number;
  cache: string;
  json?: boolean;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description(
      "score a model on a labelled dataset (class folders or a time-span manifest), or cross-validate fresh heads with the model's settings",
    )
    .requiredOption('-m, --model <name|path>', 'shipped model name or model folder')
    .option('-d, --data <dir>', 'clip dataset: one sub-folder per class')
    .option('--manifest <file>', 'time-span dataset: CSV or JSONL rows clip,label,start,end[,group] (seconds)')
    .option('-g, --groups <file>', 'source groups (videos.txt format), for --cv (default with --manifest: its group column)')
    .option('--cv <k>', 'grouped K-fold cross-validation: train a fresh head per fold on cached features, score the held-out fold', integer)
    .option('--seed <n>', "seed for --cv (default: the model's training seed)", integer)
    .option('--tolerance <s>', 'event onset tolerance in seconds (time-span datasets)', positive, 1)
    .option('--cache <dir>', 'feature cache folder', resolve('.cache/features'))
    .option('--json', 'machine-readable report')
    .action(async (o: EvalOptions) => {
      if ((o.data === undefined) === (o.manifest === undefined)) {
        throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', 'give one of --data DIR (class folders) or --manifest FILE (time spans)');
      }
      if (o.cv !== undefined && o.cv < 2) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `--cv ${o.cv}: need at least 2 folds`);
      const groups = o.groups && resolve(o.groups);
      const [{ evaluate }, { roundDeep }] = await Promise.all([import('../train/evaluate.js'), import('../numbers.js')]);
      const report = await evaluate({
        model: o.model,
        source:
          o.data !== undefined
            ? { kind: 'clips', dir: resolve(o.data), groups }
            : { kind: 'spans', manifest: resolve(o.manifest!), groups },
        cacheDir: o.cache,
        toleranceS: o.tolerance,
        cv: o.cv,
        seed: o.seed,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(o.json ? JSON.stringify(roundDeep(report), null, 2) + '\n' : renderEvaluation(report));
    });
}

/** The report as a person reads it: what was scored on what, then the figures. */
export function renderEvaluation(r: EvaluationReport): string {
  const kind = r.dataset.kind === 'clips' ? 'class folders' : 'time spans';
  const out = [
    `model     ${r.model.name} ${r.model.version} (classes: ${r.model.classes.join(', ')})`,
    `dataset   ${r.dataset.name}: ${r.dataset.clips} clips in ${r.dataset.groups} groups (${kind})`,
  ];
  const cv = r.crossValidation;
  if (cv) {
    out.push(
      `scored    grouped ${cv.folds}-fold CV: a fresh head per fold (${JSON.stringify(cv.hyperparameters)}), figures on held-out folds`,
    );
  } else {
    out.push(`scored    the model as it is`);
  }
  if (r.trainedOnThisData) {
    out.push(
      `NOTE      the model's card says it was trained on ${r.model.trainedOn}: these are figures on`,
      `          its training clips and overstate how it does on new footage; --cv K gives held-out figures`,
    );
  }
  out.push('');
  if (cv) {
    out.push(`per fold (mean ± std over ${cv.folds} folds):`, ...renderSummary(cv.summary), '', 'pooled over the held-out folds:');
  }
  out.push(...renderScores(r.scores, r.model.classes));
  return out.join('\n') + '\n';
}

function renderSummary(rows: FoldSummary[]): string[] {
  return table([
    ['metric', 'mean', 'std', 'folds'],
    ...rows.map((s) => {
      const f = s.metric.endsWith('PerHour') ? f1 : f3;
      return [s.metric, f(s.mean), f(s.std), s.values.map(f).join(' ')];
    }),
  ]).map((l) => `  ${l}`);
}

function renderScores(s: Scores, classes: readonly string[]): string[] {
  if (s.kind === 'clips') {
    const correct = s.report.confusion.reduce((n, row, i) => n + row[i], 0);
    const timeline = s.timeline
      ? [
          '',
          `timeline       ${f3(s.timeline.frameAccuracy)} of frames labelled their clip's class, ` +
            `${s.timeline.segmentsPerClip.toFixed(2)} segments a clip (the model's smoothing)`,
        ]
      : [];
    return [
      `clip accuracy  ${f3(s.report.accuracy)} (${correct}/${s.clips} clips)`,
      ...timeline,
      '',
      ...classTable(s.report, 'clips'),
      '',
      ...confusion(s.report, classes),
    ];
  }
  const correct = s.frameReport.confusion.reduce((n, row, i) => n + row[i], 0);
  const hours = s.events[0]?.hours ?? 0;
  return [
    `frame accuracy ${f3(s.frameReport.accuracy)} (${correct}/${s.frames} frames in spans of the model's classes; ` +
      `timeline labels, raw argmax ${f3(s.rawFrameAccuracy)})`,
    '',
    ...classTable(s.frameReport, 'frames'),
    '',
    ...confusion(s.frameReport, classes),
    '',
    `events (onset tolerance ${s.toleranceS} s, ${(hours * 60).toFixed(1)} min of video):`,
    ...eventTable(s.events),
    ...s.events.flatMap(eventFailures),
  ];
}

/** Which clips an event was missed in, or raised a false alarm in: where to look first. */
function eventFailures(e: EventReport): string[] {
  const lines = eventFailureLines(e).map((line) => `  ${e.label} ${line}`);
  return lines.length === 0 ? [] : ['', ...lines];
}

function classTable(r: ClassificationReport, unit: string): string[] {
  return table([
    ['class', 'precision', 'recall', 'F1', unit],
    ...r.perClass.map((c) => [c.label, f3(c.precision), f3(c.recall), f3(c.f1), String(c.support)]),
  ]);
}

function confusion(r: ClassificationReport, classes: readonly string[]): string[] {
  return [
    'confusion (rows true, columns predicted):',
    ...table([['', ...classes], ...r.confusion.map((row, i) => [classes[i], ...row.map(String)])]),
  ];
}

function eventTable(events: EventReport[]): string[] {
  return table([
    [
      'class',
      'events',
      'hits',
      'missed',
      'false alarms',
      'on clips without one',
      'recall',
      'precision',
      'onset error mean/max s',
      'false alarms/h',
    ],
    ...events.map((e) => [
      e.label,
      String(e.events),
      String(e.hits),
      String(e.missed),
      String(e.falseAlarms),
      `${e.falseAlarmsEventFree} on ${e.eventFreeClips} clips`,
      f3(e.recall),
      f3(e.precision),
      `${f2(e.onsetErrorMeanS)} / ${f2(e.onsetErrorMaxS)}`,
      e.falseAlarmsPerHour === null ? '-' : e.falseAlarmsPerHour.toFixed(1),
    ]),
  ]);
}

const f3 = (x: number | null) => (x === null ? '-' : x.toFixed(3));
const f2 = (x: number | null) => (x === null ? '-' : x.toFixed(2));
const f1 = (x: number | null) => (x === null ? '-' : x.toFixed(1));

/** Left-aligned first column, the figures right-aligned. */
function table(rows: string[][]): string[] {
  return textTable(rows, { align: ['left', 'right'] });
}
