import { deltaLags } from '../model/input/feature-deltas.js';
import { INPUT_NAMES, inputGeometry } from '../model/input/frame-encoder.js';
import { alertLabels, type ModelManifest } from '../model/folder/manifest.js';
import type { ClipTrainingRecord, SpanTrainingRecord } from '../model/folder/training-record.js';
import { eventFailureLines } from './event-metrics.js';

type SpanCv = NonNullable<SpanTrainingRecord['crossValidation']>;
type PerClass = SpanCv['pooled']['perClass'];

/** Per class, the clips where its events were missed or falsely raised (cards from before these were kept have none). */
function failureLines(events: SpanCv['events']): string[] {
  const most = 10;
  return events.flatMap((e) => {
    const items = eventFailureLines(e, (clip) => `\`${clip}\``);
    if (items.length === 0) return [];
    const more = items.length > most ? [`- … and ${items.length - most} more`] : [];
    return ['', `\`${e.label}\`, where it went wrong in the held-out folds:`, '', ...items.slice(0, most).map((x) => `- ${x}`), ...more];
  });
}

/** `sigmoid RNN, 48 hidden units (3 heads of 16, logits averaged)`, for cards and listings. */
export function headSummary(m: ModelManifest): string {
  const h = m.training.hyperparameters ?? {};
  const members = h.ensemble !== undefined && h.ensemble > 1 ? ` (${h.ensemble} heads of ${String(h.hidden)}, logits averaged)` : '';
  return `sigmoid RNN, ${m.head.hidden} hidden units${members}`;
}

/** Title, description and what the model is: the same head for every card. */
function aboutLines(m: ModelManifest, classesNote: string): string[] {
  return [
    `# ${m.name} ${m.version}`,
    '',
    m.description,
    '',
    `- Classes (${classesNote}): ${m.classes.map((c) => `\`${c}\``).join(', ')}`,
    `- Alerts (the classes that make events): ${alertLabels(m)
      .map((c) => `\`${c}\``)
      .join(', ')}`,
    `- Input: ${m.extractor} features of ${INPUT_NAMES[m.input]}${deltaText(m.deltas)}, ${inputGeometry(m.input, m.inputSize)}, sampled at ${m.fps} fps`,
    `- Head: ${headSummary(m)}, softmax over ${m.classes.length} classes`,
    `- Smoothing defaults: ${m.smoothing.windowMs} ms window, ${m.smoothing.minHoldMs} ms hold` +
      (m.smoothing.backdate ? ', segments dated from where their label began, the first label held like any other' : ''),
    '',
    '## Data',
    '',
  ];
}

function perClassLines(perClass: PerClass, unit: string): string[] {
  return [
    `| class | precision | recall | F1 | ${unit} |`,
    '|---|---|---|---|---|',
    ...perClass.map((c) => `| ${c.label} | ${c.precision.toFixed(3)} | ${c.recall.toFixed(3)} | ${c.f1.toFixed(3)} | ${c.support} |`),
  ];
}

/** The training record and how to reproduce it. */
function trainingLines(m: ModelManifest, earlyStopping: string): string[] {
  const t = m.training;
  const { final, perFrameCost: cost } = t;
  return [
    '',
    '## Training',
    '',
    ...(final
      ? [
          `- Final head: ${final.trainClips} clips, early stopping on ${final.earlyStoppingClips} ${earlyStopping}, ` +
            `best epoch ${final.bestEpoch} of ${final.epochs}`,
        ]
      : []),
    `- Hyperparameters: \`${JSON.stringify(t.hyperparameters)}\``,
    `- Training time: ${t.trainingSeconds} s (wall clock, including the features the cache did not have), ${t.trainedAt}`,
    ...(cost ? [`- CNN cost when trained: ${cost.cnnMsPerFrame.toFixed(1)} ms/frame on ${cost.backend} (batch ${cost.batch})`] : []),
    `- Reproduce: \`${t.command}\``,
    '',
    '## Limits',
    '',
  ];
}

