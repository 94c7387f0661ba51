import { vigilError } from '../../../errors.js';
import type { RecurrentHead } from '../../head/recurrent-head.js';
import { headSequenceModel, headStepModel, ONNX_IO, type HeadWeights } from './head.js';
import { createSession, type SessionOptions } from './runtime.js';

/**
 * The recurrent head on onnxruntime: `step` runs the one-step graph (state in, state out),
 * `sequence` the graph built on ONNX's RNN operator. Both are tiny, so they are converted at
 * load rather than cached on disk.
 */
export function createOrtRecurrentHead(w: HeadWeights, options: SessionOptions = {}): RecurrentHead {
  const { featureSize, hidden, numClasses } = w;
  // The head is ~1 MFLOP a step: a second thread would only add a hand-off.
  const stepSession = createSession(headStepModel(w), { ...options, threads: 1 });
  const seqSession = createSession(headSequenceModel(w), { ...options, threads: 1 });

  const check = (what: string, got: number, want: number) => {
    if (got !== want) throw vigilError('VIGIL_ERR_INVALID_ARGUMENT', `${what} has ${got} floats, expected ${want}`);
  };

  return {
    featureSize,
    hidden,
    numClasses,
    step(x, h, batch = 1) {
      check('x', x.length, batch * featureSize);
      check('h', h.length, batch * hidden);
      const out = stepSession.run({
        [ONNX_IO.x]: { data: x, dims: [batch, featureSize] },
        [ONNX_IO.h]: { data: h, dims: [batch, hidden] },
      });
      return { probs: out[ONNX_IO.probs], h: out[ONNX_IO.hNext] };
    },
    sequence(x, steps, h0) {
      check('x', x.length, steps * featureSize);
      const h = h0 ?? new Float32Array(hidden);
      check('h0', h.length, hidden);
      if (steps === 0) return { probs: new Float32Array(0), h: Float32Array.from(h) };
      const out = seqSession.run({ [ONNX_IO.x]: { data: x, dims: [steps, 1, featureSize] }, [ONNX_IO.h]: { data: h, dims: [1, hidden] } });
      return { probs: out[ONNX_IO.probs], h: out[ONNX_IO.hNext] };
    },
    dispose() {
      stepSession.dispose();
      seqSession.dispose();
    },
  };
}
