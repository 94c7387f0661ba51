import { vigilError } from '../errors.js';
import { log } from '../log.js';
import { alertLabels, type ModelManifest } from '../model/folder/manifest.js';
import type { ReviewInput, Store } from '../store/index.js';
import { createEventTracker, type EventTracker } from './tracker.js';
import type { AlertRule, EventChange, RecordedFor, VigilEvent } from './types.js';

/**
 * Events as the server runs them: a tracker per camera, reviews and deletes from the API, and
 * one ordered stream of changes that the WebSocket hub and any other part (MQTT, webhooks)
 * subscribe to.
 */
export interface EventService {
  /** A tracker for a camera running `manifest`; `snapshot` gives the camera's latest JPEG. */
  track(o: { cameraId: string; manifest: ModelManifest; snapshot: () => Buffer | undefined }): EventTracker;
  /**
   * Calls `listener` with every change from now on, in order per event. A listener that
   * throws is logged and kept; a slow one slows labelling, so hand work off (an outbox).
   * @returns unsubscribe
   */
  subscribe(listener: (change: EventChange) => void): () => void;
  /** Sets an event's review and tells subscribers (`review`). @throws VIGIL_ERR_NOT_FOUND, VIGIL_ERR_INVALID_ARGUMENT */
  review(id: string, input: ReviewInput): Promise<VigilEvent>;
  /** @throws VIGIL_ERR_NOT_FOUND */
  remove(id: string): Promise<void>;
  /**
   * A recording is ready: the events of its camera it covers link to it (an `update` each).
   * With `recordedFor` (an `events` mode clip) only the events of those segments do: their own
   * clip, not one that covers them by its pre- or post-roll. Never rejects (a failure is logged).
   */
  clipReady(clipId: string, recordedFor?: readonly RecordedFor[]): Promise<void>;
  /**
   * A camera is about to start here: the events its last runner left active end where they had
   * got (their stored figures), an `end` each. That runner died mid-event: a fleet node killed,
   * or this server on PostgreSQL, whose start leaves other nodes' events alone (on SQLite the
   * start's reconcile has ended them already). Never rejects (a failure is logged).
   */
  takeOver(cameraId: string): Promise<void>;
}

export interface EventServiceOptions {
  store: Store;
  /** Thresholds for every camera; the labels come from each model's manifest [minDurationMs=0, minConfidence=0]. */
  rule?: Partial<Omit<AlertRule, 'labels'>>;
  /** Least stream time between an event's `update` changes [everyMs=1000]. */
  everyMs?: number;
  /** A camera's own alert settings (the config file's `cameras[].alerts`), over `rule` and the manifest's. */
  alertsFor?: (cameraId: string) => Partial<AlertRule> | undefined;
}

export function createEventService(o: EventServiceOptions): EventService {
  const { store } = o;
  const listeners = new Set<(change: EventChange) => void>();

  function emit(change: EventChange): void {
    for (const l of listeners) {
      try {
        l(change);
      } catch (e) {
        log.warn(`event listener failed on ${change.type} of ${change.event.id}: ${(e as Error).message}`);
      }
    }
  }

  return {
    track({ cameraId, manifest, snapshot }) {
      const own = o.alertsFor?.(cameraId);
      const rule: AlertRule = {
        // A camera may narrow the model's alerts, or name other classes of it (checked at config load).
        labels: own?.labels ?? alertLabels(manifest),
        minDurationMs: own?.minDurationMs ?? o.rule?.minDurationMs ?? 0,
        minConfidence: own?.minConfidence ?? o.rule?.minConfidence ?? 0,
      };
      return createEventTracker({ cameraId, model: manifest.name, rule, repo: store.events, snapshot, onChange: emit, everyMs: o.everyMs });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    async review(id, input) {
      const event = await store.events.review(id, input);
      emit({ type: 'review', event });
      return event;
    },
    async remove(id) {
      if (!(await store.events.remove(id))) throw vigilError('VIGIL_ERR_NOT_FOUND', `event ${id}`);
    },
    async clipReady(clipId, recordedFor) {
      try {
        const clip = await store.clips.get(clipId);
        if (!clip || clip.kind !== 'recording' || clip.cameraId === null || clip.startedAtMs === null) return;
        const toMs = clip.startedAtMs + (clip.durationMs ?? 0);
        for (const event of await store.events.linkClip(clip.cameraId, clip.id, clip.startedAtMs, toMs, recordedFor))
          emit({ type: 'update', event });
      } catch (e) {
        log.warn(`events: linking clip ${clipId}: ${(e as Error).message}`);
      }
    },
    async takeOver(cameraId) {
      try {
        const ended = await store.events.endActive(cameraId);
        if (ended.length > 0) log.info(`camera ${cameraId}: ended ${ended.length} event(s) its last runner left open`);
        for (const event of ended) emit({ type: 'end', event });
      } catch (e) {
        log.warn(`camera ${cameraId}: ending the events its last runner left open: ${(e as Error).message}`);
      }
    },
  };
}
