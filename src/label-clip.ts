import { log } from './log.js';
import { createLabeler } from './model/labeler.js';
import type { VigilModel } from './model/model.js';
import { buildTimeline } from './timeline/segments.js';
import { toTimelineJson, type TimelineJson } from './timeline/format.js';
import type { FrameProbs } from './timeline/types.js';
import { inBatches } from './video/batches.js';
import { probe } from './video/probe.js';

export interface LabelClipOptions {
  /** Sampling rate [fps=the model's]; another rate changes what the recurrent head sees. */
  fps?: number;
  /** Smoothing [the model's]. */
  windowMs?: number;
  minHoldMs?: number;
  /** [batch=8] frames per CNN call. */
  batch?: number;
  /** Aborts: labelling stops and the promise rejects with VIGIL_ERR_ABORTED. */
  signal?: AbortSignal;
  /**
   * Ends early without failing: decoding stops and the timeline so far is returned, ending at
   * the last labelled frame (Ctrl-C on a live camera: what it saw until then).
   */
  stop?: AbortSignal;
  /** Called after each batch with the stream time reached and the clip length (ms, or null). */
  onProgress?: (tMs: number, durationMs: number | null) => void;
}

/**
 * Labels a recorded clip (file or URL) end to end: probe, decode at the model's rate and
 * size, CNN in batches, recurrent head carried across batches, smoothed timeline.
 *
 * @example
 *   const model = await loadModel('fight');
 *   const timeline = await labelClip('hall.mp4', model);
 *   console.log(toTable(timeline.segments));
 */
export async function labelClip(source: string, model: VigilModel, options: LabelClipOptions = {}): Promise<TimelineJson> {
  const { manifest } = model;
  const fps = options.fps ?? manifest.fps;
  if (fps !== manifest.fps) log.warn(`sampling at ${fps} fps; model ${manifest.name} was trained at ${manifest.fps} fps`);
  const info = await probe(source, { signal: options.signal });
  const durationMs = info.durationS === null ? null : info.durationS * 1000;
  const batchSize = options.batch ?? 8;
  const labeler = createLabeler(model, { maxBatch: batchSize });
  const probs: FrameProbs[] = [];
  const frames = model.openFrames(source, { fps, signal: options.signal });
  // Closing the source ends the loop normally, even while it waits on a silent camera.
  const onStop = () => void frames.close();
  options.stop?.addEventListener('abort', onStop, { once: true });
  try {
    for await (const batch of inBatches(frames, batchSize)) {
      for (const p of await labeler.labelBatch(batch)) probs.push({ tMs: p.tMs, probs: Array.from(p.probs) });
      options.onProgress?.(batch[batch.length - 1].tMs, durationMs);
    }
  } finally {
    options.stop?.removeEventListener('abort', onStop);
  }
  const stopped = options.stop?.aborted === true;

  const smoothing = {
    ...manifest.smoothing,
    windowMs: options.windowMs ?? manifest.smoothing.windowMs,
    minHoldMs: options.minHoldMs ?? manifest.smoothing.minHoldMs,
  };
  const endMs = !stopped && durationMs !== null && probs.length > 0 && durationMs > probs[probs.length - 1].tMs ? durationMs : undefined;
  const timeline = buildTimeline(manifest.classes, probs, { ...smoothing, endMs });
  return toTimelineJson({
    source: { uri: source, width: info.width, height: info.height, codec: info.codec },
    model: { name: manifest.name, version: manifest.version },
    classes: manifest.classes,
    fps,
    durationMs,
    frames: timeline.frames,
    segments: timeline.segments,
    options: smoothing,
  });
}
