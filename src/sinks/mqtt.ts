import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { connect, type IClientPublishOptions, type MqttClient } from 'mqtt';
import { vigilError, type VigilError } from '../errors.js';
import type { EventChange, VigilEvent } from '../events/types.js';
import { log } from '../log.js';
import { maskUrl, type MqttOptions, type SinkState } from './options.js';
import type { Sender } from './outbox.js';
import { discoveryConfig, statePayload, topicsOf, wireType, type CameraInfo } from './topics.js';

/** How long a clean disconnect may take before it is forced. */
const CLOSE_MS = 2000;

/** The MQTT sink: a {@link Sender} of EventChanges plus what it publishes on its own. */
export interface MqttSink extends Sender {
  state(): SinkState;
  lastError(): VigilError | null;
  /** Publishes `<prefix>/<camera>/status` (retained) when connected; the latest is republished on every connect. */
  cameraStatus(cameraId: string, state: string): void;
  /** Publishes the discovery configs of cameras not announced on this connection yet (one was added). */
  announce(): void;
  /**
   * A camera was deleted: empties its retained topics (discovery configs, states, snapshots,
   * status), now or on the next connect, so Home Assistant drops its device. Its events still
   * go to `<prefix>/events`; a late one no longer sets its state.
   */
  forget(cameraId: string): void;
  /** Publishes `offline` (retained) and disconnects cleanly; stops reconnecting. */
  close(): Promise<void>;
}

/**
 * @property cameras what to announce to Home Assistant (called on every connect)
 * @property [snapshotPath] the JPEG of an event, or null when it has none (yet)
 * @property [minBackoffMs=1000] first reconnect delay, doubled per failure
 * @property [maxBackoffMs=30000] longest reconnect delay
 * @property [publishTimeoutMs=30000] a publish the broker never acknowledges fails after this
 * @property [onUp] called on every (re)connect: the outbox retries at once
 */
export interface MqttSinkOptions {
  options: MqttOptions;
  cameras: () => Promise<readonly CameraInfo[]> | readonly CameraInfo[];
  snapshotPath?: (event: VigilEvent) => Promise<string | null> | string | null;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  publishTimeoutMs?: number;
  onUp?: () => void;
}

/**
 * Connects to the broker with `<prefix>/available` = `offline` as the last will, and keeps
 * reconnecting with exponential backoff (MQTT.js' own reconnect is off: its fixed period and
 * its in-memory resend queue would duplicate what the outbox resends). On each connect it
 * publishes `online`, the discovery configs and the retained states it last published (a
 * broker restarted without persistence has forgotten them), then tells the outbox to go on.
 */
