import { h, replace } from './dom.js';

/** Counts again at most this often while events arrive. */
const DEBOUNCE_MS = 300;
/** ... and this often regardless: a delete sends no message. */
const REFRESH_MS = 60_000;

/**
 * The unreviewed count in the header: asked of the server (`/api/events/count`) when the page
 * opens, on every (re)connect and whenever an event starts or is reviewed anywhere (the hub's
 * events subscription). A failure shows `?` with the code.
 * @param el the element that shows the number (`data-count`, hidden while 0)
 * @returns `{ refresh(), destroy() }`
 */
export function createUnreviewedCount({ api, hub, el }) {
  let timer;
  let asked = 0;
  const release = hub.events();
  const offs = [
    hub.on('event', (msg) => {
      if (msg.change === 'start' || msg.change === 'review') soon();
    }),
    hub.on('open', () => soon()),
  ];
  const interval = setInterval(() => refresh(), REFRESH_MS);

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  }

  async function refresh() {
    const mine = ++asked;
    try {
      const n = await api.eventCount({ review: 'unreviewed' });
      if (mine !== asked) return;
      el.dataset.count = String(n);
      delete el.dataset.code;
      el.title = `${n} unreviewed event${n === 1 ? '' : 's'}`;
      el.hidden = n === 0;
      replace(el, String(n), h('span', { class: 'sr-only' }, ' unreviewed'));
    } catch (e) {
      if (mine !== asked) return;
      el.dataset.code = e.code ?? 'ERROR';
      el.title = `unreviewed count: ${e.code ?? 'ERROR'} ${e.message ?? ''}`;
      el.hidden = false;
      replace(el, '?', h('span', { class: 'sr-only' }, ` unreviewed count unavailable (${el.dataset.code})`));
    }
  }

  refresh();
  return {
    refresh,
    destroy() {
      clearTimeout(timer);
      clearInterval(interval);
      offs.forEach((off) => off());
      release();
    },
  };
}
