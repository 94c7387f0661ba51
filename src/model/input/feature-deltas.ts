/**
 * Velocities for the head: a model with `deltas` in its manifest sees each frame's features
 * followed by their change over each of its lags, [f_t, f_t − f_{t−k₁}, f_t − f_{t−k₂}, ...]
 * ((1 + lags) · dim floats), in training and inference alike. `deltas: true` is the lag
 * [1]. Before a stream has k frames since its reset, f_{t−k} is its first frame (zero change
 * on the first frame). A sigmoid RNN can in principle learn differences from its state, but
 * on small datasets it does not: for the pose features a fall is a change of height over
 * half a second more than a height, and one frame's change at 8 fps is mostly keypoint jitter.
 */
export interface FeatureDeltas {
  /** Consecutive frames of one stream, `batch * dim` floats; returns `batch * (1 + lags) * dim`. */
  apply(features: Float32Array, batch: number): Float32Array;
  /** Forgets the previous frames (a new clip or a reconnected stream). */
  reset(): void;
}

/** The lags a manifest's `deltas` means: none, [1] for `true`, or the list itself. */
export function deltaLags(deltas: boolean | readonly number[] | undefined): readonly number[] {
  if (deltas === undefined || deltas === false) return [];
  return deltas === true ? [1] : deltas;
}

/** @param lags frames back, each ≥ 1 (see {@link deltaLags}) */
export function createFeatureDeltas(dim: number, lags: readonly number[] = [1]): FeatureDeltas {
  const depth = Math.max(...lags);
  const width = (1 + lags.length) * dim;
  // The last `depth` rows, oldest first; copies, since `features` may be a view the extractor reuses.
  let history: Float32Array[] = [];
  return {
    apply(features, batch) {
      const out = new Float32Array(batch * width);
      for (let b = 0; b < batch; b++) {
        const row = features.subarray(b * dim, (b + 1) * dim);
        const at = b * width;
        out.set(row, at);
        lags.forEach((k, j) => {
          const p = history.length === 0 ? row : history[Math.max(history.length - k, 0)];
          const o = at + (j + 1) * dim;
          for (let d = 0; d < dim; d++) out[o + d] = row[d] - p[d];
        });
        history.push(row.slice());
        if (history.length > depth) history.shift();
      }
      return out;
    },
    reset() {
      history = [];
    },
  };
}

/** A whole clip's features (`steps * dim`) with deltas appended per frame, as the labeler computes them. */
export function appendDeltas(features: Float32Array, dim: number, steps: number, lags: readonly number[] = [1]): Float32Array {
  return createFeatureDeltas(dim, lags).apply(features, steps);
}
