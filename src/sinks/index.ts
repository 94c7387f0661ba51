import type { ErrorCode, VigilError } from '../errors.js';
import type { EventChange, VigilEvent } from '../events/types.js';
import { log } from '../log.js';
import type { OutboxRepo } from '../store/index.js';
import { createMqttSink, type MqttSink } from './mqtt.js';
import type { SinkState, SinksOptions } from './options.js';
import { createDelivery, type Delivery } from './outbox.js';
import type { CameraInfo } from './topics.js';
import { createWebhookSink, type WebhookSink } from './webhook.js';

export { parseSinksOptions, SINKS_SCHEMA, type SinksInput, type SinksOptions } from './options.js';
export type { CameraInfo } from './topics.js';

/** One sink in `GET /api/status`. */
export interface SinkStatus {
  /** `mqtt`, or `webhook:<url without password>`. */
  name: string;
  state: SinkState;
  /** Messages waiting in its outbox. */
  queued: number;
  /** Messages given up since the server started (over the bound, or refused for good). */
  dropped: number;
  lastError: { code: ErrorCode; message: string } | null;
}

/** Where EventChanges come from (the event service). */
export interface EventFeed {
  subscribe(listener: (change: EventChange) => void): () => void;
}

/** Every configured sink behind one door: what the server holds. */
export interface Sinks {
  /** Queues a change for every sink it is for. Returns at once, never throws: each sink stores its changes in call order (a store failure is logged). */
  publish(change: EventChange): void;
  /** Publishes every change of `feed`; returns the unsubscribe. */
  attach(feed: EventFeed): () => void;
  /** A camera's state changed (`<prefix>/<camera>/status`). */
  cameraStatus(cameraId: string, state: string): void;
  /** Cameras were added or changed: announce the new ones to Home Assistant. */
  camerasChanged(): void;
  /** A camera was deleted: its retained MQTT topics are emptied (see MqttSink.forget). */
  cameraRemoved(cameraId: string): void;
  statuses(): SinkStatus[];
  /** Stops delivery (what is queued stays in the outbox for the next start) and disconnects. */
  close(): Promise<void>;
}

/**
 * @property [snapshotPath] the file of an event's snapshot JPEG, or null
 * @property [timing] backoff, bound and timeout overrides (tests)
 */
export interface SinksDeps {
  options: SinksOptions;
  outbox: OutboxRepo;
  cameras: () => Promise<readonly CameraInfo[]> | readonly CameraInfo[];
  snapshotPath?: (event: VigilEvent) => Promise<string | null> | string | null;
  timing?: { minBackoffMs?: number; maxBackoffMs?: number; maxRows?: number; webhookTimeoutMs?: number };
}

interface Entry {
  name: string;
  accepts(change: EventChange): boolean;
  state(): SinkState;
  delivery: Delivery;
  /** The connection's error first (a broker that is down), else the last failed send. */
  lastError(): VigilError | null;
  close(): Promise<void> | void;
}

/**
 * Starts the configured sinks: each gets its own outbox queue, so a webhook that is down holds
 * back only itself. Rows of sinks no longer configured are removed (and logged).
 */
export async function createSinks(deps: SinksDeps): Promise<Sinks> {
  const { options, outbox, timing = {} } = deps;
  const entries: Entry[] = [];
  let mqtt: MqttSink | undefined;
  const delivery = (sender: MqttSink | WebhookSink) =>
    createDelivery({ repo: outbox, sender, maxRows: timing.maxRows, minBackoffMs: timing.minBackoffMs, maxBackoffMs: timing.maxBackoffMs });

  if (options.mqtt) {
    let d: Delivery | undefined;
    const sink = createMqttSink({
      options: options.mqtt,
      cameras: deps.cameras,
      snapshotPath: deps.snapshotPath,
      minBackoffMs: timing.minBackoffMs,
      maxBackoffMs: timing.maxBackoffMs,
      onUp: () => d?.kick(),
    });
    const own = (d = await delivery(sink));
    mqtt = sink;
    entries.push({
      name: sink.name,
      accepts: () => true,
      state: () => sink.state(),
      delivery: own,
      lastError: () => (sink.state() === 'up' ? own.stats().lastError : sink.lastError()),
      close: () => sink.close(),
    });
  }
  for (const w of options.webhooks) {
    const sink = createWebhookSink(w, timing.webhookTimeoutMs);
    if (entries.some((e) => e.name === sink.name)) continue; // the same URL twice: one delivery
    const own = await delivery(sink);
    entries.push({
      name: sink.name,
      accepts: (c) => sink.accepts(c),
      state: () => sink.state(),
      delivery: own,
      lastError: () => own.stats().lastError,
      close: () => sink.close(),
    });
  }
  const gone = await outbox.removeOtherSinks(entries.map((e) => e.name));
  if (gone > 0) log.warn(`sinks: removed ${gone} queued message(s) of sinks no longer configured`);

  const publish = (change: EventChange) => {
    for (const e of entries) {
      if (!e.accepts(change)) continue;
      // Not awaited: the delivery queues in call order itself, and the labelling path must not wait.
      e.delivery.enqueue(change).catch((err: unknown) => log.error(`sink ${e.name}: cannot queue: ${(err as Error).message}`));
    }
  };

  return {
    publish,
    attach: (feed) => feed.subscribe(publish),
    cameraStatus: (cameraId, state) => mqtt?.cameraStatus(cameraId, state),
    camerasChanged: () => mqtt?.announce(),
    cameraRemoved: (cameraId) => mqtt?.forget(cameraId),
    statuses: () =>
      entries.map((e) => {
        const s = e.delivery.stats();
        const lastError = e.lastError();
        return {
          name: e.name,
          state: e.state(),
          queued: s.queued,
          dropped: s.dropped,
          lastError: lastError && { code: lastError.code, message: lastError.message },
        };
      }),
    async close() {
      await Promise.all(
        entries.map(async (e) => {
          // Let a send in flight finish (bounded by its own timeouts), then disconnect.
          const stopped = e.delivery.stop();
          await Promise.race([stopped, new Promise((done) => setTimeout(done, 2000).unref())]);
          await e.close();
          await stopped;
        }),
      );
    },
  };
}
