import type * as tf from '@tensorflow/tfjs';

/** Shape without the batch axis, e.g. [112, 112, 32]. */
function dims(shape: tf.Shape | tf.Shape[]): number[] {
  const s = (Array.isArray(shape[0]) ? shape[0] : shape) as (number | null)[];
  return s.slice(1).map((d) => d ?? 1);
}

const product = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/**
 * Floating-point operations for one input through a layers model, counting a multiply-add
 * as 2 (the convention GFLOP/s figures use). Convolutions and dense layers dominate; the
 * rest (BN, ReLU, adds, pooling) count one op per output element, which is close enough
 * for a throughput figure.
 */
export function countFlops(model: tf.LayersModel): number {
  let flops = 0;
  for (const layer of model.layers) {
    const out = dims(layer.outputShape);
    const cfg = layer.getConfig() as { kernelSize?: number[] | number; depthMultiplier?: number };
    const kernel = Array.isArray(cfg.kernelSize) ? product(cfg.kernelSize) : (cfg.kernelSize ?? 1) ** 2;
    switch (layer.getClassName()) {
      case 'Conv2D': {
        const cin = dims(layer.inputSpec?.[0]?.shape ?? (layer.input as tf.SymbolicTensor).shape).at(-1)!;
        flops += 2 * product(out) * kernel * cin;
        break;
      }
      case 'DepthwiseConv2D':
        flops += 2 * product(out) * kernel;
        break;
      case 'Dense': {
        const cin = dims((layer.input as tf.SymbolicTensor).shape).at(-1)!;
        flops += 2 * product(out) * cin;
        break;
      }
      case 'InputLayer':
        break;
      default:
        flops += product(out);
    }
  }
  return flops;
}
