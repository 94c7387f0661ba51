import { errorView, h, replace } from './dom.js';
import { bytes, duration, when } from './format.js';
import { createUploadForm } from './upload.js';

const REFRESH_DEBOUNCE_MS = 250;

/**
 * The clips page: the upload form and the list of uploads and recordings, newest first;
 * `clip` messages update a row's status and progress, and bring in new recordings.
 */
export function mountClips(root, ctx) {
  const { api, hub } = ctx;
  const progressById = new Map();
  let clips = [];
  let destroyed = false;
  let refreshTimer;

  const kind = h(
    'select',
    { id: 'clip-kind', 'data-testid': 'clip-kind', onchange: () => refresh() },
    h('option', { value: '' }, 'All'),
    h('option', { value: 'upload' }, 'Uploads'),
    h('option', { value: 'recording' }, 'Recordings'),
  );
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'clips', 'data-testid': 'clip-list' },
    h('caption', { class: 'sr-only' }, 'Clips, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Name', 'Kind', 'Camera', 'Status', 'Duration', 'Size', 'Added'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    tbody,
  );
  const listError = h('div');
  const upload = createUploadForm({ api, models: ctx.models(), onUploaded: () => refresh() });

  replace(
    root,
    h(
      'section',
      { class: 'clips-page' },
      h('h2', {}, 'Upload a clip'),
      upload.element,
      h('div', { class: 'list-head' }, h('h2', {}, 'Clips'), h('label', { for: 'clip-kind' }, 'Show'), kind),
      listError,
      table,
    ),
  );

  const release = hub.clips();
  const offs = [hub.on('clip', onClip), hub.on('open', () => refresh())];
  refresh();

  async function refresh() {
    try {
      const got = await api.clips({ kind: kind.value, limit: 200 });
      if (destroyed) return;
      clips = got;
      replace(listError);
      render();
    } catch (e) {
      if (!destroyed) replace(listError, errorView(e, 'Cannot load clips'));
    }
  }

  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, REFRESH_DEBOUNCE_MS);
  }

  function render() {
    if (clips.length === 0) {
      replace(tbody, h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No clips yet.')));
      return;
    }
    replace(
      tbody,
      clips.map((c) =>
        h(
          'tr',
          { 'data-testid': 'clip-row', 'data-clip-id': c.id, 'data-status': c.status, 'data-kind': c.kind },
          h('td', {}, h('a', { href: `#/clips/${encodeURIComponent(c.id)}`, 'data-testid': 'clip-link' }, c.name)),
          h('td', {}, c.kind),
          h('td', {}, c.cameraId ?? '–'),
          h('td', { class: 'status' }, statusCell(c)),
          h('td', {}, duration(c.durationMs)),
          h('td', {}, bytes(c.bytes)),
          h('td', {}, when(c.createdAt)),
        ),
      ),
    );
  }

  function statusCell(c) {
    const out = [h('span', { class: 'badge', 'data-status': c.status, 'data-testid': 'clip-status' }, c.status)];
    const p = progressById.get(c.id);
    if (c.status === 'processing')
      out.push(
        ' ',
        h('progress', { max: 1, value: p ?? 0, 'aria-label': `Labelling ${c.name}` }),
        p === undefined ? '' : ` ${Math.round(p * 100)} %`,
      );
    if (c.status === 'failed' && c.error) out.push(' ', errorView(c.error));
    return out;
  }

  function onClip(msg) {
    if (msg.progress !== undefined) progressById.set(msg.clipId, msg.progress);
    const c = clips.find((x) => x.id === msg.clipId);
    // A clip not listed yet (a new recording, another tab's upload), or a final status: the
    // server's row has the duration and size that the message does not carry.
    if (!c || msg.status === 'ready' || msg.status === 'failed') return refreshSoon();
    c.status = msg.status;
    if (msg.error) c.error = msg.error;
    const row = tbody.querySelector(`[data-clip-id="${CSS.escape(c.id)}"]`);
    if (!row) return;
    row.dataset.status = c.status;
    replace(row.querySelector('.status'), statusCell(c));
  }

  return {
    destroy() {
      destroyed = true;
      clearTimeout(refreshTimer);
      offs.forEach((off) => off());
      release();
      upload.destroy();
    },
  };
}
