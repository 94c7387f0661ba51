import { vigilError } from '../../../errors.js';

/** A weight spec as a tfjs `model.json` lists it (`weightsManifest[].weights[]`). */
export interface GraphWeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  /** Stored quantised: float16, or uint8 / uint16 as `v * scale + min`. */
  readonly quantization?: { readonly dtype: string; readonly scale?: number; readonly min?: number };
}

/** A constant of a graph model: float32 or int32, row-major in TF layout. */
export interface GraphTensor {
  readonly dtype: 'float' | 'int';
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

const BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, float16: 2, uint8: 1, uint16: 2 };

/** IEEE half to float (exact: every half is a float32). */
function half(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/**
 * The weights of a tfjs graph model, by name, read from its concatenated weight files the way
 * tfjs does (specs in order, each `prod(shape)` values; quantised ones dequantised).
 * @throws VIGIL_ERR_ONNX_UNSUPPORTED for a dtype other than float32 / int32 (or their
 *   float16 / uint8 / uint16 quantisations); VIGIL_ERR_INTERNAL when the bytes run short.
 */
export function decodeGraphWeights(specs: readonly GraphWeightSpec[], bytes: Uint8Array): Map<string, GraphTensor> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, GraphTensor>();
  let at = 0;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const stored = spec.quantization?.dtype ?? spec.dtype;
    const size = BYTES[stored];
    if (size === undefined || (spec.dtype !== 'float32' && spec.dtype !== 'int32') || (spec.dtype === 'int32' && stored === 'float16')) {
      throw vigilError(
        'VIGIL_ERR_ONNX_UNSUPPORTED',
        `weight "${spec.name}": dtype ${spec.dtype}${spec.quantization ? ` stored as ${stored}` : ''}; only float32 and int32`,
      );
    }
    if (at + n * size > bytes.byteLength) {
      throw vigilError(
        'VIGIL_ERR_INTERNAL',
        `graph weights: "${spec.name}" needs bytes ${at}-${at + n * size}, the files hold ${bytes.byteLength}`,
      );
    }
    const data = spec.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
    const { scale = 1, min = 0 } = spec.quantization ?? {};
    // Dequantised ints round to the nearest, as tfjs does.
    const affine = spec.dtype === 'int32' ? (v: number) => Math.round(v * scale + min) : (v: number) => v * scale + min;
    for (let i = 0; i < n; i++) {
      const o = at + i * size;
      switch (stored) {
        case 'float32':
          data[i] = view.getFloat32(o, true);
          break;
        case 'int32':
          data[i] = view.getInt32(o, true);
          break;
        case 'float16':
          data[i] = half(view.getUint16(o, true));
          break;
        case 'uint8':
          data[i] = affine(view.getUint8(o));
          break;
        default:
          data[i] = affine(view.getUint16(o, true));
      }
    }
    out.set(spec.name, { dtype: spec.dtype === 'int32' ? 'int' : 'float', shape: spec.shape.slice(), data });
    at += n * size;
  }
  return out;
}