/** The model card, `models/<name>/README.md`, rendered from the manifest's training record. */
export function renderModelCard(m: ModelManifest): string {
  const t = m.training;
  const card = t.kind === 'spans' ? renderSpanModelCard(m, t) : renderClipModelCard(m, t);
  return m.adaptation ? `${card.trimEnd()}\n\n${adaptationLines(m.adaptation).join('\n')}\n` : card;
}

/** A model adapted to a camera: from what, on which reviews, and the decision with its figures. */
function adaptationLines(a: NonNullable<ModelManifest['adaptation']>): string[] {
  const row = (what: string, s: typeof a.before) =>
    `| ${what} | ${s.accuracy.toFixed(3)} | ${s.frameAccuracy.toFixed(3)} | ${s.falseAlarms} | ${s.missed} |`;
  return [
    '## Adapted',
    '',
    `Adapted from \`${a.from}\`${a.camera !== undefined ? ` to camera \`${a.camera}\`` : ''} on ${a.adaptedAt} in ${a.seconds} s, ` +
      `from ${a.reviews.used} reviews (${Object.entries(a.reviews.byLabel)
        .map(([c, n]) => `${n} \`${c}\``)
        .join(', ')}; ${a.reviews.skipped} skipped) ` +
      `with ${a.replaySequences} replayed sequences of the base's data, ${a.epochs} epochs; judged by ${a.folds}-fold cross-validation over the reviews.`,
    '',
    `Rule: ${a.rule}. Decision: **${a.accepted ? 'accepted' : 'refused'}**.`,
    '',
    '| reviews not trained on | accuracy | frame accuracy | false alarms | missed |',
    '|---|---|---|---|---|',
    row(`before (${a.from})`, a.before),
    row('after (pooled over the folds)', a.after),
    ...(a.replayCheck
      ? [
          '',
          `Held-back replay (${a.replayCheck.sequences} sequences of the base's data), frame accuracy: ` +
            `${a.replayCheck.before.toFixed(3)} before, ${a.replayCheck.after.toFixed(3)} after.`,
        ]
      : []),
  ];
}

/** The card of a model trained on clips in class folders. */
function renderClipModelCard(m: ModelManifest, t: ClipTrainingRecord): string {
  const cv = t.crossValidation;
  const lines = [
    ...aboutLines(m, 'output order'),
    `${t.dataset}: ${Object.entries(t.clips ?? {})
      .map(([c, n]) => `${n} \`${c}\` clips`)
      .join(', ')}, in ${t.groups} source groups.`,
    '',
    '## Evaluation',
    '',
  ];
  if (cv) {
    lines.push(
      `Grouped ${cv.folds}-fold cross-validation (groups from \`${cv.grouping}\`: clips of one source video stay in one fold; ` +
        'early stopping on a grouped split of the training folds only). ' +
        'Clip accuracy = the class with the highest mean per-frame probability.',
      '',
      `- Clip accuracy: **${cv.accuracyMean.toFixed(3)} ± ${cv.accuracyStd.toFixed(3)}** (folds: ${cv.foldAccuracies.map((a) => a.toFixed(3)).join(', ')})`,
      '',
      ...perClassLines(cv.pooled.perClass, 'clips'),
      '',
      `Confusion (rows true, columns predicted, ${m.classes.join(' / ')}): ${cv.pooled.confusion.map((r) => `[${r.join(', ')}]`).join(' ')}`,
      ...(cv.timeline
        ? [
            '',
            'Timeline (the smoothed labels `vigil label` prints, on the held-out clips, with the smoothing above): ' +
              `**${cv.timeline.frameAccuracy.toFixed(3)}** of frames carry their clip's class, ` +
              `in ${cv.timeline.segmentsPerClip.toFixed(2)} segments a clip (1 at best: a clip has one class).`,
          ]
        : []),
    );
  } else {
    lines.push('No cross-validation was run.');
  }
  lines.push(
    ...trainingLines(m, 'held-out clips (grouped)'),
    'Trained on short CCTV-style clips (about 2 s each). ' +
      'The figure above is on held-out source videos of the same dataset; ' +
      'footage unlike it (other cameras, crowds, sports) will do worse. ' +
      'A label is a cue for a person to look, not a verdict.',
    '',
  );
  return lines.join('\n');
}