export function createMqttSink(o: MqttSinkOptions): MqttSink {
  const opts = o.options;
  const topics = topicsOf(opts.topicPrefix, opts.discoveryPrefix);
  const shownUrl = maskUrl(opts.url);
  const minBackoffMs = o.minBackoffMs ?? 1000;
  const maxBackoffMs = o.maxBackoffMs ?? 30_000;
  const publishTimeoutMs = o.publishTimeoutMs ?? 30_000;
  const name = 'mqtt';
  let state: SinkState = 'starting';
  let lastError: VigilError | null = null;
  let failures = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let closing = false;
  /** The retained messages that describe now (states, statuses), republished on connect. */
  const retained = new Map<string, string>();
  /** Snapshot topic → the file version last published there. */
  const snapshotsSent = new Map<string, string>();
  const announced = new Set<string>();
  /** Each camera as last announced or asked for, so a deleted one's topics are known. */
  const seen = new Map<string, CameraInfo>();
  /** Deleted cameras, and their retained topics still to empty (publishing an empty retained payload deletes one). */
  const gone = new Set<string>();
  const toClear = new Set<string>();
  /** Rejects what is in flight when the connection drops: MQTT.js would otherwise hold it forever. */
  const inflight = new Set<(e: VigilError) => void>();

  const sinkError = (detail: string) => vigilError('VIGIL_ERR_SINK', `mqtt ${shownUrl}: ${detail}`);

  const client: MqttClient = connect(opts.url, {
    clientId: opts.clientId ?? `vigil-${randomBytes(4).toString('hex')}`,
    username: opts.username,
    password: opts.password,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    will: { topic: topics.available, payload: Buffer.from('offline'), qos: 1, retain: true },
  });

  client.on('connect', () => {
    failures = 0;
    announced.clear();
    void (async () => {
      try {
        await publish(topics.available, 'online', { qos: 1, retain: true });
        await announceAll();
        for (const [topic, payload] of retained) await publish(topic, payload, { qos: 1, retain: true });
        await clearForgotten();
      } catch (e) {
        // The connection dropped again while announcing: 'close' handles it.
        log.debug(`mqtt: announcing: ${(e as Error).message}`);
        return;
      }
      if (!client.connected || closing) return;
      if (state !== 'up') log.info(`mqtt: connected to ${shownUrl}`);
      state = 'up';
      lastError = null;
      o.onUp?.();
    })();
  });
  client.on('error', (e: Error & { code?: unknown }) => {
    lastError = sinkError(typeof e.code === 'string' ? `${e.code} (${e.message})` : e.message);
  });
  client.on('close', () => {
    const lost = sinkError(state === 'up' ? 'connection lost' : 'cannot connect');
    for (const reject of inflight) reject(lost);
    inflight.clear();
    if (closing) return;
    if (state !== 'down') log.warn(`mqtt: ${(lastError ?? lost).message}; retrying`);
    if (state === 'up' || lastError === null) lastError = lost;
    state = 'down';
    if (reconnectTimer) return;
    const delay = Math.min(maxBackoffMs, minBackoffMs * 2 ** Math.min(30, failures));
    failures += 1;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (!closing) client.reconnect();
    }, delay);
  });

  function publish(topic: string, payload: string | Buffer, options: IClientPublishOptions, timeoutMs = publishTimeoutMs): Promise<void> {
    if (!client.connected) return Promise.reject(sinkError('not connected'));
    return new Promise<void>((done, fail) => {
      const timer = setTimeout(() => settle(sinkError(`no acknowledgement within ${timeoutMs} ms`)), timeoutMs);
      const settle = (e?: VigilError) => {
        clearTimeout(timer);
        inflight.delete(settle);
        if (e) fail(e);
        else done();
      };
      inflight.add(settle);
      client.publish(topic, payload, options, (e) => settle(e ? sinkError(e.message) : undefined));
    });
  }

  /** What the cameras are now; a camera id that comes back is not gone any more. */
  async function current(): Promise<readonly CameraInfo[]> {
    const cameras = await o.cameras();
    for (const camera of cameras) {
      seen.set(camera.id, camera);
      gone.delete(camera.id);
    }
    return cameras;
  }

  async function clearForgotten(): Promise<void> {
    for (const topic of [...toClear]) {
      await publish(topic, '', { qos: 1, retain: true });
      toClear.delete(topic);
    }
  }

  async function announceAll(): Promise<void> {
    for (const camera of await current()) {
      // Keyed by what the config says, so a camera whose name or models changed is announced again.
      const key = JSON.stringify(camera);
      if (announced.has(key)) continue;
      if (opts.discovery) {
        for (const label of camera.labels) {
          await publish(topics.discovery(camera.id, label), JSON.stringify(discoveryConfig(topics, camera, label)), {
            qos: 1,
            retain: true,
          });
        }
      }
      announced.add(key);
    }
  }

  async function publishSnapshot(event: VigilEvent): Promise<void> {
    const path = event.snapshot ? await o.snapshotPath?.(event) : null;
    if (!path) return;
    const topic = topics.snapshot(event.cameraId, event.label);
    let version: string;
    try {
      const s = await stat(path);
      version = `${event.id}:${s.mtimeMs}:${s.size}`;
    } catch {
      return; // not written yet, or removed by retention: the next change carries it
    }
    if (snapshotsSent.get(topic) === version) return;
    await publish(topic, await readFile(path), { qos: 1, retain: true });
    snapshotsSent.set(topic, version);
  }

  return {
    name,
    async deliver(payload) {
      const change = payload as EventChange;
      const event = change.event;
      await publish(topics.events, JSON.stringify({ type: wireType(change), event }), { qos: 1 });
      // The outbox may hold the last changes of a camera deleted since: its retained topics stay empty.
      if (gone.has(event.cameraId)) return;
      const stateTopic = topics.state(event.cameraId, event.label);
      const on = statePayload(event);
      await publish(stateTopic, on, { qos: 1, retain: true });
      retained.set(stateTopic, on);
      await publishSnapshot(event);
    },
    state: () => state,
    lastError: () => lastError,
    cameraStatus(cameraId, cameraState) {
      if (gone.has(cameraId)) return;
      const topic = topics.status(cameraId);
      if (retained.get(topic) === cameraState) return;
      retained.set(topic, cameraState);
      if (client.connected) publish(topic, cameraState, { qos: 1, retain: true }).catch(() => undefined);
    },
    announce() {
      if (client.connected) announceAll().catch(() => undefined);
      else current().catch(() => undefined);
    },
    forget(cameraId) {
      const camera = seen.get(cameraId);
      seen.delete(cameraId);
      gone.add(cameraId);
      const labels = camera?.labels ?? [];
      const owned = [
        ...(opts.discovery ? labels.map((l) => topics.discovery(cameraId, l)) : []),
        ...labels.flatMap((l) => [topics.state(cameraId, l), topics.snapshot(cameraId, l)]),
        topics.status(cameraId),
      ];
      // State and snapshot topics of labels that are not alerts any more were published too.
      const prefix = topics.status(cameraId).slice(0, -'status'.length);
      for (const topic of [...retained.keys(), ...snapshotsSent.keys()]) if (topic.startsWith(prefix)) owned.push(topic);
      for (const topic of owned) {
        retained.delete(topic);
        snapshotsSent.delete(topic);
        toClear.add(topic);
      }
      for (const key of announced) if ((JSON.parse(key) as CameraInfo).id === cameraId) announced.delete(key);
      if (client.connected) clearForgotten().catch(() => undefined);
    },
    async close() {
      closing = true;
      clearTimeout(reconnectTimer);
      if (client.connected) {
        try {
          await publish(topics.available, 'offline', { qos: 1, retain: true }, CLOSE_MS);
        } catch {
          // the broker went away meanwhile: the last will says the same
        }
        // A broker that stops answering must not hold the server's shutdown.
        const ended = client.endAsync(false);
        const late = await Promise.race([
          ended.then(() => false),
          new Promise<boolean>((done) => setTimeout(done, CLOSE_MS, true).unref()),
        ]);
        if (late) await client.endAsync(true);
      } else {
        await client.endAsync(true);
      }
      for (const reject of inflight) reject(sinkError('closed'));
      inflight.clear();
    },
  };
}
