import { errorView, h, replace } from './dom.js';
import { bytes, duration, prob, when } from './format.js';
import { createSegmentBar } from './segment-bar.js';

/** `fight 1.1.0`; a recording that spans a switch of versions: `fight 1.0.0 → 1.1.0`. */
function modelName(model) {
  return `${model.name} ${(model.versions ?? [model]).map((v) => v.version).join(' → ')}`;
}

/**
 * One clip: its video with the labels as a WebVTT track (shown by default), the clickable
 * segment bar (one per model, each named, for a recording of a camera that runs several),
 * the segments as a table (the first model's, as the track), downloads, and delete. A clip
 * still being labelled shows its progress and turns into the player when ready.
 * @param [o.embedded] inside another page (an event's): no link back to the clips, no delete
 * @param [o.startAtMs] `(clip) → ms`: where the player starts (an event's clip, from before the event)
 * @param [o.autoplay] plays at once, muted (browsers refuse to autoplay sound)
 */
export function mountClipView(root, ctx, id, { embedded = false, startAtMs, autoplay = false } = {}) {
  const { api, hub } = ctx;
  let destroyed = false;
  let clip;
  const body = h('div', { 'data-testid': 'clip-view', 'data-clip-id': id }, h('p', { class: 'muted' }, 'Loading…'));
  replace(
    root,
    embedded
      ? body
      : h('section', { class: 'clip-page' }, h('p', {}, h('a', { href: '#/clips', 'data-testid': 'back-to-clips' }, '← All clips')), body),
  );

  const release = hub.clips();
  const off = hub.on('clip', (msg) => {
    if (msg.clipId !== id || !clip) return;
    if (msg.status === 'ready' || msg.status === 'failed') return load();
    clip.status = msg.status;
    renderPending(msg.progress);
  });
  load();

  async function load() {
    try {
      const got = await api.clip(id);
      if (destroyed) return;
      clip = got;
      render();
    } catch (e) {
      if (!destroyed) replace(body, errorView(e, 'Cannot load the clip'));
    }
  }

  function details() {
    const row = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
    return h(
      'dl',
      { class: 'details' },
      row('Kind', clip.kind),
      row('Camera', clip.cameraId ?? '–'),
      row(
        'Model',
        clip.timeline ? (clip.timeline.models ?? [clip.timeline]).map((m) => modelName(m.model)).join(', ') : (clip.model ?? '–'),
      ),
      row('Status', h('span', { class: 'badge', 'data-status': clip.status, 'data-testid': 'clip-status' }, clip.status)),
      row('Duration', duration(clip.durationMs)),
      row('Size', bytes(clip.bytes)),
      row(clip.kind === 'recording' ? 'Recorded' : 'Added', when(clip.startedAtMs ?? clip.createdAt)),
    );
  }

  function header() {
    return [h('h2', { 'data-testid': 'clip-name' }, clip.name), details()];
  }

  function deleteButton() {
    if (embedded) return null;
    return h(
      'button',
      {
        type: 'button',
        class: 'danger',
        'data-testid': 'clip-delete',
        async onclick(e) {
          const btn = e.currentTarget;
          if (btn.dataset.confirm !== 'yes') {
            btn.dataset.confirm = 'yes';
            btn.textContent = 'Really delete this clip?';
            return;
          }
          try {
            await api.deleteClip(id);
            location.hash = '#/clips';
          } catch (err) {
            btn.replaceWith(errorView(err, 'Cannot delete'));
          }
        },
      },
      'Delete clip',
    );
  }

  function renderPending(progress) {
    const p = progress ?? 0;
    replace(
      body,
      header(),
      h(
        'p',
        { role: 'status' },
        `Labelling: ${clip.status}`,
        ' ',
        h('progress', { max: 1, value: p, 'data-testid': 'clip-progress', 'aria-label': 'Labelling progress' }),
        ` ${Math.round(p * 100)} %`,
      ),
      deleteButton(),
    );
  }

  function render() {
    if (clip.status === 'failed') return replace(body, header(), errorView(clip.error ?? {}, 'Labelling failed'), deleteButton());
    if (clip.status !== 'ready' || !clip.timeline) return renderPending();
    const t = clip.timeline;
    const video = h(
      'video',
      { controls: true, preload: 'auto', 'data-testid': 'clip-video', src: api.videoUrl(id), autoplay, muted: autoplay },
      h('track', { kind: 'captions', label: 'Labels', srclang: 'en', default: true, src: api.vttUrl(id), 'data-testid': 'clip-track' }),
    );
    // A camera that runs several models labels its recordings with each: a bar per model,
    // each named, one playhead for all.
    const parts = t.models ?? [t];
    const setTime = (ms) => bars.forEach((b) => b.setTime(ms));
    const bars = parts.map((m) =>
      createSegmentBar({
        segments: m.segments,
        durationMs: t.source.durationMs ?? clip.durationMs,
        classes: m.classes,
        title: parts.length > 1 ? modelName(m.model) : undefined,
        onSeek(ms) {
          video.currentTime = ms / 1000;
          setTime(ms);
        },
      }),
    );
    video.addEventListener('timeupdate', () => setTime(video.currentTime * 1000));
    video.muted = autoplay;
    if (startAtMs) {
      const ms = startAtMs(clip);
      video.addEventListener('loadedmetadata', () => (video.currentTime = Math.min(ms / 1000, video.duration || 0)), { once: true });
    }
    video.addEventListener(
      'error',
      () => {
        const e = video.error;
        video.after(errorView({ code: `MEDIA_ERR_${e?.code ?? 0}`, message: e?.message || 'the video cannot be played' }, 'Video'));
      },
      { once: true },
    );
    const base = clip.name.replace(/\.[a-z0-9]+$/i, '');
    replace(
      body,
      header(),
      h('div', { class: 'player' }, video),
      parts.map((m, i) => h('div', { class: 'model-bar', 'data-testid': 'model-bar', 'data-model': m.model.name }, bars[i].element)),
      h(
        'p',
        { class: 'downloads' },
        'Download: ',
        h('a', { href: api.timelineUrl(id), download: `${base}.timeline.json`, 'data-testid': 'download-json' }, 'timeline JSON'),
        ' · ',
        h('a', { href: api.vttUrl(id), download: `${base}.vtt`, 'data-testid': 'download-vtt' }, 'WebVTT labels'),
      ),
      segmentTable(t, (ms) => {
        video.currentTime = ms / 1000;
        video.focus();
      }),
      deleteButton(),
    );
  }

  function segmentTable(t, seek) {
    return h(
      'table',
      { class: 'segments', 'data-testid': 'segment-table' },
      h(
        'caption',
        {},
        `${t.segments.length} segment${t.segments.length === 1 ? '' : 's'} (${t.model.name}, smoothing ${t.smoothing.windowMs} ms)`,
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Label', 'Start', 'End', 'Confidence', 'Peak'].map((x) => h('th', { scope: 'col' }, x)),
        ),
      ),
      h(
        'tbody',
        {},
        t.segments.map((s) =>
          h(
            'tr',
            {},
            h('td', {}, s.label),
            h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => seek(s.startMs) }, duration(s.startMs))),
            h('td', {}, duration(s.endMs)),
            h('td', {}, prob(s.confidence)),
            h('td', {}, prob(s.peak)),
          ),
        ),
      ),
    );
  }

  return {
    destroy() {
      destroyed = true;
      off();
      release();
      // Stops the video's download.
      for (const v of body.querySelectorAll('video')) {
        v.pause();
        v.removeAttribute('src');
        v.load();
      }
    },
  };
}
