import { errorView, h, replace } from './dom.js';

/**
 * "Improve this camera's model": for one camera, each of its models with the version live,
 * how many reviews were made since it was last adapted, a button that starts an adaptation
 * job (POST /api/cameras/:id/adapt), its progress from the camera's `adapt` messages, and the
 * result: the figures before and after on reviews it did not train on, and whether the new
 * version was accepted and went live. A Roll back button when an adapted version runs.
 * See docs/adaptation.md.
 */
export function mountAdaptPanel(root, ctx, cameraId) {
  const { api, hub } = ctx;
  let destroyed = false;
  /** model → the last `adapt` message of its job, shown until the view is reloaded. */
  const lastMessage = new Map();
  const body = h('div', { class: 'adapt-models' });
  replace(root, h('section', { class: 'adapt-panel', 'data-testid': 'adapt-panel', 'aria-label': `Model of camera ${cameraId}` }, body));

  const release = hub.camera(cameraId);
  const offs = [
    hub.on('adapt', (msg) => {
      if (msg.cameraId !== cameraId) return;
      lastMessage.set(msg.model, msg);
      if (msg.state === 'running') showProgress(msg);
      else load();
    }),
  ];
  load();

  async function load() {
    try {
      const { models } = await api.cameraModels(cameraId);
      if (destroyed) return;
      replace(body, ...models.map(modelView));
    } catch (e) {
      if (!destroyed) replace(body, errorView(e, "Cannot load the camera's models"));
    }
  }

  function modelView(m) {
    const live = m.live.shipped ? `${m.live.version} (shipped)` : `${m.live.version} (adapted to this camera)`;
    const r = m.reviews;
    const running = m.job?.state === 'running';
    const enough = r.usable >= r.minimum;
    const status = h('div', { class: 'adapt-status', 'data-testid': 'adapt-status', 'aria-live': 'polite' });
    const improve = h(
      'button',
      {
        type: 'button',
        'data-testid': 'adapt-start',
        disabled: running || !enough,
        title: enough ? '' : `needs at least ${r.minimum} reviewed events with a recording; ${r.usable} now`,
        onclick: async () => {
          improve.disabled = true;
          status.textContent = 'Starting…';
          try {
            await api.adapt(cameraId, m.model);
          } catch (e) {
            replace(status, errorView(e, 'Cannot start'));
            improve.disabled = false;
          }
        },
      },
      "Improve this camera's model",
    );
    const rollback = m.live.shipped
      ? ''
      : h(
          'button',
          {
            type: 'button',
            'data-testid': 'adapt-rollback',
            onclick: async () => {
              try {
                await api.rollbackModel(cameraId, m.model);
                load();
              } catch (e) {
                replace(status, errorView(e, 'Cannot roll back'));
              }
            },
          },
          'Roll back',
        );
    const view = h(
      'div',
      { class: 'adapt-model', 'data-model': m.model },
      h(
        'p',
        {},
        h('strong', {}, m.model),
        ' ',
        h('span', { 'data-testid': 'adapt-live-version' }, live),
        ' · ',
        h(
          'span',
          { 'data-testid': 'adapt-since' },
          `${r.sinceAdapted} review${r.sinceAdapted === 1 ? '' : 's'} since the model was last adapted`,
        ),
        r.withoutClip > 0 ? h('span', { class: 'muted' }, ` (${r.withoutClip} without a recording)`) : '',
      ),
      h('p', {}, improve, ' ', rollback),
      status,
    );
    view.status = status;
    const msg = lastMessage.get(m.model);
    if (running) showProgress(msg ?? { model: m.model, stage: 'features' }, status);
    else if (msg?.state === 'done') replace(status, resultView(msg.result));
    else if (msg?.state === 'failed') replace(status, errorView(msg.error, 'Adaptation failed'));
    return view;
  }

  function showProgress(msg, into) {
    const status = into ?? body.querySelector(`[data-model="${CSS.escape(msg.model)}"] .adapt-status`);
    if (!status) return load();
    body.querySelector(`[data-model="${CSS.escape(msg.model)}"] [data-testid="adapt-start"]`)?.setAttribute('disabled', '');
    const stage =
      msg.stage === 'judging' && msg.fold !== undefined
        ? `checking on reviews it did not learn from (${msg.fold}/${msg.folds})`
        : ({ features: 'reading the reviewed clips', training: 'learning from every review', writing: 'saving' }[msg.stage] ?? 'starting');
    status.textContent = `Adapting: ${stage}…`;
  }

  return {
    reload: load,
    destroy() {
      destroyed = true;
      offs.forEach((off) => off());
      release();
    },
  };
}

/** The figures of a finished job: before → after, and what became of the version. */
function resultView(result) {
  const { record: r } = result;
  const pct = (x) => `${Math.round(x * 100)}%`;
  return h(
    'span',
    { 'data-testid': 'adapt-result', 'data-accepted': String(result.accepted) },
    result.accepted
      ? `Version ${result.version} is live: on ${r.after.reviews} reviews it had not learnt from, `
      : `Version ${result.version} was not made live (not better than the current model): on ${r.after.reviews} reviews, `,
    `accuracy ${pct(r.before.accuracy)} → ${pct(r.after.accuracy)}, false alarms ${r.before.falseAlarms} → ${r.after.falseAlarms}, ` +
      `missed ${r.before.missed} → ${r.after.missed}` +
      (r.replayCheck ? `; on its own training sample ${pct(r.replayCheck.before)} → ${pct(r.replayCheck.after)}` : '') +
      '.',
  );
}
