import { errorView, h, replace } from './dom.js';
import { when } from './format.js';

/** The nodes' heartbeats come every lease / 3 (about 1.7 s by default): refresh about as often. */
const REFRESH_MS = 2000;

/**
 * The Fleet page (`#/fleet`): the live nodes of the fleet this server is one of, their roles,
 * the cameras each runs and when it last beat, and each camera's node. Polls `/api/fleet`; a
 * camera between two workers (its worker just died) shows as unplaced until another takes it.
 * @returns `{ destroy() }`
 */
export function mountFleet(root, { api }) {
  const nodes = h('tbody', { 'data-testid': 'fleet-nodes' });
  const cameras = h('tbody', { 'data-testid': 'fleet-cameras' });
  const state = h('p', { class: 'muted', 'data-testid': 'fleet-state', 'aria-live': 'polite' }, 'Loading…');
  replace(
    root,
    h(
      'section',
      { class: 'fleet', 'aria-label': 'Fleet' },
      h('h2', {}, 'Fleet'),
      state,
      h('h3', {}, 'Nodes'),
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Node', 'Roles', 'Host', 'Cameras', 'Capacity', 'Last heartbeat'].map((t) => h('th', {}, t)),
          ),
        ),
        nodes,
      ),
      h('h3', {}, 'Cameras'),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Camera'), h('th', {}, 'Runs on'))), cameras),
    ),
  );
  let asked = 0;

  async function refresh() {
    const mine = ++asked;
    try {
      const view = await api.fleet();
      if (mine !== asked) return;
      replace(state, `This is node `, h('strong', { text: view.node }), `; ${view.nodes.length} live.`);
      replace(
        nodes,
        view.nodes.map((n) =>
          h(
            'tr',
            { 'data-node': n.id },
            h('td', {}, n.id, n.id === view.node ? h('span', { class: 'badge' }, ' this one') : null),
            h('td', {}, n.roles.join(', ')),
            h('td', {}, `${n.host} (pid ${n.pid})`),
            h('td', { 'data-testid': 'node-cameras' }, n.cameras.length === 0 ? '–' : n.cameras.join(', ')),
            h('td', {}, n.capacity >= Number.MAX_SAFE_INTEGER ? 'its share' : String(n.capacity)),
            h('td', { title: when(n.lastSeenMs) }, `${Math.max(0, Math.round((Date.now() - n.lastSeenMs) / 100) / 10)} s ago`),
          ),
        ),
      );
      replace(
        cameras,
        view.cameras.map((c) =>
          h(
            'tr',
            { 'data-camera': c.cameraId },
            h('td', {}, h('a', { href: `#/live/${encodeURIComponent(c.cameraId)}` }, c.cameraId)),
            h('td', { 'data-testid': 'camera-node' }, c.node ?? 'unplaced'),
          ),
        ),
      );
    } catch (e) {
      if (mine !== asked) return;
      replace(state, errorView(e, 'Cannot read the fleet'));
    }
  }

  refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return {
    destroy() {
      clearInterval(timer);
      asked += 1;
    },
  };
}
