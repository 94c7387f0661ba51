import { errorView, h, replace } from './dom.js';
import { eventConfidence, eventDuration, reviewBadge, snapshotImage } from './event-parts.js';
import { when } from './format.js';

const SHOWN = 3;

/**
 * The last few events of the camera on the Live page, under its picture. The page's camera
 * subscription brings that camera's `event` messages: a start goes on top, a change updates
 * its item.
 * @returns `{ element, show(cameraId), destroy() }`
 */
export function createRecentEvents({ api, hub }) {
  let cameraId;
  let events = [];
  let asked = 0;
  const list = h('ol', { class: 'recent-events', 'data-testid': 'recent-events' });
  const element = h(
    'section',
    { class: 'recent', 'aria-label': 'Recent events' },
    h('h3', {}, 'Recent events ', h('a', { href: '#/events' }, 'all')),
    list,
  );
  const off = hub.on('event', (msg) => {
    if (msg.cameraId !== cameraId) return;
    const i = events.findIndex((e) => e.id === msg.event.id);
    if (i >= 0) events[i] = msg.event;
    else if (msg.change === 'start') events = [msg.event, ...events].slice(0, SHOWN);
    else return;
    render();
  });

  async function show(id) {
    cameraId = id;
    events = [];
    replace(list);
    const mine = ++asked;
    try {
      const page = await api.events({ camera: id, limit: SHOWN });
      if (mine !== asked) return;
      // Starts that came in while asking are newer than the page.
      const seen = new Set(events.map((e) => e.id));
      events = [...events, ...page.events.filter((e) => !seen.has(e.id))].slice(0, SHOWN);
      render();
    } catch (e) {
      if (mine === asked) replace(list, h('li', {}, errorView(e, 'Cannot load events')));
    }
  }

  function render() {
    replace(
      list,
      events.length === 0
        ? h('li', { class: 'muted' }, 'No events yet.')
        : events.map((e) =>
            h(
              'li',
              { 'data-testid': 'recent-event', 'data-event-id': e.id, 'data-review': e.review.state },
              h(
                'a',
                { href: `#/events/${encodeURIComponent(e.id)}`, class: 'recent-item' },
                snapshotImage(api, e),
                h('span', { class: 'what' }, e.label, e.state === 'active' ? ' (live)' : ''),
                h('span', { class: 'muted' }, `${when(e.startedAtMs)} · ${eventDuration(e)} · ${eventConfidence(e)}`),
              ),
              reviewBadge(e.review.state),
            ),
          ),
    );
  }

  return { element, show, destroy: () => off() };
}
