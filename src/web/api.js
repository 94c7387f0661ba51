/**
 * The REST API of the vigil server. The access token comes from the page's own URL
 * (`/?token=…#/live`): API calls send it as `Authorization: Bearer`, media and WebSocket URLs
 * (which cannot carry headers) as `?token=`.
 */

const token = new URLSearchParams(location.search).get('token');

/** An API failure with the server's code (`VIGIL_ERR_…`), or `NETWORK_ERROR` when no answer came. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** `path` with `?token=` when the page has one (for `<img>`, `<video>`, links). */
function withToken(path) {
  if (!token) return path;
  const u = new URL(path, location.origin);
  u.searchParams.set('token', token);
  return u.pathname + u.search;
}

/** The `ws:`/`wss:` URL of a server path, with the token. */
function wsUrl(path) {
  const u = new URL(withToken(path), location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

function headers(extra = {}) {
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

async function errorOf(res) {
  let body;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const e = body?.error;
  return new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText);
}

/**
 * One API call. JSON in (`json`) and out; 204 gives undefined.
 * @throws ApiError
 */
export async function request(method, path, { json, signal } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      signal,
      headers: headers(json === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: json === undefined ? undefined : JSON.stringify(json),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK_ERROR', `${method} ${path}: ${e.message}`);
  }
  if (!res.ok) throw await errorOf(res);
  return res.status === 204 ? undefined : res.json();
}

const enc = encodeURIComponent;

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const api = {
  status: () => request('GET', '/api/status'),
  /** The fleet this node is one of: `{ node, nodes, cameras }`; 404 VIGIL_ERR_NOT_FOUND when it runs alone. */
  fleet: () => request('GET', '/api/fleet'),
  models: () => request('GET', '/api/models').then((r) => r.models),
  cameras: () => request('GET', '/api/cameras').then((r) => r.cameras),
  camera: (id) => request('GET', `/api/cameras/${enc(id)}`),
  createCamera: (input) => request('POST', '/api/cameras', { json: input }),
  updateCamera: (id, patch) => request('PATCH', `/api/cameras/${enc(id)}`, { json: patch }),
  deleteCamera: (id) => request('DELETE', `/api/cameras/${enc(id)}`),
  cameraModels: (id) => request('GET', `/api/cameras/${enc(id)}/models`),
  adapt: (id, model) => request('POST', `/api/cameras/${enc(id)}/adapt`, { json: { model } }),
  rollbackModel: (id, model) => request('POST', `/api/cameras/${enc(id)}/models/${enc(model)}/rollback`),
  clips: (q = {}) => request('GET', `/api/clips${query(q)}`).then((r) => r.clips),
  clip: (id) => request('GET', `/api/clips/${enc(id)}`),
  deleteClip: (id) => request('DELETE', `/api/clips/${enc(id)}`),
  /** A page of events, newest first: `{ events, next }`; `q`: camera, model, label, review, after, before, limit, cursor. */
  events: (q = {}) => request('GET', `/api/events${query(q)}`),
  eventCount: (q = {}) => request('GET', `/api/events/count${query(q)}`).then((r) => r.count),
  event: (id) => request('GET', `/api/events/${enc(id)}`),
  /** A review replaces the whole review, its note too: a note left out is cleared. */
  reviewEvent: (id, review, note) => request('PATCH', `/api/events/${enc(id)}`, { json: { review, ...(note ? { note } : {}) } }),
  deleteEvent: (id) => request('DELETE', `/api/events/${enc(id)}`),
  /** `version` (e.g. the event's peak) only makes a replaced snapshot a new URL, so the browser fetches it again. */
  snapshotUrl: (id, version) => withToken(`/api/events/${enc(id)}/snapshot.jpg${query({ v: version })}`),
  previewUrl: (id) => withToken(`/api/cameras/${enc(id)}/preview.mjpeg`),
  videoUrl: (id) => withToken(`/api/clips/${enc(id)}/video`),
  vttUrl: (id) => withToken(`/api/clips/${enc(id)}/labels.vtt`),
  timelineUrl: (id) => withToken(`/api/clips/${enc(id)}/timeline.json`),
  ingestUrl: (id) => wsUrl(`/api/cameras/${enc(id)}/ingest`),
  hubUrl: () => wsUrl('/ws'),

  /**
   * Uploads a video as the raw request body. XMLHttpRequest rather than fetch: fetch
   * reports no upload progress.
   * @param file a File (its type becomes the Content-Type; unknown → application/octet-stream)
   * @param [o.model] model name (the server's default when absent)
   * @param [o.onProgress] called with 0…1 as bytes go out
   * @returns `{ done: Promise<ClipRecord>, abort() }`; `done` rejects with ApiError
   */
  upload(file, { model, onProgress } = {}) {
    const xhr = new XMLHttpRequest();
    const done = new Promise((resolve, reject) => {
      xhr.open('POST', `/api/clips${query({ name: file.name, model })}`);
      for (const [k, v] of Object.entries(headers({ 'Content-Type': file.type || 'application/octet-stream' }))) xhr.setRequestHeader(k, v);
      xhr.responseType = 'json';
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress?.(e.loaded / e.total);
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) return resolve(xhr.response);
        const e = xhr.response?.error;
        reject(new ApiError(xhr.status, e?.code ?? `HTTP_${xhr.status}`, e?.message ?? xhr.statusText));
      };
      xhr.onerror = () => reject(new ApiError(0, 'NETWORK_ERROR', 'upload failed: the connection broke'));
      xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'upload cancelled'));
      xhr.send(file);
    });
    return { done, abort: () => xhr.abort() };
  },
};