const f3 = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(3));

/** The card of a model trained on time spans (`training.kind = 'spans'`). */
function renderSpanModelCard(m: ModelManifest, t: SpanTrainingRecord): string {
  const cv = t.crossValidation;
  const frames = t.frames ?? {};
  const spans = t.spans ?? {};
  const lines = [
    ...aboutLines(m, 'output order, and priority where spans overlap'),
    `${t.dataset}${t.manifest ? ` (manifest \`${t.manifest}\`)` : ''}: ${t.clips} clips in ${t.groups} groups, labelled by time spans. ` +
      `A frame takes the class of the span covering it (class order decides overlaps); frames in no span are left out of the loss and of the frame figures.`,
    '',
    '| class | spans | labelled frames |',
    '|---|---|---|',
    ...m.classes.map((c) => `| ${c} | ${spans[c] ?? 0} | ${frames[c] ?? 0} |`),
    '',
    '## Evaluation',
    '',
  ];
  if (cv) {
    lines.push(
      `Grouped ${cv.folds}-fold cross-validation (groups: ${cv.grouping}; early stopping on a split of the training folds only). ` +
        `Frame accuracy is the smoothed timeline's label against the spans (raw per-frame argmax: ${f3(cv.rawFrameAccuracy)}).`,
      '',
      `- Frame accuracy: **${f3(cv.accuracyMean)} ± ${f3(cv.accuracyStd)}** (folds: ${cv.foldAccuracies.map(f3).join(', ')})`,
      '',
      ...perClassLines(cv.pooled.perClass, 'frames'),
      '',
      `Confusion over frames (rows true, columns predicted, ${m.classes.join(' / ')}): ${cv.pooled.confusion.map((r) => `[${r.join(', ')}]`).join(' ')}`,
      '',
      `Events (a span is an event; a hit is a timeline segment of its class starting within ${cv.toleranceS} s of its onset), pooled over the held-out folds:`,
      '',
      '| class | events | hits | missed | false alarms (on the clips without one) | recall | precision | onset error mean / max (s) | false alarms / h |',
      '|---|---|---|---|---|---|---|---|---|',
      ...cv.events.map(
        (e) =>
          `| ${e.label} | ${e.events} | ${e.hits} | ${e.missed} | ` +
          `${e.falseAlarms} (${e.falseAlarmsEventFree ?? '–'} on ${e.eventFreeClips ?? '–'}) | ` +
          `${f3(e.recall)} | ${f3(e.precision)} | ${f3(e.onsetErrorMeanS)} / ${f3(e.onsetErrorMaxS)} | ` +
          `${e.falseAlarmsPerHour === null ? '–' : e.falseAlarmsPerHour.toFixed(1)} |`,
      ),
      ...failureLines(cv.events),
    );
  } else {
    lines.push('No cross-validation was run.');
  }
  lines.push(
    ...trainingLines(m, 'held-out clips'),
    `Trained on ${t.clips} clips from ${t.groups} groups: the cross-validated figures carry a wide margin, ` +
      'and scenes, cameras and people unlike these will do worse. A label is a cue for a person to look, not a verdict.',
    '',
  );
  return lines.join('\n');
}

function deltaText(deltas: ModelManifest['deltas']): string {
  const lags = deltaLags(deltas);
  return lags.length === 0 ? '' : ` and their change over ${lags.map((k) => `${k} frame${k === 1 ? '' : 's'}`).join(' and ')}`;
}
