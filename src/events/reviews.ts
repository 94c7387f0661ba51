import type { ModelManifest } from '../model/folder/manifest.js';
import type { Store } from '../store/index.js';
import { backgroundLabel, type Review } from '../train/adapt.js';
import type { ReviewState, VigilEvent } from './types.js';

/** Newest reviews of each kind an adaptation reads, so a camera reviewed for years stays one job's worth. */
export const MAX_REVIEWS_PER_KIND = 500;

/** What a camera's reviews of one model give an adaptation. */
export interface CameraReviews {
  /**
   * One per reviewed event, newest first. An event whose clip is gone (retention deleted it,
   * or it was never recorded) comes with an empty `clip`, so the adaptation counts it as
   * skipped rather than it vanishing from the figures.
   */
  reviews: Review[];
  /** Of those, the reviews without a clip. */
  withoutClip: number;
  /** Reviews made after the newest adapted version of this model was (all of them when none was). */
  sinceAdapted: number;
}

const REVIEWED: ReadonlyArray<Exclude<ReviewState, 'unreviewed'>> = ['confirmed', 'false_alarm'];

/**
 * The reviews of a camera's events of `model`, as {@link Review}s: a confirmation teaches the
 * event's label, a false alarm the model's background class, over the event's stretch in the
 * time of the recording it is linked to (events and recordings meet on the wall clock: both
 * store when the source showed their first frame).
 * @throws VIGIL_ERR_MODEL_NOT_ADAPTABLE (see {@link backgroundLabel})
 */
export async function cameraReviews(store: Store, cameraId: string, manifest: ModelManifest): Promise<CameraReviews> {
  const background = backgroundLabel(manifest);
  const since = await store.models.lastAdaptedAtMs(cameraId, manifest.name);
  const events: VigilEvent[] = [];
  for (const review of REVIEWED) {
    events.push(...(await store.events.list({ cameraId, model: manifest.name, review, limit: MAX_REVIEWS_PER_KIND })).events);
  }
  events.sort((a, b) => b.startedAtMs - a.startedAtMs);
  let withoutClip = 0;
  const reviews: Review[] = [];
  for (const e of events) reviews.push(await reviewOf(e));
  const sinceAdapted = events.filter((e) => (e.review.atMs ?? 0) > since).length;
  return { reviews, withoutClip, sinceAdapted };

  async function reviewOf(e: VigilEvent): Promise<Review> {
    const label = e.review.state === 'confirmed' ? e.label : background;
    const clip = e.clipId === null ? undefined : await store.clips.get(e.clipId);
    if (!clip || clip.startedAtMs === null) {
      withoutClip++;
      return { id: e.id, clip: '', label };
    }
    const endMs = e.endedAtMs - clip.startedAtMs;
    return {
      id: e.id,
      clip: await store.clips.videoPath(clip.id),
      label,
      startMs: Math.max(0, e.startedAtMs - clip.startedAtMs),
      endMs: clip.durationMs === null ? endMs : Math.min(clip.durationMs, endMs),
    };
  }
}
