import { mountClipView } from './clip-view.js';
import { errorView, h, replace } from './dom.js';
import {
  createReviewButtons,
  eventConfidence,
  eventDuration,
  REVIEW_KEYS,
  reviewBadge,
  reviewKeysHint,
  snapshotImage,
  typingOrShortcut,
} from './event-parts.js';
import { duration, when } from './format.js';

/** How much of the recording before the event's start is played: what led to it. */
const LEAD_MS = 2000;

/**
 * One event: what, where and when, Confirm / False alarm (and keys c, f, u) with an optional
 * note saved with the review, Delete (a second click confirms), and its clip
 * played from a little before its start with the label track (the clip view), or its snapshot
 * large when no recording covers it. Its `event` messages keep it current; a recording that
 * lands later replaces the snapshot with the clip.
 */
export function mountEventView(root, ctx, id) {
  const { api, hub } = ctx;
  let destroyed = false;
  let event;
  let buttons;
  let clip;
  const info = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const reviewLine = h('p', { class: 'review-line' });
  // Outside `info`, which is redrawn on every update of an active event: typing is not lost.
  const note = h('textarea', {
    class: 'review-note',
    rows: 2,
    maxlength: 1000,
    placeholder: 'Note (optional), saved with the review',
    'aria-label': 'Review note',
    'data-testid': 'review-note',
  });
  const deleteMessage = h('span', { role: 'status' });
  const deleteButton = h('button', { type: 'button', class: 'danger', 'data-testid': 'event-delete', onclick: onDelete }, 'Delete event');
  const tools = h(
    'div',
    { class: 'event-tools', hidden: true },
    reviewLine,
    h(
      'p',
      {},
      note,
      ' ',
      h('button', { type: 'button', 'data-testid': 'review-note-save', onclick: () => buttons?.review(event.review.state) }, 'Save note'),
    ),
    h('p', {}, deleteButton, ' ', deleteMessage),
  );
  const media = h('div', { class: 'event-media' });
  const body = h('div', { 'data-testid': 'event-view', 'data-event-id': id }, info, tools, media);
  replace(
    root,
    h('section', { class: 'event-page' }, h('p', {}, h('a', { href: '#/events', 'data-testid': 'back-to-events' }, '← All events')), body),
  );

  const release = hub.events();
  const offs = [
    hub.on('event', (msg) => {
      if (msg.event.id === id && event) show(msg.event);
    }),
    hub.on('open', () => load()),
  ];
  document.addEventListener('keydown', onKey);
  load();

  async function load() {
    try {
      const got = await api.event(id);
      if (!destroyed) show(got);
    } catch (e) {
      if (!destroyed) replace(info, errorView(e, 'Cannot load the event'));
    }
  }

  function show(e, saved = false) {
    const before = event;
    event = e;
    body.dataset.review = e.review.state;
    body.dataset.state = e.state;
    if (!buttons) {
      buttons = createReviewButtons({ api, event: e, note: () => note.value, onSaved: (saved) => show(saved, true) });
      replace(reviewLine, buttons.element, ' ', reviewKeysHint('Keys: '));
      tools.hidden = false;
    } else buttons.set(e);
    // The field shows the saved note when the page opens and after a save, never over typing.
    if (!before || saved) note.value = e.review.note ?? '';
    const row = (k, v, testid) => [h('dt', {}, k), h('dd', { 'data-testid': testid }, v)];
    replace(
      info,
      h('h2', { 'data-testid': 'event-title' }, `${e.label} on ${e.cameraId}`),
      h(
        'dl',
        { class: 'details' },
        row('Camera', e.cameraId, 'event-camera'),
        row('Behaviour', e.label),
        row('Model', e.model),
        row('Started', when(e.startedAtMs)),
        row('Duration', `${eventDuration(e)}${e.state === 'active' ? ' so far' : ''}`),
        row('Stream time', `${duration(e.startMs)} – ${duration(e.endMs)}`),
        row('Peak / mean', eventConfidence(e)),
        row('State', e.state),
        row('Review', [
          reviewBadge(e.review.state),
          e.review.by ? ` by ${e.review.by}` : '',
          e.review.atMs ? `, ${when(e.review.atMs)}` : '',
        ]),
        e.review.note ? row('Note', h('span', { 'data-testid': 'event-note' }, e.review.note)) : null,
      ),
    );
    showMedia(before);
  }

  function showMedia(before) {
    if (event.clipId) {
      if (clip?.clipId === event.clipId) return;
      clip?.view.destroy();
      const slot = h('div', { 'data-testid': 'event-clip' });
      replace(media, slot);
      const startedAtMs = event.startedAtMs;
      clip = {
        clipId: event.clipId,
        view: mountClipView(slot, ctx, event.clipId, {
          embedded: true,
          autoplay: true,
          // The clip's own time of the event's start, less the lead; a recording's startedAtMs is the wall clock of its first frame.
          startAtMs: (c) => Math.max(0, startedAtMs - (c.startedAtMs ?? startedAtMs) - LEAD_MS),
        }),
      };
      return;
    }
    // The snapshot is replaced at each new peak while the event goes on.
    if (before && before.snapshot === event.snapshot && before.peak === event.peak && media.firstChild) return;
    replace(media, snapshotImage(api, event, { large: true }));
  }

  async function onDelete() {
    if (deleteButton.dataset.confirm !== 'yes') {
      deleteButton.dataset.confirm = 'yes';
      deleteButton.textContent = 'Really delete this event?';
      return;
    }
    deleteButton.disabled = true;
    try {
      await api.deleteEvent(id);
      location.hash = '#/events';
    } catch (err) {
      deleteButton.disabled = false;
      replace(deleteMessage, errorView(err, 'Not deleted'));
    }
  }

  function onKey(e) {
    const state = REVIEW_KEYS[e.key];
    if (!state || !buttons || typingOrShortcut(e)) return;
    e.preventDefault();
    buttons.review(state);
  }

  return {
    destroy() {
      destroyed = true;
      document.removeEventListener('keydown', onKey);
      offs.forEach((off) => off());
      release();
      clip?.view.destroy();
    },
  };
}
