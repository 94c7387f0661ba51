import { errorView, h, replace } from './dom.js';

/**
 * The upload form: a video file and a model; the file is the request body of
 * `POST /api/clips`. Labelling progress then comes as `clip` messages (see clips.js).
 * @param o.onUploaded called with the 202 ClipRecord
 * @returns `{ element, destroy() }`
 */
export function createUploadForm({ api, models, onUploaded }) {
  const file = h('input', { id: 'upload-file', type: 'file', accept: 'video/*', required: true, 'data-testid': 'upload-file' });
  const model = h('select', { id: 'upload-model', 'data-testid': 'upload-model' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'upload-submit' }, 'Upload');
  const progress = h('progress', { max: 1, value: 0, hidden: true, 'data-testid': 'upload-progress', 'aria-label': 'Upload progress' });
  const status = h('div', { role: 'status', 'data-testid': 'upload-status' });
  let pending;

  const form = h(
    'form',
    { class: 'upload', 'data-testid': 'upload-form', onsubmit: onSubmit },
    h('div', { class: 'field' }, h('label', { for: 'upload-file' }, 'Video file'), file),
    h('div', { class: 'field' }, h('label', { for: 'upload-model' }, 'Model'), model),
    h('div', { class: 'field' }, submit, progress),
    status,
  );

  models.then(
    (list) =>
      replace(
        model,
        list.map((m) => h('option', { value: m.name, selected: m.default }, m.name)),
      ),
    (e) => replace(status, errorView(e, 'Cannot load models')),
  );

  async function onSubmit(e) {
    e.preventDefault();
    const f = file.files[0];
    if (!f) return;
    submit.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    replace(status, `Uploading ${f.name}…`);
    pending = api.upload(f, { model: model.value || undefined, onProgress: (p) => (progress.value = p) });
    try {
      const clip = await pending.done;
      replace(status, h('span', { 'data-testid': 'upload-done', 'data-clip-id': clip.id }, `Uploaded ${clip.name}; labelling…`));
      form.reset();
      onUploaded?.(clip);
    } catch (err) {
      replace(status, errorView(err, `Upload of ${f.name} failed`));
    } finally {
      pending = undefined;
      submit.disabled = false;
      progress.hidden = true;
    }
  }

  return { element: form, destroy: () => pending?.abort() };
}
