import { createHmac } from 'node:crypto';
import { vigilError, type VigilError } from '../errors.js';
import type { EventChange } from '../events/types.js';
import { maskUrl, type SinkState, type WebhookOptions } from './options.js';
import { permanent, type Sender } from './outbox.js';
import { wireType } from './topics.js';

export const SIGNATURE_HEADER = 'x-vigil-signature';

/** A webhook: a {@link Sender} that POSTs each change, plus its filter. */
export interface WebhookSink extends Sender {
  /** Whether this change is for this webhook (its `cameras` and `labels`). */
  accepts(change: EventChange): boolean;
  state(): SinkState;
  /** Aborts the request in flight. */
  close(): void;
}

/** The header value for `body`: `sha256=` + hex HMAC-SHA256 with the secret. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The body a webhook receives (and MQTT's `vigil/events` carries): `{ type, event }`. */
export function webhookBody(change: EventChange): string {
  return JSON.stringify({ type: wireType(change), event: change.event });
}

/**
 * POSTs `{ type, event }` as JSON, signed when a secret is set, with a timeout
 * [timeoutMs=5000]. A 2xx is delivered; a timeout, a network error, 408, 429 or 5xx is retried
 * by the outbox; any other answer (a 400, a redirect) cannot get better and is dropped.
 * Credentials in the URL become a Basic `Authorization` header (fetch refuses them in URLs).
 */
export function createWebhookSink(options: WebhookOptions, timeoutMs = 5000): WebhookSink {
  const shown = maskUrl(options.url);
  const target = new URL(options.url);
  const auth =
    target.username || target.password
      ? `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`
      : undefined;
  target.username = '';
  target.password = '';
  const cameras = options.cameras && new Set(options.cameras);
  const labels = options.labels && new Set(options.labels);
  const closed = new AbortController();
  let state: SinkState = 'up';
  const fail = (detail: string): VigilError => {
    state = 'down';
    return vigilError('VIGIL_ERR_SINK', `webhook ${shown}: ${detail}`);
  };

  return {
    name: `webhook:${shown}`,
    accepts: (c) => (!cameras || cameras.has(c.event.cameraId)) && (!labels || labels.has(c.event.label)),
    state: () => state,
    async deliver(payload) {
      const change = payload as EventChange;
      const body = webhookBody(change);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'vigil',
        'x-vigil-event': wireType(change),
      };
      if (options.secret !== undefined) headers[SIGNATURE_HEADER] = signature(options.secret, body);
      if (auth) headers.authorization = auth;
      let res: Response;
      // A timer of this call's own, not AbortSignal.any([AbortSignal.timeout(…), …]): Node 20 may
      // collect such a composite signal while the request waits, and a hung call never times out.
      const call = new AbortController();
      const onClose = () => call.abort();
      closed.signal.addEventListener('abort', onClose, { once: true });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        call.abort();
      }, timeoutMs);
      try {
        res = await fetch(target, { method: 'POST', headers, body, redirect: 'manual', signal: call.signal });
      } catch (e) {
        if (closed.signal.aborted) throw fail('closed');
        const err = e as Error & { cause?: { code?: string } };
        if (timedOut) throw fail(`no answer within ${timeoutMs} ms`);
        throw fail(err.cause?.code ?? err.message);
      } finally {
        clearTimeout(timer);
        closed.signal.removeEventListener('abort', onClose);
      }
      // Only the status matters: the body is not read, so a huge or endless one costs nothing.
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) {
        state = 'up';
        return;
      }
      const err = fail(`answered ${res.status}`);
      if (res.status === 408 || res.status === 429 || res.status >= 500) throw err;
      throw permanent(err);
    },
    close: () => closed.abort(),
  };
}
