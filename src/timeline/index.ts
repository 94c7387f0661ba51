/** The timeline stage: per-frame probabilities in, smoothed labels, segments and files out. */
export type { FrameProbs, Segment } from './types.js';
export {
  createSmoother,
  validateSmootherOptions,
  validateClasses,
  DEFAULT_SMOOTHER_OPTIONS,
  type Smoother,
  type SmootherOptions,
  type ResolvedSmootherOptions,
  type SmoothedFrame,
} from './smoother.js';
export { createSegmenter, buildTimeline, type Segmenter, type SegmentEvent, type BuildTimelineOptions, type Timeline } from './segments.js';
export {
  toTimelineJson,
  combineTimelines,
  toWebVtt,
  toTable,
  TIMELINE_SCHEMA,
  type TimelineJson,
  type TimelineModelJson,
  type TimelineJsonInput,
  type TimelineSourceJson,
  type TimelineFrameJson,
  type TimelineSegmentJson,
  type WebVttOptions,
} from './format.js';
