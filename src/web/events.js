import { errorView, h, replace } from './dom.js';
import {
  createReviewButtons,
  eventConfidence,
  eventDuration,
  REVIEW_KEYS,
  REVIEW_TEXT,
  reviewBadge,
  reviewKeysHint,
  snapshotImage,
  typingOrShortcut,
} from './event-parts.js';
import { mountAdaptPanel } from './adapt-panel.js';
import { when } from './format.js';

const PAGE = 50;
const DAY_MS = 86_400_000;

/**
 * The events page: every camera's events, newest first, filtered by camera, behaviour, review
 * state and day, paged with the server's cursor ("More"). `event` messages of every camera
 * (the hub's events subscription) update rows in place and put new events at the top.
 * Keys on a focused row review it (c, f, u).
 */
export function mountEvents(root, ctx) {
  const { api, hub } = ctx;
  /** id → { event, row, buttons } of the rows shown. */
  const rows = new Map();
  let next = null;
  let destroyed = false;
  let loading;

  const select = (id, label, testid) =>
    h('select', { id, 'data-testid': testid, onchange: () => refresh() }, h('option', { value: '' }, label));
  const camera = select('events-camera', 'All cameras', 'events-camera');
  // With one camera picked: its models, their versions and "Improve this camera's model".
  const adaptSlot = h('div', { class: 'adapt-slot' });
  let adaptPanel;
  camera.addEventListener('change', () => showAdaptPanel());
  const label = select('events-label', 'All behaviours', 'events-label');
  const review = select('events-review', 'Any review', 'events-review');
  for (const [state, text] of Object.entries(REVIEW_TEXT)) review.append(h('option', { value: state }, text));
  const day = h('input', { type: 'date', id: 'events-day', 'data-testid': 'events-day', onchange: () => refresh() });
  const field = (input, text) => h('span', { class: 'field' }, h('label', { for: input.id }, text), input);

  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'events', 'data-testid': 'event-list' },
    h('caption', { class: 'sr-only' }, 'Events, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Snapshot', 'Behaviour', 'Camera', 'Model', 'Time', 'Duration', 'Peak / mean', 'Review'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    tbody,
  );
  const listError = h('div');
  const more = h('button', { type: 'button', 'data-testid': 'events-more', hidden: true, onclick: () => load(true) }, 'More');

  replace(
    root,
    h(
      'section',
      { class: 'events-page' },
      h('h2', {}, 'Events'),
      h(
        'div',
        { class: 'filters', role: 'search', 'aria-label': 'Filter events' },
        field(camera, 'Camera'),
        field(label, 'Behaviour'),
        field(review, 'Review'),
        field(day, 'Day'),
      ),
      adaptSlot,
      h('p', {}, reviewKeysHint('Keys on a focused row: ')),
      listError,
      table,
      more,
    ),
  );

  const release = hub.events();
  const offs = [hub.on('event', onEvent), hub.on('open', () => refresh())];
  document.addEventListener('keydown', onKey);
  fillFilters();
  refresh();

  async function fillFilters() {
    try {
      const [cameras, models] = await Promise.all([api.cameras(), ctx.models()]);
      if (destroyed) return;
      for (const c of cameras) camera.append(h('option', { value: c.id }, c.name === c.id ? c.id : `${c.name} (${c.id})`));
      const labels = [...new Set(models.flatMap((m) => m.alerts ?? m.classes))];
      for (const l of labels) label.append(h('option', { value: l }, l));
    } catch (e) {
      if (!destroyed) replace(listError, errorView(e, 'Cannot load the filters'));
    }
  }

  /** The query of the filters; a day is the local calendar day. */
  function filters() {
    const q = { camera: camera.value, label: label.value, review: review.value };
    if (day.value) {
      const [y, m, d] = day.value.split('-').map(Number);
      q.after = new Date(y, m - 1, d).getTime();
      q.before = q.after + DAY_MS;
    }
    return q;
  }

  function matches(e) {
    const q = filters();
    return (
      (!q.camera || e.cameraId === q.camera) &&
      (!q.label || e.label === q.label) &&
      (!q.review || e.review.state === q.review) &&
      (q.after === undefined || (e.startedAtMs >= q.after && e.startedAtMs < q.before))
    );
  }

  function refresh() {
    rows.clear();
    next = null;
    return load(false);
  }

  async function load(append) {
    const q = { ...filters(), limit: PAGE, cursor: append ? next : undefined };
    const mine = (loading = {});
    more.disabled = true;
    try {
      const page = await api.events(q);
      // A newer load (the filters changed meanwhile) wins.
      if (destroyed || loading !== mine) return;
      replace(listError);
      if (!append) replace(tbody);
      for (const e of page.events) if (!rows.has(e.id)) tbody.append(addRow(e));
      next = page.next;
      more.hidden = next === null;
      renderEmpty();
    } catch (e) {
      if (!destroyed && loading === mine) replace(listError, errorView(e, 'Cannot load events'));
    } finally {
      more.disabled = false;
    }
  }

  function renderEmpty() {
    const empty = tbody.querySelector('.empty');
    if (rows.size > 0) empty?.remove();
    else if (!empty) tbody.append(h('tr', { class: 'empty' }, h('td', { colspan: 8, class: 'muted' }, 'No events.')));
  }

  function addRow(e) {
    const row = h('tr', { 'data-testid': 'event-row', 'data-event-id': e.id });
    const buttons = createReviewButtons({ api, event: e, onSaved: (saved) => update(saved) });
    const entry = { event: e, row, buttons };
    rows.set(e.id, entry);
    fillRow(entry);
    return row;
  }

  function fillRow({ event: e, row, buttons }) {
    row.dataset.state = e.state;
    row.dataset.review = e.review.state;
    const href = `#/events/${encodeURIComponent(e.id)}`;
    replace(
      row,
      h('td', { class: 'thumb' }, h('a', { href, tabindex: '-1', 'aria-hidden': 'true' }, snapshotImage(api, e))),
      h(
        'td',
        {},
        h('a', { href, 'data-testid': 'event-link' }, e.label),
        e.state === 'active' ? h('span', { class: 'badge live' }, ' live') : '',
      ),
      h('td', { 'data-testid': 'event-camera' }, e.cameraId),
      h('td', {}, e.model),
      h('td', {}, when(e.startedAtMs)),
      h('td', {}, eventDuration(e)),
      h('td', {}, eventConfidence(e)),
      h('td', { class: 'review-cell' }, reviewBadge(e.review.state), ' ', buttons.element),
    );
  }

  /** A changed event: its row again, keeping the snapshot element unless the snapshot changed. */
  function update(e) {
    const entry = rows.get(e.id);
    if (!entry) return;
    const before = entry.event;
    entry.event = e;
    entry.buttons.set(e);
    if (before.snapshot === e.snapshot && before.peak === e.peak) {
      const thumb = entry.row.querySelector('.thumb a').firstChild;
      fillRow(entry);
      entry.row.querySelector('.thumb a').replaceChildren(thumb);
    } else fillRow(entry);
  }

  function showAdaptPanel() {
    adaptPanel?.destroy();
    adaptPanel = camera.value ? mountAdaptPanel(adaptSlot, ctx, camera.value) : undefined;
    if (!adaptPanel) replace(adaptSlot);
  }

  function onEvent(msg) {
    const e = msg.event;
    // A review changes the count of reviews since the last adaptation.
    if (msg.change === 'review' && adaptPanel && e.cameraId === camera.value) adaptPanel.reload();
    if (rows.has(e.id)) return update(e);
    // Only a start is new; an event that started before the list loaded is in it (or on a later page).
    if (msg.change !== 'start' || !matches(e)) return;
    tbody.prepend(addRow(e));
    renderEmpty();
  }

  function onKey(e) {
    const state = REVIEW_KEYS[e.key];
    if (!state || typingOrShortcut(e)) return;
    const row = document.activeElement?.closest?.('[data-event-id]');
    const entry = row && rows.get(row.dataset.eventId);
    if (!entry) return;
    e.preventDefault();
    entry.buttons.review(state);
  }

  return {
    destroy() {
      destroyed = true;
      adaptPanel?.destroy();
      document.removeEventListener('keydown', onKey);
      offs.forEach((off) => off());
      release();
    },
  };
}
