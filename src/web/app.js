import { api } from './api.js';
import { mountClipView } from './clip-view.js';
import { mountClips } from './clips.js';
import { h, replace } from './dom.js';
import { mountEventView } from './event-view.js';
import { mountEvents } from './events.js';
import { mountFleet } from './fleet.js';
import { mountLive } from './live.js';
import { createHub } from './socket.js';
import { createUnreviewedCount } from './unreviewed.js';

/** Hash routes: each mounts a view into `<main>` and returns `{ destroy() }`. */
const ROUTES = [
  { name: 'live', re: /^#\/live(?:\/([^/]+))?$/, mount: (root, ctx, [id]) => mountLive(root, ctx, id && decodeURIComponent(id)) },
  { name: 'events', re: /^#\/events\/?$/, mount: (root, ctx) => mountEvents(root, ctx) },
  { name: 'events', re: /^#\/events\/([^/]+)$/, mount: (root, ctx, [id]) => mountEventView(root, ctx, decodeURIComponent(id)) },
  { name: 'clips', re: /^#\/clips\/?$/, mount: (root, ctx) => mountClips(root, ctx) },
  { name: 'clips', re: /^#\/clips\/([^/]+)$/, mount: (root, ctx, [id]) => mountClipView(root, ctx, decodeURIComponent(id)) },
  { name: 'fleet', re: /^#\/fleet\/?$/, mount: (root, ctx) => mountFleet(root, ctx) },
];

const root = document.getElementById('view');
const hub = createHub(api.hubUrl());
let modelsPromise;
const ctx = {
  api,
  hub,
  /** The models list, fetched once (a failure is retried on the next call). */
  models() {
    modelsPromise ??= api.models().catch((e) => {
      modelsPromise = undefined;
      throw e;
    });
    return modelsPromise;
  },
};
let current;

function route() {
  const hash = location.hash || '#/live';
  let match;
  const r = ROUTES.find((x) => (match = x.re.exec(hash)));
  current?.destroy();
  current = undefined;
  for (const a of document.querySelectorAll('nav a')) {
    if (r && a.dataset.route === r.name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!r) {
    replace(
      root,
      h(
        'p',
        { class: 'error', role: 'alert', 'data-testid': 'error' },
        `No page ${hash}. `,
        h('a', { href: '#/live' }, 'Go to the live page'),
      ),
    );
    return;
  }
  current = r.mount(root, ctx, match.slice(1));
}

const hubState = document.querySelector('[data-testid="hub-state"]');
hub.on('state', (s) => {
  hubState.dataset.state = s.state;
  hubState.textContent =
    s.state === 'open'
      ? 'connected'
      : s.state === 'connecting'
        ? 'connecting…'
        : `disconnected${s.lastClose?.reason ? ` (${s.lastClose.reason})` : ''}, retrying`;
});
hub.on('error', (msg) => showBanner(msg));
createUnreviewedCount({ api, hub, el: document.querySelector('[data-testid="unreviewed-count"]') });
// The Fleet link only on a node of a fleet (the status names it; null when the server runs alone).
api.status().then(
  (s) => (document.querySelector('[data-testid="nav-fleet"]').hidden = !s.fleet),
  () => {},
);

const banner = document.querySelector('[data-testid="error-banner"]');
/** Shows an error that belongs to no view (a hub `error` message). */
function showBanner(err) {
  replace(
    banner,
    h('code', { text: err.code }),
    ` ${err.message} `,
    h('button', { type: 'button', onclick: () => (banner.hidden = true) }, 'Dismiss'),
  );
  banner.hidden = false;
}

addEventListener('hashchange', route);
if (!location.hash) history.replaceState(null, '', '#/live');
route();
