import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/runtime/backend.js';
import { convertGraphModel, type TfGraphModelJson } from '../../src/model/runtime/onnx/graph.js';
import { GRAPH_OP_EMITTERS, type TfAttr, type TfNode } from '../../src/model/runtime/onnx/graph-ops.js';
import type { GraphWeightSpec } from '../../src/model/runtime/onnx/graph-weights.js';
import { createSession } from '../../src/model/runtime/onnx/runtime.js';
import { loadGraphModelFromMemory } from '../../src/model/runtime/tfjs-memory.js';
import { expectCoded, thrown } from '../helpers/errors.js';
import { maxAbsDiff, uniform } from '../helpers/numbers.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const A = {
  i: (i: number): TfAttr => ({ i: String(i) }),
  b: (b: boolean): TfAttr => ({ b }),
  s: (s: string): TfAttr => ({ s: b64(s) }),
  ints: (xs: number[]): TfAttr => ({ list: { i: xs.map(String) } }),
  strs: (xs: string[]): TfAttr => ({ list: { s: xs.map(b64) } }),
  type: (t: 'DT_FLOAT' | 'DT_INT32'): TfAttr => ({ type: t }),
};

/** A tfjs graph model written by hand, the way tfjs' converter writes model.json. */
function graphBuilder() {
  const nodes: TfNode[] = [];
  const specs: GraphWeightSpec[] = [];
  const chunks: Buffer[] = [];
  const konst = (
    name: string,
    shape: number[],
    values: ArrayLike<number>,
    dtype: 'float32' | 'int32' = 'float32',
    half = false,
  ): string => {
    nodes.push({ name, op: 'Const', attr: { dtype: A.type(dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32'), value: { tensor: {} } } });
    if (half) {
      // float16 storage, as MoveNet's weights: tfjs and the converter both dequantise.
      specs.push({ name, shape, dtype, quantization: { dtype: 'float16' } });
      const hs = tf.tidy(() => tf.tensor(Array.from(values)).dataSync());
      const buf = Buffer.alloc(values.length * 2);
      hs.forEach((v, i) => buf.writeUInt16LE(toHalf(v), i * 2));
      chunks.push(buf);
    } else {
      specs.push({ name, shape, dtype });
      const arr = dtype === 'float32' ? Float32Array.from(values) : Int32Array.from(values);
      chunks.push(Buffer.from(arr.buffer));
    }
    return name;
  };
  const op = (name: string, type: string, input: string[], attr: Record<string, TfAttr> = {}): string => {
    nodes.push({ name, op: type, input, attr: { T: A.type('DT_FLOAT'), ...attr } });
    return name;
  };
  const placeholder = (name: string, shape: number[]): string => {
    nodes.push({
      name,
      op: 'Placeholder',
      attr: { dtype: A.type('DT_FLOAT'), shape: { shape: { dim: shape.map((d) => ({ size: String(d) })) } } },
    });
    return name;
  };
  const build = (outputs: string[]): { json: TfGraphModelJson; weights: Uint8Array } => {
    const weights = new Uint8Array(Buffer.concat(chunks));
    const json: TfGraphModelJson = {
      modelTopology: { node: nodes, versions: { producer: 1 } },
      signature: { outputs: Object.fromEntries(outputs.map((o) => [`${o}:0`, { name: `${o}:0` }])) },
      weightsManifest: [{ paths: ['w.bin'], weights: specs }],
    };
    return { json, weights };
  };
  return { konst, op, placeholder, build };
}

/** float32 → IEEE half bits (round to nearest even is not needed: the values are exact halves). */
function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const frac = (u >>> 13) & 0x3ff;
  if (v === 0) return sign;
  if (exp <= 0 || exp >= 31) throw new Error(`${v} is out of the half range of this test`);
  return sign | (exp << 10) | frac;
}

async function runTfjs(
  json: TfGraphModelJson,
  weights: Uint8Array,
  x: Float32Array,
  shape: number[],
  outputs: string[],
): Promise<Float32Array[]> {
  const model = await loadGraphModelFromMemory(json, weights);
  try {
    return tf.tidy(() => {
      const ys = model.execute(tf.tensor(x, shape), outputs) as tf.Tensor[];
      return ys.map((y) => y.dataSync() as Float32Array);
    });
  } finally {
    model.dispose();
  }
}

describe('ONNX graph converter (tfjs graph models)', function () {
  this.timeout(60_000);
  before(() => selectBackend());

  it('converts every supported op and agrees with tfjs executing the same graph', async () => {
    const { konst, op, placeholder, build } = graphBuilder();
    const S = [1, 6, 8, 3];
    const x = placeholder('x', S);
    // Convolutions: stride 2 SAME on an even width (TF's asymmetric pads), fused bias + relu6;
    // depthwise with multiplier 2, fused bias + relu; depthwise VALID without bias.
    const conv = op(
      'conv',
      '_FusedConv2D',
      [x, konst('W', [3, 3, 3, 4], uniform(108, 1, -1, 1), 'float32', true), konst('B', [4], uniform(4, 2, -1, 1))],
      {
        strides: A.ints([1, 2, 2, 1]),
        padding: A.s('SAME'),
        data_format: A.s('NHWC'),
        dilations: A.ints([1, 1, 1, 1]),
        fused_ops: A.strs(['BiasAdd', 'Relu6']),
        num_args: A.i(1),
        epsilon: { f: 0 },
        explicit_paddings: A.ints([]),
      },
    );
    const dw = op(
      'dw',
      'FusedDepthwiseConv2dNative',
      [conv, konst('Wd', [3, 3, 4, 2], uniform(72, 3, -1, 1)), konst('Bd', [8], uniform(8, 4, -1, 1))],
      {
        strides: A.ints([1, 1, 1, 1]),
        padding: A.s('SAME'),
        data_format: A.s('NHWC'),
        dilations: A.ints([1, 1, 1, 1]),
        fused_ops: A.strs(['BiasAdd', 'Relu']),
        num_args: A.i(1),
        explicit_paddings: A.ints([]),
      },
    );
    const dv = op('dv', 'DepthwiseConv2dNative', [dw, konst('Wv', [2, 2, 8, 1], uniform(32, 5, -1, 1))], {
      strides: A.ints([1, 1, 1, 1]),
      padding: A.s('VALID'),
      data_format: A.s('NHWC'),
      dilations: A.ints([1, 1, 1, 1]),
      explicit_paddings: A.ints([]),
    });
    // The three resize coordinate modes.
    const ra = op('resize_align', 'ResizeBilinear', [dw, konst('size_a', [2], [5, 7], 'int32')], {
      align_corners: A.b(true),
      half_pixel_centers: A.b(false),
    });
    const rq = op('resize_asym', 'ResizeBilinear', [dw, konst('size_q', [2], [6, 9], 'int32')], {
      align_corners: A.b(false),
      half_pixel_centers: A.b(false),
    });
    const rh = op('resize_half', 'ResizeBilinear', [dv, konst('size_h', [2], [6, 8], 'int32')], {
      align_corners: A.b(false),
      half_pixel_centers: A.b(true),
    });
    // Element-wise, NCHW inside (a per-channel rank-1 constant and a rank-3 one broadcast).
    const sub = op('sub', 'Sub', [rh, konst('mean', [8], uniform(8, 6, -1, 1))]);
    const sq = op('sqd', 'SquaredDifference', [sub, konst('c3', [6, 1, 8], uniform(48, 7, -1, 1))]);
    const rt = op('sqrt', 'Sqrt', [op('add', 'AddV2', [sq, konst('one', [], [1])])]);
    const div = op('div', 'RealDiv', [op('sig', 'Sigmoid', [rt]), op('mul', 'Mul', [rt, konst('two', [], [2])])]);
    // Integer math from the data: floor division of negative values by positive and negative divisors.
    const ints = op('ints', 'Cast', [op('shift', 'Sub', [op('scale', 'Mul', [x, konst('ten', [], [10])]), konst('fifteen', [], [15])])], {
      SrcT: A.type('DT_FLOAT'),
      DstT: A.type('DT_INT32'),
      Truncate: A.b(false),
    });
    const fd4 = op('fd4', 'FloorDiv', [ints, konst('four', [], [4], 'int32')], { T: A.type('DT_INT32') });
    const fdm3 = op('fdm3', 'FloorDiv', [ints, konst('minus3', [], [-3], 'int32')], { T: A.type('DT_INT32') });
    const toFloat = { SrcT: A.type('DT_INT32'), DstT: A.type('DT_FLOAT') };
    const fd4Out = op('fd4_out', 'Cast', [fd4], toFloat);
    const fdm3Out = op('fdm3_out', 'Cast', [fdm3], toFloat);
    // Keypoint decoding as MoveNet does it: argmax of a flattened map, row = i // W, col = i - row * W, gather.
    const flat = op('flat', 'Reshape', [dw, konst('flat_shape', [3], [1, -1, 8], 'int32')], { Tshape: A.type('DT_INT32') });
    const am = op('am', 'ArgMax', [flat, konst('am_dim', [], [1], 'int32')], { output_type: A.type('DT_INT32'), Tidx: A.type('DT_INT32') });
    const row = op('row', 'FloorDiv', [am, konst('w4', [], [4], 'int32')], { T: A.type('DT_INT32') });
    const col = op('col', 'Sub', [am, op('rw', 'Mul', [row, konst('w4b', [], [4], 'int32')], { T: A.type('DT_INT32') })], {
      T: A.type('DT_INT32'),
    });
    const r1 = op('r1', 'Reshape', [row, konst('m1', [1], [-1], 'int32')]);
    const c1 = op('c1', 'Reshape', [col, konst('m1b', [1], [-1], 'int32')]);
    const idx = op('idx', 'Pack', [konst('zeros8', [8], new Array(8).fill(0), 'int32'), r1, c1], {
      axis: A.i(1),
      N: A.i(3),
      T: A.type('DT_INT32'),
    });
    const idx4 = op('idx4', 'ConcatV2', [idx, konst('chan', [8, 1], [0, 1, 2, 3, 4, 5, 6, 7], 'int32'), konst('ax1', [], [1], 'int32')], {
      N: A.i(2),
      T: A.type('DT_INT32'),
    });
    const picked = op('picked', 'GatherNd', [dw, idx4], { Tparams: A.type('DT_FLOAT'), Tindices: A.type('DT_INT32') });
    const pos = op('pos', 'Cast', [idx], toFloat);
    // Shape ops: unstack / stack along a new axis, squeeze / expand dims, concat of NCHW values.
    const un = op('un', 'Unpack', [x], { axis: A.i(3), num: A.i(3) });
    const st = op('st', 'Pack', [`${un}:2`, un, `${un}:1`], { axis: A.i(1), N: A.i(3) });
    const un0 = op('un0', 'Unpack', [st], { axis: A.i(0), num: A.i(1) });
    const sqz = op('sqz', 'Squeeze', [op('ex0', 'ExpandDims', [un0, konst('exdim0', [], [0], 'int32')])], { squeeze_dims: A.ints([0]) });
    const ex = op('ex', 'ExpandDims', [sqz, konst('exdim', [], [-1], 'int32')], { Tdim: A.type('DT_INT32') });
    const cat = op('cat', 'ConcatV2', [ra, op('ra2', 'Identity', [ra]), konst('ax3', [], [3], 'int32')], { N: A.i(2) });

    const outputs = [conv, rq, div, fd4Out, fdm3Out, picked, pos, ex, cat];
    const { json, weights } = build(outputs);
    const input = uniform(6 * 8 * 3, 11, 0, 3);
    const want = await runTfjs(json, weights, input, S, outputs);
    const names = outputs.map((o) => `out_${o}`);
    const session = createSession(convertGraphModel(json, weights, { inputNames: ['pixels'], outputNames: names }));
    try {
      const got = session.run({ pixels: { data: input, dims: S } });
      outputs.forEach((o, i) => {
        expect(maxAbsDiff(got[names[i]], want[i]), o).to.be.below(1e-5);
      });
      // Pixels x in [0, 3) give ints in [-15, 14]: only flooring reaches these (truncation gives -3 and -4).
      expect(Math.min(...want[3]), 'floor(-13..-15 / 4)').to.equal(-4);
      expect(Math.min(...want[4]), 'floor(13..14 / -3)').to.equal(-5);
    } finally {
      session.dispose();
    }
  });

  it('refuses an op it lacks with a coded error naming it', () => {
    const { konst, op, placeholder, build } = graphBuilder();
    const x = placeholder('x', [1, 4]);
    const y = op('running', 'Cumsum', [x, konst('axis', [], [1], 'int32')]);
    const { json, weights } = build([op('out', 'Sigmoid', [y])]);
    const supported = ['Const', 'Placeholder', ...Object.keys(GRAPH_OP_EMITTERS)];
    expect(supported).to.include.members(['_FusedConv2D', 'ResizeBilinear', 'GatherNd', 'FloorDiv']);
    expectCoded(
      thrown(() => convertGraphModel(json, weights)),
      'VIGIL_ERR_ONNX_UNSUPPORTED',
      `cannot convert to ONNX: op Cumsum (node "running"): no ONNX converter for this op; supported: ${supported.join(', ')}`,
    );
  });

  it('refuses fused ops and inputs it cannot take', () => {
    const { konst, op, placeholder, build } = graphBuilder();
    const x = placeholder('x', [1, 4, 4, 2]);
    const conv = op(
      'conv',
      '_FusedConv2D',
      [x, konst('W', [1, 1, 2, 2], uniform(4, 1, -1, 1)), konst('B', [2], [0, 0]), konst('alpha', [2], [0.1, 0.1])],
      {
        strides: A.ints([1, 1, 1, 1]),
        padding: A.s('VALID'),
        data_format: A.s('NHWC'),
        fused_ops: A.strs(['BiasAdd', 'Prelu']),
        num_args: A.i(2),
      },
    );
    const { json, weights } = build([conv]);
    expectCoded(
      thrown(() => convertGraphModel(json, weights)),
      'VIGIL_ERR_ONNX_UNSUPPORTED',
      'cannot convert to ONNX: op _FusedConv2D (node "conv"): fused_ops [BiasAdd, Prelu]; supported: BiasAdd, then Relu or Relu6',
    );

    const dyn = graphBuilder();
    const input = dyn.placeholder('x', [-1, 4]);
    const built = dyn.build([dyn.op('y', 'Sigmoid', [input])]);
    expectCoded(
      thrown(() => convertGraphModel(built.json, built.weights)),
      'VIGIL_ERR_ONNX_UNSUPPORTED',
      'cannot convert to ONNX: op Placeholder (node "x"): shape [-1,4]; the converter needs every input dimension fixed',
    );
  });
});
