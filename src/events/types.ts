/**
 * The event: a stretch of time on one camera where one model's alert class holds. This is
 * the unit people act on (review, notifications); the store keeps it, the sinks push it.
 * Wire shape (REST, WebSocket `event`, MQTT `vigil/events`, webhooks) = {@link VigilEvent}.
 */

export const REVIEW_STATES = ['unreviewed', 'confirmed', 'false_alarm'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];

export interface Review {
  state: ReviewState;
  /** Free text, at most 1000 characters. */
  note?: string;
  /** Who reviewed (free text from the client, at most 100 characters). */
  by?: string;
  /** When (epoch ms). */
  atMs?: number;
}

export interface VigilEvent {
  /** `ev_` + 16 hex, unique. */
  id: string;
  cameraId: string;
  /** The model that saw it (its name). */
  model: string;
  /** The alert class, e.g. `fight`, `falling`. */
  label: string;
  /** Stream time (the camera's `tMs` clock), ms. */
  startMs: number;
  /** Stream time of the last labelled frame in it; grows while active. */
  endMs: number;
  /** Wall clock (epoch ms) of `startMs` and `endMs`: when the source showed those frames. */
  startedAtMs: number;
  endedAtMs: number;
  /** Highest and mean probability of `label` over the event: its segment's `peak` and `confidence` (raw per-frame probabilities). */
  peak: number;
  mean: number;
  state: 'active' | 'ended';
  /** Whether a snapshot JPEG (taken at the peak) exists: `GET /api/events/:id/snapshot.jpg`. */
  snapshot: boolean;
  /** The recorded clip covering it, when the camera records. */
  clipId: string | null;
  review: Review;
}

/** What an event stream says happened: a sink or a WebSocket client gets these, in order per event. */
export type EventChange = { type: 'start' | 'update' | 'end' | 'review'; event: VigilEvent };

/** Per camera and model: which classes make events, and the thresholds. */
export interface AlertRule {
  /** Classes that are alerts; default: the manifest's `alerts`. */
  labels: readonly string[];
  /** An alert segment becomes an event only once it has lasted this long [minDurationMs=0]. */
  minDurationMs: number;
  /** ... and its peak reached this [minConfidence=0]. */
  minConfidence: number;
}

/** A segment an `events` mode recording was kept for: the event with these is the clip's own. */
export interface RecordedFor {
  model: string;
  label: string;
  /** Stream time, as the event's `startMs`. */
  startMs: number;
}
