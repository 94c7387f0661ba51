/**
 * Event metrics for one behaviour: did the timeline say "falling" when a fall began, how
 * late, and how often did it say so when nothing happened.
 */

/** One clip's events of one behaviour: onsets in ms, and how long the clip is. */
export interface ClipEvents {
  /** Names the clip in {@link EventReport.misses} and {@link EventReport.alarms}. */
  clip?: string;
  /** Onsets of the true events (spans of the behaviour). */
  truth: readonly number[];
  /** Starts of the predicted timeline segments of the behaviour. */
  predicted: readonly number[];
  /** Length of video the predictions cover, for false alarms per hour. */
  durationMs: number;
}

export interface EventMatch {
  /** [true index, predicted index] pairs, one-to-one. */
  pairs: [number, number][];
  /** True events no prediction matched. */
  missed: number[];
  /** Predictions that matched no true event. */
  falseAlarms: number[];
}

/**
 * Matches predicted onsets to true onsets one-to-one: a pair is allowed when they are at most
 * `toleranceMs` apart, and the closest allowed pairs are taken first (ties: earlier true
 * event, then earlier prediction). A prediction near two true events matches one of them;
 * the other is missed unless another prediction is near it.
 */
export function matchEvents(truth: readonly number[], predicted: readonly number[], toleranceMs: number): EventMatch {
  const candidates: { i: number; j: number; d: number }[] = [];
  truth.forEach((t, i) =>
    predicted.forEach((p, j) => {
      const d = Math.abs(p - t);
      // A hair of slack so 1.0 s away counts at a 1.0 s tolerance despite float noise.
      if (d <= toleranceMs + 1e-6) candidates.push({ i, j, d });
    }),
  );
  candidates.sort((a, b) => a.d - b.d || a.i - b.i || a.j - b.j);
  const usedT = new Set<number>();
  const usedP = new Set<number>();
  const pairs: [number, number][] = [];
  for (const { i, j } of candidates) {
    if (usedT.has(i) || usedP.has(j)) continue;
    usedT.add(i);
    usedP.add(j);
    pairs.push([i, j]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  return {
    pairs,
    missed: truth.map((_, i) => i).filter((i) => !usedT.has(i)),
    falseAlarms: predicted.map((_, j) => j).filter((j) => !usedP.has(j)),
  };
}

export interface EventReport {
  label: string;
  /** True events. */
  events: number;
  /** Predicted segments. */
  predicted: number;
  hits: number;
  missed: number;
  falseAlarms: number;
  /**
   * False alarms in clips with no true event of this behaviour (for falls: on the
   * daily-activity clips), the ones a carer would get on a day when nothing happened.
   */
  falseAlarmsEventFree: number;
  /** Clips with no true event of this behaviour. */
  eventFreeClips: number;
  /** hits / events; null without true events. */
  recall: number | null;
  /** hits / predicted; null without predictions. */
  precision: number | null;
  /** |predicted start − true onset| over hits, seconds; null without hits. */
  onsetErrorMeanS: number | null;
  onsetErrorMaxS: number | null;
  /** Mean signed (predicted − true) onset over hits, seconds: > 0 means late. */
  onsetDelayMeanS: number | null;
  /** Hours of video the predictions cover. */
  hours: number;
  falseAlarmsPerHour: number | null;
  /**
   * Each missed event of a named clip: its onset and the nearest predicted start in that
   * clip (null: none), so a late detection reads as one. In clip order.
   */
  misses: { clip: string; onsetS: number; nearestS: number | null }[];
  /** Each false alarm of a named clip: where its segment starts. */
  alarms: { clip: string; startS: number }[];
}

/**
 * Event metrics of one behaviour over many clips (matched clip by clip, see
 * {@link matchEvents}).
 * @param [toleranceS=1] how far a predicted start may be from the true onset, in seconds
 */
export function eventReport(label: string, clips: readonly ClipEvents[], toleranceS = 1): EventReport {
  let events = 0;
  let predicted = 0;
  let missed = 0;
  let falseAlarms = 0;
  let falseAlarmsEventFree = 0;
  let eventFreeClips = 0;
  let durationMs = 0;
  const errors: number[] = [];
  const misses: EventReport['misses'] = [];
  const alarms: EventReport['alarms'] = [];
  for (const c of clips) {
    const m = matchEvents(c.truth, c.predicted, toleranceS * 1000);
    if (c.clip !== undefined) {
      for (const i of m.missed) {
        const nearest = c.predicted.reduce<number | null>(
          (b, p) => (b === null || Math.abs(p - c.truth[i]) < Math.abs(b - c.truth[i]) ? p : b),
          null,
        );
        misses.push({ clip: c.clip, onsetS: c.truth[i] / 1000, nearestS: nearest === null ? null : nearest / 1000 });
      }
      for (const j of m.falseAlarms) alarms.push({ clip: c.clip, startS: c.predicted[j] / 1000 });
    }
    events += c.truth.length;
    predicted += c.predicted.length;
    missed += m.missed.length;
    falseAlarms += m.falseAlarms.length;
    if (c.truth.length === 0) {
      falseAlarmsEventFree += m.falseAlarms.length;
      eventFreeClips++;
    }
    durationMs += c.durationMs;
    for (const [i, j] of m.pairs) errors.push((c.predicted[j] - c.truth[i]) / 1000);
  }
  const hits = errors.length;
  const abs = errors.map(Math.abs);
  const hours = durationMs / 3_600_000;
  return {
    label,
    events,
    predicted,
    hits,
    missed,
    falseAlarms,
    falseAlarmsEventFree,
    eventFreeClips,
    recall: events === 0 ? null : hits / events,
    precision: predicted === 0 ? null : hits / predicted,
    onsetErrorMeanS: hits === 0 ? null : abs.reduce((a, b) => a + b, 0) / hits,
    onsetErrorMaxS: hits === 0 ? null : Math.max(...abs),
    onsetDelayMeanS: hits === 0 ? null : errors.reduce((a, b) => a + b, 0) / hits,
    hours,
    falseAlarmsPerHour: hours === 0 ? null : falseAlarms / hours,
    misses,
    alarms,
  };
}

/**
 * One line per missed event and false alarm of a report, e.g. `missed in clip7 at 1.50 s
 * (nearest segment starts at 2.64 s)`, for people to read.
 * @param [name] how a clip name is written (e.g. as code in Markdown)
 */
export function eventFailureLines(e: Partial<Pick<EventReport, 'misses' | 'alarms'>>, name = (clip: string) => clip): string[] {
  return [
    ...(e.misses ?? []).map(
      (m) =>
        `missed in ${name(m.clip)} at ${m.onsetS.toFixed(2)} s` +
        (m.nearestS === null ? ' (no segment of it in the clip)' : ` (nearest segment starts at ${m.nearestS.toFixed(2)} s)`),
    ),
    ...(e.alarms ?? []).map((a) => `false alarm in ${name(a.clip)} at ${a.startS.toFixed(2)} s`),
  ];
}

/**
 * The true events of a behaviour in one clip: its spans, with overlapping or touching spans
 * of the same label merged into one event (one onset).
 * @returns onsets in ms, ascending
 */
export function eventOnsets(spans: readonly { label: string; startS: number; endS: number }[], label: string): number[] {
  const own = spans.filter((s) => s.label === label).sort((a, b) => a.startS - b.startS);
  const onsets: number[] = [];
  let end = -Infinity;
  for (const s of own) {
    if (s.startS > end) onsets.push(s.startS * 1000);
    end = Math.max(end, s.endS);
  }
  return onsets;
}
