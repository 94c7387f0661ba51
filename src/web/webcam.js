/**
 * Publishes this browser's webcam to a `webcam` camera: getUserMedia → MediaRecorder (webm,
 * a chunk every {@link TIMESLICE_MS}) → binary messages on `/api/cameras/:id/ingest`. The
 * server decodes and labels it like any camera; labels come back on the hub.
 */

const TIMESLICE_MS = 250;
const ID_KEY = 'vigil.webcamCameraId';

/** This browser's webcam camera id, kept in localStorage so it is reused. */
function webcamCameraId() {
  let id = localStorage.getItem(ID_KEY);
  if (!id) {
    const hex = [...crypto.getRandomValues(new Uint8Array(4))].map((b) => b.toString(16).padStart(2, '0')).join('');
    id = `webcam-${hex}`;
    localStorage.setItem(ID_KEY, id);
  }
  return id;
}

/**
 * Finds this browser's camera, or creates it; a model change is saved. Looked up in the list
 * rather than by id: a 404 would be a console error for a first start, which is no error.
 */
async function ensureCamera(api, id, model) {
  const cam = (await api.cameras()).find((c) => c.id === id);
  if (!cam) return api.createCamera({ id, name: 'Webcam (this browser)', source: 'webcam', model });
  if (cam.source !== 'webcam')
    throw Object.assign(new Error(`camera ${id} exists and reads ${cam.source}, not a webcam`), { code: 'VIGIL_ERR_CONFLICT' });
  return cam.model === model ? cam : api.updateCamera(id, { model });
}

/**
 * Starts publishing.
 * @param o.api the API client
 * @param o.model the model to label with
 * @param o.onEnd called once if publishing stops by itself, with `{ code, message }`
 * @returns `{ camera, stream, stop() }`; `stop()` ends the recorder, the socket and the camera light
 * @throws ApiError, or a DOMException from getUserMedia (its name is the code)
 */
export async function startWebcam({ api, model, onEnd }) {
  if (!navigator.mediaDevices?.getUserMedia)
    throw Object.assign(new Error('this browser gives no camera access here (it needs https or localhost)'), { code: 'NO_MEDIA_DEVICES' });
  if (typeof MediaRecorder === 'undefined')
    throw Object.assign(new Error('this browser has no MediaRecorder'), { code: 'NO_MEDIA_RECORDER' });
  const stream = await navigator.mediaDevices
    .getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false })
    .catch((e) => {
      throw Object.assign(new Error(e.message || 'camera access refused'), { code: e.name || 'MEDIA_ERROR' });
    });
  const stopTracks = () => stream.getTracks().forEach((t) => t.stop());
  let camera;
  let ws;
  try {
    camera = await ensureCamera(api, webcamCameraId(), model);
    ws = await openSocket(api.ingestUrl(camera.id));
  } catch (e) {
    stopTracks();
    throw e;
  }

  const mimeType = ['video/webm;codecs=vp8', 'video/webm'].find((t) => MediaRecorder.isTypeSupported(t));
  const recorder = new MediaRecorder(stream, mimeType ? { mimeType, videoBitsPerSecond: 1_000_000 } : {});
  let stopped = false;
  // A Blob is sent as is; ws.send keeps the order of the chunks.
  recorder.ondataavailable = (e) => e.data.size > 0 && ws.readyState === WebSocket.OPEN && ws.send(e.data);
  recorder.onerror = (e) => end({ code: 'MEDIA_RECORDER_ERROR', message: e.error?.message ?? 'recording failed' });
  ws.onclose = (e) => end({ code: e.reason || `WS_CLOSE_${e.code}`, message: `the server closed the webcam stream (${e.code})` });

  function end(why) {
    if (stopped) return;
    stop();
    onEnd?.(why);
  }

  function stop() {
    if (stopped) return;
    stopped = true;
    ws.onclose = null;
    if (recorder.state !== 'inactive') recorder.stop();
    stopTracks();
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'stopped');
  }

  recorder.start(TIMESLICE_MS);
  return { camera, stream, stop };
}

function openSocket(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      ws.onerror = null;
      resolve(ws);
    };
    ws.onclose = (e) =>
      reject(Object.assign(new Error(`the ingest socket closed before it opened (${e.code})`), { code: e.reason || `WS_CLOSE_${e.code}` }));
  });
}
