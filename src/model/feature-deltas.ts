/**
 * Velocities for the head: a model with `deltas: true` in its manifest sees each frame's
 * features followed by their change since the previous frame, [f_t, f_t − f_{t−1}] (2·dim
 * floats; zero change for the first frame after a reset), in training and inference alike.
 * A sigmoid RNN can in principle learn differences from its state, but on small datasets
 * it does not: for the pose features a fall is a change of height more than a height.
 */
export interface FeatureDeltas {
  /** Consecutive frames of one stream, `batch * dim` floats; returns `batch * 2 * dim`. */
  apply(features: Float32Array, batch: number): Float32Array;
  /** Forgets the previous frame (a new clip or a reconnected stream). */
  reset(): void;
}

export function createFeatureDeltas(dim: number): FeatureDeltas {
  let prev: Float32Array | undefined;
  return {
    apply(features, batch) {
      const out = new Float32Array(batch * 2 * dim);
      for (let b = 0; b < batch; b++) {
        const row = features.subarray(b * dim, (b + 1) * dim);
        const p = prev ?? row;
        out.set(row, b * 2 * dim);
        for (let d = 0; d < dim; d++) out[b * 2 * dim + dim + d] = row[d] - p[d];
        prev = row;
      }
      // `features` may be a view the extractor reuses: keep a copy of the last row.
      prev = prev === undefined ? undefined : prev.slice();
      return out;
    },
    reset() {
      prev = undefined;
    },
  };
}

/** A whole clip's features (`steps * dim`) with deltas appended per frame, as the labeler computes them. */
export function appendDeltas(features: Float32Array, dim: number, steps: number): Float32Array {
  return createFeatureDeltas(dim).apply(features, steps);
}
