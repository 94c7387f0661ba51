import { colorFor } from './colors.js';
import { errorView, h, replace } from './dom.js';
import { createFocusBox } from './focus-box.js';
import { prob, when } from './format.js';
import { createRecentEvents } from './recent-events.js';
import { createTimelineStrip } from './timeline-strip.js';
import { startWebcam } from './webcam.js';

/** How often the camera list is fetched again (statuses of cameras not subscribed to). */
const LIST_REFRESH_MS = 5000;

/**
 * The live page: the camera list (each camera with its models and its latest event, kept live
 * through the hub's events subscription), the selected camera's video with its current label over
 * it, one line per model (and the square a `motioncrop` model looks at), a rolling one-minute
 * strip of the first model, a status
 * line, the selected camera's recent events, and the webcam publisher. Leaving the page stops a running webcam.
 * @param selectedId camera from the URL (`#/live/<id>`), else the first one
 */
export function mountLive(root, ctx, selectedId) {
  const { api, hub } = ctx;
  let cameras = [];
  let models = [];
  let selected;
  let releaseSub = () => {};
  let webcam;
  let strip;
  let destroyed = false;
  // Each camera's newest event (null: none yet), asked once per camera, then kept by `event` messages.
  const latest = new Map();

  const list = h('ul', { class: 'camera-list', 'data-testid': 'camera-list' });
  const listError = h('div');
  const modelSelect = h('select', { id: 'webcam-model', 'data-testid': 'webcam-model' });
  const startBtn = h('button', { type: 'button', class: 'primary', 'data-testid': 'webcam-start', onclick: onStartWebcam }, 'Start webcam');
  const stopBtn = h('button', { type: 'button', 'data-testid': 'webcam-stop', hidden: true, onclick: () => stopWebcam() }, 'Stop webcam');
  const webcamMsg = h('div', { 'data-testid': 'webcam-message' });

  const media = h('div', { class: 'media' });
  const labelEl = h('span', { class: 'label', 'data-testid': 'live-label' }, '–');
  const confEl = h('span', { class: 'confidence', 'data-testid': 'live-confidence' });
  // The first model's line keeps the plain test ids; a camera's further models get a line each.
  const modelEl = h('span', { class: 'model', hidden: true });
  const extraLines = h('div', { class: 'model-lines' });
  let lines = new Map();
  const overlay = h(
    'div',
    { class: 'overlay', 'data-testid': 'live-overlay', 'aria-live': 'polite', 'aria-atomic': 'true' },
    h('div', { class: 'model-line' }, modelEl, labelEl, ' ', confEl),
    extraLines,
  );
  const focusBox = createFocusBox();
  const stage = h('div', { class: 'stage', 'data-testid': 'live-stage' }, media, focusBox.element, overlay);
  const title = h('h2', { 'data-testid': 'live-title' }, 'Live');
  const statusLine = h('p', { class: 'status-line', role: 'status', 'data-testid': 'live-status' }, 'No camera selected.');
  const stripBox = h('div', { class: 'strip-slot' });
  const recent = createRecentEvents({ api, hub });

  replace(
    root,
    h(
      'section',
      { class: 'live' },
      h(
        'aside',
        { class: 'sidebar' },
        h('h2', {}, 'Cameras'),
        listError,
        list,
        h(
          'div',
          { class: 'webcam-box' },
          h('h3', {}, 'Your webcam'),
          h('label', { for: 'webcam-model' }, 'Model'),
          modelSelect,
          h('div', { class: 'buttons' }, startBtn, stopBtn),
          webcamMsg,
        ),
      ),
      h('div', { class: 'viewer' }, title, stage, stripBox, statusLine, recent.element),
    ),
  );

  const releaseEvents = hub.events();
  const offs = [
    hub.on('label', onLabel),
    hub.on('segment', onSegment),
    hub.on('status', onStatus),
    hub.on('event', onEvent),
    // Events missed while the hub was down: ask again.
    hub.on('open', () => {
      latest.clear();
      askLatest();
    }),
  ];
  const timer = setInterval(() => loadCameras().catch(() => {}), LIST_REFRESH_MS);

  init();

  async function init() {
    try {
      [models] = await Promise.all([ctx.models(), loadCameras()]);
    } catch (e) {
      replace(listError, errorView(e, 'Cannot load cameras'));
      return;
    }
    if (destroyed) return;
    replace(
      modelSelect,
      models.map((m) => h('option', { value: m.name, selected: m.default }, `${m.name} (${m.classes.join(', ')})`)),
    );
    const first = cameras.find((c) => c.id === selectedId) ?? cameras.find((c) => c.source !== 'webcam') ?? cameras[0];
    if (selectedId && !cameras.some((c) => c.id === selectedId)) {
      replace(listError, errorView({ code: 'VIGIL_ERR_NOT_FOUND', message: `camera ${selectedId}` }));
    }
    if (first) select(first.id);
  }

  async function loadCameras() {
    const got = await api.cameras();
    if (destroyed) return;
    cameras = got;
    replace(listError);
    askLatest();
    renderList();
    const cam = cameras.find((c) => c.id === selected);
    if (cam) showStatus(cam.status);
  }

  /** The newest event of each camera not asked yet (a new camera, or after a reconnect). */
  function askLatest() {
    for (const c of cameras) {
      if (latest.has(c.id)) continue;
      latest.set(c.id, null);
      api
        .events({ camera: c.id, limit: 1 })
        .then((page) => {
          const e = page.events[0];
          // A start that came in while asking is newer.
          if (destroyed || !e || (latest.get(c.id) && latest.get(c.id).id !== e.id)) return;
          latest.set(c.id, e);
          renderLatest(c.id);
        })
        // The list still works; the next reconnect asks again.
        .catch(() => {});
    }
  }

  function onEvent(msg) {
    const cur = latest.get(msg.cameraId);
    if (msg.change !== 'start' && cur?.id !== msg.event.id) return;
    latest.set(msg.cameraId, msg.event);
    renderLatest(msg.cameraId);
  }

  function latestLine(id) {
    const e = latest.get(id);
    if (!e) return h('span', { class: 'muted' }, 'no events yet');
    return h(
      'a',
      { href: `#/events/${encodeURIComponent(e.id)}`, 'data-testid': 'camera-latest-event', 'data-event-id': e.id },
      `${e.label}${e.state === 'active' ? ' (live)' : ''} · ${when(e.startedAtMs)}`,
    );
  }

  function renderLatest(id) {
    const slot = list.querySelector(`[data-camera="${CSS.escape(id)}"] .latest`);
    if (slot) replace(slot, latestLine(id));
  }

  function renderList() {
    replace(
      list,
      cameras.length === 0
        ? h('li', { class: 'muted' }, 'No cameras yet.')
        : cameras.map((c) =>
            h(
              'li',
              { 'data-camera': c.id },
              h(
                'button',
                {
                  type: 'button',
                  class: 'camera',
                  'data-testid': `camera-${c.id}`,
                  'aria-pressed': String(c.id === selected),
                  onclick: () => select(c.id),
                },
                h('span', { class: 'name' }, c.name),
                h('span', { class: 'state', 'data-state': c.status.state }, c.status.state),
              ),
              h('div', { class: 'camera-meta muted' }, h('span', { 'data-testid': 'camera-models' }, modelsOf(c).join(' · '))),
              h('div', { class: 'camera-meta latest' }, latestLine(c.id)),
            ),
          ),
    );
  }

  function classesOf(cam, model = cam.model) {
    return models.find((m) => m.name === model)?.classes ?? [];
  }

  /** The camera's models, first one first (a server before protocol 4 sent `model` only). */
  function modelsOf(cam) {
    return cam.models ?? [cam.model];
  }

  function renderLines(cam) {
    const [first, ...rest] = modelsOf(cam);
    modelEl.hidden = rest.length === 0;
    modelEl.textContent = `${first} `;
    lines = new Map(
      rest.map((name) => {
        const label = h('span', { class: 'label', 'data-testid': `live-label-${name}` }, '–');
        const conf = h('span', { class: 'confidence', 'data-testid': `live-confidence-${name}` });
        const line = h('div', { class: 'model-line', 'data-model': name }, h('span', { class: 'model' }, `${name} `), label, ' ', conf);
        return [name, { line, label, conf }];
      }),
    );
    replace(
      extraLines,
      [...lines.values()].map((l) => l.line),
    );
  }

  function select(id) {
    const cam = cameras.find((c) => c.id === id);
    if (!cam) return;
    releaseSub();
    selected = id;
    history.replaceState(null, '', `#/live/${encodeURIComponent(id)}`);
    renderList();
    title.textContent = cam.name;
    labelEl.textContent = '–';
    delete labelEl.dataset.label;
    confEl.textContent = '';
    delete confEl.dataset.value;
    overlay.style.borderColor = '';
    renderLines(cam);
    focusBox.hide();
    strip = createTimelineStrip({ classes: classesOf(cam) });
    replace(stripBox, strip.element);
    showMedia(cam);
    showStatus(cam.status);
    releaseSub = hub.camera(id);
    recent.show(id);
  }

  function showMedia(cam) {
    closeMedia();
    if (cam.source === 'webcam') {
      if (webcam && webcam.camera.id === cam.id) {
        const video = h('video', {
          'data-testid': 'webcam-video',
          autoplay: true,
          muted: true,
          playsinline: true,
          'aria-label': 'Your webcam',
        });
        video.muted = true;
        video.srcObject = webcam.stream;
        replace(media, video);
      } else {
        replace(media, h('p', { class: 'placeholder' }, 'A webcam camera: its video is shown in the browser that publishes it.'));
      }
      return;
    }
    const img = h('img', { 'data-testid': 'live-preview', alt: `Live video of ${cam.name}` });
    img.addEventListener('error', () => previewFailed(cam, img), { once: true });
    img.src = api.previewUrl(cam.id);
    replace(media, img);
  }

  /** An <img> cannot say why it failed: ask the server again for the coded error. */
  async function previewFailed(cam, img) {
    if (!img.isConnected) return;
    let err = { code: 'PREVIEW_FAILED', message: 'the preview stream did not load' };
    const ctl = new AbortController();
    try {
      const res = await fetch(api.previewUrl(cam.id), { signal: ctl.signal });
      if (!res.ok) err = (await res.json()).error ?? err;
    } catch {
      // keep the generic message
    } finally {
      ctl.abort();
    }
    if (img.isConnected) replace(media, h('div', { class: 'placeholder' }, errorView(err, 'No video')));
  }

  function closeMedia() {
    // Removing src ends the MJPEG request (browsers keep few connections per host).
    for (const img of media.querySelectorAll('img')) img.removeAttribute('src');
    for (const v of media.querySelectorAll('video')) v.srcObject = null;
    replace(media);
  }

  function onLabel(msg) {
    if (msg.cameraId !== selected) return;
    const cam = cameras.find((c) => c.id === selected);
    if (cam && msg.model !== undefined && msg.model !== modelsOf(cam)[0]) {
      const other = lines.get(msg.model);
      if (!other) return; // a model added after this camera was selected: selecting it again shows its line
      other.label.textContent = msg.label;
      other.label.dataset.label = msg.label;
      other.conf.textContent = prob(msg.confidence);
      other.conf.dataset.value = String(msg.confidence);
      other.line.classList.toggle('provisional', msg.provisional === true);
      other.line.style.color = colorFor(msg.label, classesOf(cam, msg.model));
      if (msg.focus) focusBox.show(msg.focus, media.querySelector('img, video'));
      return;
    }
    labelEl.textContent = msg.label;
    labelEl.dataset.label = msg.label;
    confEl.textContent = prob(msg.confidence);
    confEl.dataset.value = String(msg.confidence);
    overlay.dataset.label = msg.label;
    // A stream's first label, until it has held, is only the current leader.
    overlay.classList.toggle('provisional', msg.provisional === true);
    overlay.title = msg.provisional === true ? 'settling: the first label has not held yet' : '';
    if (cam) overlay.style.borderColor = colorFor(msg.label, classesOf(cam));
    strip?.push(msg.tMs, msg.label, msg.confidence);
    // With several models the square is whichever one looks at a crop (the first may not).
    if (msg.focus || lines.size === 0) focusBox.show(msg.focus, media.querySelector('img, video'));
  }

  function onSegment(msg) {
    const cam = cameras.find((c) => c.id === selected);
    // The strip is the first model's; another model's segments have other classes.
    if (msg.cameraId === selected && (msg.model === undefined || !cam || msg.model === modelsOf(cam)[0])) strip?.paint(msg.segment);
  }

  function onStatus(msg) {
    const cam = cameras.find((c) => c.id === msg.cameraId);
    if (cam) {
      // The message without its `type`: the camera's status.
      const status = { ...msg };
      delete status.type;
      cam.status = status;
      const badge = list.querySelector(`[data-testid="camera-${CSS.escape(cam.id)}"] .state`);
      if (badge) {
        badge.textContent = status.state;
        badge.dataset.state = status.state;
      }
    }
    if (msg.cameraId !== selected) return;
    showStatus(msg);
    // A picture that failed while the camera was not running (starting, reconnecting, moving to
    // another node of a fleet) is asked for again once it runs.
    if (cam && (msg.state === 'live' || msg.state === 'behind') && media.querySelector('[data-testid="error"]')) showMedia(cam);
  }

  function showStatus(s) {
    statusLine.dataset.state = s.state;
    const parts = [h('strong', { class: 'state', 'data-state': s.state }, s.state)];
    parts.push(` · ${s.frames} frames labelled · ${s.dropped} dropped`);
    if (s.models?.length > 1) parts.push(` (${s.models.map((m) => `${m.model}: ${m.frames}, ${m.dropped} dropped`).join('; ')})`);
    // Which version of each model labels: the shipped one, or one adapted to this camera (docs/adaptation.md).
    if (s.models?.some((m) => m.version))
      parts.push(' · ', h('span', { 'data-testid': 'live-versions' }, s.models.map((m) => `${m.model} ${m.version}`).join(', ')));
    // Status messages come on changes, not per frame: the lag shown is the one at that change.
    if ((s.state === 'live' || s.state === 'behind') && s.lagMs > 0) parts.push(` · ${(s.lagMs / 1000).toFixed(1)} s behind the source`);
    if (s.error) parts.push(' · ', h('code', { 'data-testid': 'live-error-code' }, s.error.code), ` ${s.error.message}`);
    if (s.state === 'reconnecting' && s.retryAtMs)
      parts.push(` · retry in ${Math.max(0, Math.round((s.retryAtMs - Date.now()) / 1000))} s`);
    if (s.state === 'waiting') parts.push(' · waiting for a webcam publisher');
    replace(statusLine, parts);
  }

  async function onStartWebcam() {
    startBtn.disabled = true;
    replace(webcamMsg, h('p', { class: 'muted' }, 'Starting the webcam…'));
    try {
      webcam = await startWebcam({ api, model: modelSelect.value, onEnd: (why) => webcamEnded(why) });
    } catch (e) {
      startBtn.disabled = false;
      replace(webcamMsg, errorView(e, 'Webcam'));
      return;
    }
    if (destroyed) {
      webcam.stop();
      return;
    }
    startBtn.hidden = true;
    stopBtn.hidden = false;
    replace(
      webcamMsg,
      h('p', { class: 'muted', 'data-testid': 'webcam-state', 'data-state': 'publishing' }, `Publishing to camera ${webcam.camera.id}.`),
    );
    await loadCameras().catch((e) => replace(listError, errorView(e, 'Cannot load cameras')));
    select(webcam.camera.id);
  }

  function stopWebcam(message) {
    if (!webcam) return;
    const id = webcam.camera.id;
    webcam.stop();
    webcam = undefined;
    startBtn.hidden = false;
    startBtn.disabled = false;
    stopBtn.hidden = true;
    if (!destroyed) {
      replace(webcamMsg, message ?? h('p', { class: 'muted', 'data-testid': 'webcam-state', 'data-state': 'stopped' }, 'Webcam stopped.'));
      const cam = cameras.find((c) => c.id === id);
      if (selected === id && cam) showMedia(cam);
    }
  }

  function webcamEnded(why) {
    stopWebcam(errorView(why, 'Webcam stopped'));
  }

  return {
    destroy() {
      destroyed = true;
      clearInterval(timer);
      offs.forEach((off) => off());
      releaseEvents();
      releaseSub();
      recent.destroy();
      stopWebcam();
      closeMedia();
    },
  };
}
