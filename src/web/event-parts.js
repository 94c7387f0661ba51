import { errorView, h, replace } from './dom.js';
import { duration, prob } from './format.js';

/** What each review state reads as. */
export const REVIEW_TEXT = Object.freeze({ unreviewed: 'Unreviewed', confirmed: 'Confirmed', false_alarm: 'False alarm' });

/** The keys that review the event in view (or the focused row): shown in the UI, set as `aria-keyshortcuts`. */
export const REVIEW_KEYS = Object.freeze({ c: 'confirmed', f: 'false_alarm', u: 'unreviewed' });

/** The keys hint, after `lead` (`Keys: `); the same keys on the list and the event page. */
export function reviewKeysHint(lead) {
  return h(
    'span',
    { class: 'muted keys' },
    lead,
    h('kbd', {}, 'c'),
    ' confirm · ',
    h('kbd', {}, 'f'),
    ' false alarm · ',
    h('kbd', {}, 'u'),
    ' unreviewed',
  );
}

/** An event's length: its stream time span. */
export function eventDuration(e) {
  return duration(e.endMs - e.startMs);
}

/** `0.99 / 0.80`: peak, then mean. */
export function eventConfidence(e) {
  return `${prob(e.peak)} / ${prob(e.mean)}`;
}

/** The review state as a badge (`data-review` carries the state). */
export function reviewBadge(state) {
  return h('span', { class: 'badge review', 'data-review': state, 'data-testid': 'event-review' }, REVIEW_TEXT[state] ?? state);
}

/**
 * An event's snapshot, lazy-loaded; a placeholder when it has none (yet). `version` changes the
 * URL so that a snapshot replaced at a new peak is fetched again.
 * @param [o.large] the big picture of the event page rather than a list thumbnail
 */
export function snapshotImage(api, e, { large = false } = {}) {
  const cls = large ? 'snapshot large' : 'snapshot';
  if (!e.snapshot) return h('div', { class: `${cls} placeholder`, 'data-testid': 'event-snapshot-none' }, 'No snapshot');
  const img = h('img', {
    class: cls,
    loading: 'lazy',
    decoding: 'async',
    alt: `Snapshot of ${e.label} on ${e.cameraId}`,
    'data-testid': 'event-snapshot',
    src: api.snapshotUrl(e.id, e.peak),
  });
  // An <img> cannot say why: the event page shows the coded error of the event itself.
  img.addEventListener('error', () => img.replaceWith(h('div', { class: `${cls} placeholder` }, 'Snapshot unavailable')), { once: true });
  return img;
}

/** Whether a keydown is meant for a form field or a browser shortcut rather than for the page's keys. */
export function typingOrShortcut(e) {
  if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return true;
  const t = e.target;
  return t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));
}

/**
 * Confirm / False alarm for one event. A click saves at once (PATCH) and the buttons show the
 * state the server answered with (`aria-pressed`); clicking the pressed one again sets it back
 * to unreviewed. A failure shows its code beside them and leaves the saved state shown.
 * A review replaces the note too, so each one sends `note()` (the event page's field), or,
 * without it, the note the event has (a list review keeps it).
 * @param o.onSaved called with the event the server answered with
 * @param [o.note] the note to save with each review
 * @returns `{ element, set(event), review(state) }`; `review` is what the keys call
 */
export function createReviewButtons({ api, event, onSaved, note }) {
  let current = event;
  let saving = false;
  const msg = h('span', { class: 'review-message', 'data-testid': 'review-message', role: 'status' });
  const button = (state, text, key) =>
    h(
      'button',
      {
        type: 'button',
        class: `review-button ${state}`,
        'data-testid': `review-${state}`,
        'aria-keyshortcuts': key,
        title: `${text} (key ${key})`,
        onclick: () => review(current.review.state === state ? 'unreviewed' : state),
      },
      text,
    );
  const confirm = button('confirmed', 'Confirm', 'c');
  const falseAlarm = button('false_alarm', 'False alarm', 'f');
  const element = h('span', { class: 'review-buttons', role: 'group', 'aria-label': 'Review' }, confirm, falseAlarm, msg);

  function show() {
    confirm.setAttribute('aria-pressed', String(current.review.state === 'confirmed'));
    falseAlarm.setAttribute('aria-pressed', String(current.review.state === 'false_alarm'));
    element.dataset.review = current.review.state;
  }

  async function review(state) {
    if (saving) return;
    saving = true;
    confirm.disabled = falseAlarm.disabled = true;
    replace(msg, 'Saving…');
    try {
      current = await api.reviewEvent(current.id, state, note ? note().trim() : current.review.note);
      replace(msg, `Saved: ${REVIEW_TEXT[current.review.state]}`);
      show();
      onSaved?.(current);
    } catch (e) {
      replace(msg, errorView(e, 'Not saved'));
    } finally {
      saving = false;
      confirm.disabled = falseAlarm.disabled = false;
    }
  }

  show();
  return {
    element,
    set(e) {
      current = e;
      show();
    },
    review,
  };
}
