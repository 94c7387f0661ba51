import { colorFor, legend } from './colors.js';
import { h } from './dom.js';

/**
 * A rolling strip of the last minute of a live camera: one cell per second of stream time,
 * coloured by the stable label of the newest frame in that second, then by the segments as
 * they arrive: a model that backdates its segments confirms a label up to a hold after it
 * began, and its segment repaints the seconds since then. The newest second is on the
 * right. Empty cells are seconds with no label (not yet, or frames dropped).
 * @param o.classes the model's classes (colours, legend)
 * @param [o.windowMs=60000] @param [o.cellMs=1000]
 * @returns `{ element, push(tMs, label, confidence), paint(segment), reset() }`
 */
export function createTimelineStrip({ classes, windowMs = 60_000, cellMs = 1000 }) {
  const n = Math.round(windowMs / cellMs);
  const cells = Array.from({ length: n }, () => h('div', { class: 'cell', 'data-testid': 'strip-cell' }));
  const strip = h(
    'div',
    { class: 'strip', role: 'img', 'data-testid': 'timeline-strip', 'aria-label': 'Labels over the last minute: no labels yet' },
    cells,
  );
  const element = h(
    'figure',
    { class: 'strip-box' },
    strip,
    h('figcaption', {}, h('span', { class: 'strip-axis' }, `−${Math.round(windowMs / 1000)} s`, h('span', {}, 'now')), legend(classes)),
  );
  const buckets = new Map();
  let newest = -Infinity;

  function render() {
    const counts = {};
    cells.forEach((cell, i) => {
      const b = newest - (n - 1) + i;
      const got = buckets.get(b);
      if (got) {
        cell.dataset.label = got.label;
        cell.style.background = colorFor(got.label, classes);
        cell.title = `${((b * cellMs) / 1000).toFixed(0)} s: ${got.label} (${got.confidence.toFixed(2)})`;
        counts[got.label] = (counts[got.label] ?? 0) + 1;
      } else {
        delete cell.dataset.label;
        cell.style.background = '';
        cell.removeAttribute('title');
      }
    });
    const summary = Object.entries(counts)
      .map(([l, c]) => `${l} ${c} s`)
      .join(', ');
    strip.setAttribute('aria-label', `Labels over the last minute: ${summary || 'no labels yet'}`);
  }

  function set(b, label, confidence) {
    buckets.set(b, { label, confidence });
    if (b > newest) newest = b;
  }

  return {
    element,
    push(tMs, label, confidence) {
      set(Math.floor(tMs / cellMs), label, confidence);
      for (const k of buckets.keys()) if (k <= newest - n) buckets.delete(k);
      render();
    },
    /** A segment event's `{ label, startMs, endMs, confidence }`: its seconds take its label. */
    paint({ label, startMs, endMs, confidence }) {
      const last = Math.floor(endMs / cellMs);
      for (let b = Math.max(Math.floor(startMs / cellMs), last - n + 1); b <= last; b++) set(b, label, confidence);
      for (const k of buckets.keys()) if (k <= newest - n) buckets.delete(k);
      render();
    },
    reset() {
      buckets.clear();
      newest = -Infinity;
      render();
    },
  };
}
