import { colorFor, legend } from './colors.js';
import { h } from './dom.js';
import { prob } from './format.js';

/**
 * A clip's segments as a row of buttons, each as wide as its share of the clip and coloured
 * by its label; a click seeks. A playhead shows the video's time.
 * @param o.segments timeline segments `{ label, startMs, endMs, confidence }`
 * @param o.durationMs the clip's length (else the last segment's end)
 * @param o.classes the model's classes (colours, legend)
 * @param o.onSeek called with the clicked segment's start in ms
 * @param [o.title] names the bar above it (the model, when a clip has a bar per model)
 * @returns `{ element, setTime(ms) }`
 */
export function createSegmentBar({ segments, durationMs, classes, onSeek, title }) {
  const total = Math.max(1, durationMs ?? 0, ...segments.map((s) => s.endMs));
  const pct = (ms) => `${((ms / total) * 100).toFixed(3)}%`;
  const blocks = segments.map((s, i) => {
    const text = `${s.label} ${(s.startMs / 1000).toFixed(1)}–${(s.endMs / 1000).toFixed(1)} s (${prob(s.confidence)})`;
    return h(
      'button',
      {
        type: 'button',
        class: 'segment',
        'data-testid': 'segment',
        'data-index': i,
        'data-label': s.label,
        'data-start-ms': s.startMs,
        'data-end-ms': s.endMs,
        style: `left:${pct(s.startMs)};width:${pct(s.endMs - s.startMs)};background:${colorFor(s.label, classes)}`,
        title: text,
        'aria-label': `Play from ${text}`,
        onclick: () => onSeek(s.startMs),
      },
      h('span', { class: 'segment-text', 'aria-hidden': 'true' }, s.label),
    );
  });
  const playhead = h('div', { class: 'playhead', 'aria-hidden': 'true' });
  const bar = h(
    'div',
    {
      class: 'segment-bar',
      role: 'group',
      'aria-label': `Segments${title ? ` of ${title}` : ''}: click one to play from its start`,
      'data-testid': 'segment-bar',
    },
    blocks,
    playhead,
  );
  const element = h('div', { class: 'segment-box' }, title ? h('p', { class: 'segment-title' }, title) : null, bar, legend(classes));
  let current = -1;

  return {
    element,
    setTime(ms) {
      playhead.style.left = pct(Math.min(total, Math.max(0, ms)));
      const i = segments.findIndex((s) => ms >= s.startMs && ms < s.endMs);
      if (i === current) return;
      blocks[current]?.removeAttribute('aria-current');
      blocks[i]?.setAttribute('aria-current', 'true');
      current = i;
    },
  };
}
