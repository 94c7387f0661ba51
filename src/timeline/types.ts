/** Per-frame class probabilities, as the labeler emits them. */
export interface FrameProbs {
  readonly tMs: number;
  /** One probability per class, in the model's class order; sums to 1. */
  readonly probs: ArrayLike<number>;
}

export interface Segment {
  readonly label: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Mean probability of `label` over the segment's frames. */
  readonly confidence: number;
  /** Highest probability of `label` in the segment. */
  readonly peak: number;
}
