import { h } from './dom.js';

/** One colour per class, by the class's position in the model's list. */
const PALETTE = Object.freeze(['#d7263d', '#2e933c', '#1b98e0', '#f4a259', '#8e44ad', '#16a085', '#c0392b', '#7f8c8d']);
const UNKNOWN = '#555';

/** The colour of `label` among `classes` (grey for a label the model does not list). */
export function colorFor(label, classes) {
  const i = classes.indexOf(label);
  return i < 0 ? UNKNOWN : PALETTE[i % PALETTE.length];
}

/** A legend: a swatch and the name of each class. */
export function legend(classes) {
  return h(
    'ul',
    { class: 'legend', 'data-testid': 'legend', 'aria-label': 'Label colours' },
    classes.map((c) =>
      h('li', { 'data-label': c }, h('span', { class: 'swatch', style: `background:${colorFor(c, classes)}`, 'aria-hidden': 'true' }), c),
    ),
  );
}
