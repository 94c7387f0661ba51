/**
 * The `/ws` hub connection (protocol 4), shared by every view. Views subscribe and
 * unsubscribe through reference counts, so two views watching one camera do not cancel each
 * other; after a reconnect every live subscription is sent again.
 */

const MAX_BACKOFF_MS = 15_000;

/**
 * @param url the hub's ws: URL (with the token)
 * @returns `{ on(type, fn) → off, camera(id) → release, clips() → release, events() → release, state, close() }`;
 *   `type` is a server message type, `'open'`, `'close'` (`{ code, reason }`) or `'*'`
 */
export function createHub(url) {
  const listeners = new Map();
  const cameras = new Map();
  let clips = 0;
  let events = 0;
  let ws;
  let attempt = 0;
  let timer;
  let closed = false;
  const hub = { state: 'connecting', lastClose: undefined };

  function emit(type, msg) {
    for (const fn of listeners.get(type) ?? []) fn(msg);
  }

  function send(msg) {
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function connect() {
    hub.state = 'connecting';
    emit('state', hub);
    ws = new WebSocket(url);
    ws.onopen = () => {
      attempt = 0;
      hub.state = 'open';
      emit('state', hub);
      if (cameras.size > 0 || clips > 0 || events > 0)
        send({ type: 'subscribe', cameras: [...cameras.keys()], clips: clips > 0, events: events > 0 });
      emit('open', hub);
    };
    ws.onmessage = (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      emit(msg.type, msg);
      emit('*', msg);
    };
    let opened = false;
    ws.addEventListener('open', () => (opened = true));
    ws.onclose = async (e) => {
      // The server puts the VIGIL_ERR_… code in the reason of its own closes. A refused
      // handshake (token, Origin) is an HTTP answer a page cannot read (1006, no reason):
      // the same question over REST says which code it was.
      const reason = e.reason || (opened || closed ? '' : await refusalCode());
      hub.state = 'closed';
      hub.lastClose = { code: e.code, reason };
      emit('state', hub);
      emit('close', hub.lastClose);
      if (closed) return;
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt);
      attempt += 1;
      timer = setTimeout(connect, delay);
    };
  }

  /** The code the server refuses this page's requests with, or '' when it does not. */
  async function refusalCode() {
    try {
      const status = new URL(url);
      status.protocol = status.protocol === 'wss:' ? 'https:' : 'http:';
      status.pathname = '/api/status';
      const res = await fetch(status);
      if (res.ok) return '';
      return (await res.json())?.error?.code ?? `HTTP ${res.status}`;
    } catch {
      return '';
    }
  }

  hub.on = (type, fn) => {
    if (!listeners.has(type)) listeners.set(type, new Set());
    listeners.get(type).add(fn);
    return () => listeners.get(type).delete(fn);
  };

  /** Subscribes to a camera's status, label and segment messages until the returned release(). */
  hub.camera = (id) => {
    const n = cameras.get(id) ?? 0;
    cameras.set(id, n + 1);
    if (n === 0) send({ type: 'subscribe', cameras: [id] });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = cameras.get(id) - 1;
      if (left > 0) return cameras.set(id, left);
      cameras.delete(id);
      send({ type: 'unsubscribe', cameras: [id] });
    };
  };

  /** Subscribes to `clip` messages until the returned release(). */
  hub.clips = () => {
    clips += 1;
    if (clips === 1) send({ type: 'subscribe', clips: true });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      clips -= 1;
      if (clips === 0) send({ type: 'unsubscribe', clips: true });
    };
  };

  /** Subscribes to every camera's `event` messages (not their labels) until the returned release(). */
  hub.events = () => {
    events += 1;
    if (events === 1) send({ type: 'subscribe', events: true });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      events -= 1;
      if (events === 0) send({ type: 'unsubscribe', events: true });
    };
  };

  hub.close = () => {
    closed = true;
    clearTimeout(timer);
    ws?.close(1000);
  };

  connect();
  return hub;
}
