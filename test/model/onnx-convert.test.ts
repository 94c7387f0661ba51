import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { VigilError } from '../../src/errors.js';
import { setLogLevel } from '../../src/log.js';
import { chooseEngine, describeEngine } from '../../src/model/runtime/engine.js';
import { selectBackend } from '../../src/model/runtime/backend.js';
import { cachedModel, contentKey } from '../../src/model/runtime/onnx/cache.js';
import { convertLayersModel } from '../../src/model/runtime/onnx/convert.js';
import { createOrtExtractor } from '../../src/model/runtime/onnx/extractor.js';
import { headWeights } from '../../src/model/runtime/onnx/head.js';
import { createOrtRecurrentHead } from '../../src/model/runtime/onnx/recurrent-head.js';
import { createSession } from '../../src/model/runtime/onnx/runtime.js';
import { buildHeadModel, createRecurrentHead } from '../../src/model/head/recurrent-head.js';
import { maxScaledDiff, uniform } from '../helpers/numbers.js';

/** Gives every BatchNormalization statistics far from the identity, so folding is tested. */
function randomizeBatchNorms(model: tf.LayersModel): void {
  model.layers.forEach((l, k) => {
    if (l.getClassName() !== 'BatchNormalization') return;
    const ws = l.getWeights().map((w, j) => {
      const n = w.size;
      const name = l.weights[j].originalName;
      const lo = name.endsWith('moving_variance') ? 0.2 : -1;
      return tf.tensor(uniform(n, 100 * k + j, lo, 2), w.shape);
    });
    l.setWeights(ws);
    ws.forEach((w) => w.dispose());
  });
}

/**
 * Every converter path in one small net: SAME/VALID, strides, even sizes under stride 2 (TF's
 * asymmetric SAME pads), a ZeroPadding2D folded into a conv and one emitted as Pad, BN folded
 * (plain and center=false) and not folded (after a ReLU conv; conv output read twice),
 * depthwise with multiplier 2, Add, AveragePooling SAME, GAP, Flatten of a 2-D map, Dense
 * with and without bias, activations, and a 4-D output.
 */
function coverageNet(): tf.LayersModel {
  const L = tf.layers;
  const seed = (s: number) => tf.initializers.glorotUniform({ seed: s });
  const x = tf.input({ shape: [18, 20, 3], name: 'image' });
  const p = L.zeroPadding2d({
    padding: [
      [1, 2],
      [0, 1],
    ],
  }).apply(x) as tf.SymbolicTensor;
  const c1 = L.conv2d({
    filters: 8,
    kernelSize: 3,
    strides: 2,
    activation: 'relu',
    kernelInitializer: seed(1),
    biasInitializer: seed(2),
  }).apply(p);
  const b1 = L.batchNormalization().apply(c1);
  const d1 = L.depthwiseConv2d({
    kernelSize: 3,
    strides: 2,
    padding: 'same',
    depthMultiplier: 2,
    depthwiseInitializer: seed(3),
    biasInitializer: seed(4),
    useBias: true,
  }).apply(b1);
  const b2 = L.batchNormalization().apply(d1);
  const r1 = L.reLU({ maxValue: 6 }).apply(b2);
  const c2 = L.conv2d({ filters: 16, kernelSize: 1, useBias: false, kernelInitializer: seed(5) }).apply(r1) as tf.SymbolicTensor;
  const b3 = L.batchNormalization().apply(c2) as tf.SymbolicTensor;
  const a = L.add().apply([b3, c2]);
  const pad2 = L.zeroPadding2d({
    padding: [
      [1, 0],
      [1, 0],
    ],
  }).apply(a);
  const ap = L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(pad2);
  const act = L.activation({ activation: 'tanh', name: 'map' }).apply(ap) as tf.SymbolicTensor;
  const c3 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: seed(6), biasInitializer: seed(7) }).apply(act);
  const b4 = L.batchNormalization({ center: false }).apply(c3);
  const r2 = L.reLU().apply(b4);
  const gap = L.globalAveragePooling2d({}).apply(r2);
  const dn = L.dense({ units: 3, activation: 'relu', useBias: false, kernelInitializer: seed(8), name: 'pooled' }).apply(
    gap,
  ) as tf.SymbolicTensor;
  const f = L.flatten().apply(act);
  const d = L.dense({ units: 5, activation: 'softmax', kernelInitializer: seed(9), biasInitializer: seed(10), name: 'scores' }).apply(
    f,
  ) as tf.SymbolicTensor;
  const model = tf.model({ inputs: x, outputs: [d, dn, act], name: 'coverage' });
  randomizeBatchNorms(model);
  return model;
}

describe('ONNX conversion (onnxruntime-node)', function () {
  this.timeout(60_000);
  let cacheDir: string;

  before(async () => {
    await selectBackend();
    cacheDir = mkdtempSync(join(tmpdir(), 'vigil-onnx-'));
  });
  after(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('a net using every supported layer gives the tfjs outputs to 1e-4, NHWC in and out', () => {
    const model = coverageNet();
    const session = createSession(convertLayersModel(model));
    try {
      expect(session.inputNames).to.deep.equal(['image']);
      expect(session.outputNames).to.deep.equal(['scores', 'pooled', 'map']);
      const batch = 3;
      const x = uniform(batch * 18 * 20 * 3, 5, -1, 2);
      const ref = tf.tidy(() => (model.predict(tf.tensor4d(x, [batch, 18, 20, 3])) as tf.Tensor[]).map((t) => t.dataSync()));
      const got = session.run({ image: { data: x, dims: [batch, 18, 20, 3] } });
      expect(maxScaledDiff(got.scores, ref[0])).to.be.below(1e-4);
      expect(maxScaledDiff(got.pooled, ref[1])).to.be.below(1e-4);
      expect(maxScaledDiff(got.map, ref[2])).to.be.below(1e-4);
      expect(ref[1].some((v) => v > 0)).to.equal(true); // the ReLU branch is not all zeros
    } finally {
      session.dispose();
      model.dispose();
    }
  });

  it('an unsupported layer gives VIGIL_ERR_ONNX_UNSUPPORTED naming the layer and its class', () => {
    const x = tf.input({ shape: [8, 8, 3] });
    const y = tf.layers.maxPooling2d({ poolSize: 2, name: 'the_pool' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: y });
    try {
      expect(() => convertLayersModel(model))
        .to.throw(VigilError)
        .that.satisfies((e: VigilError) => e.code === 'VIGIL_ERR_ONNX_UNSUPPORTED')
        .and.has.property('message')
        .that.matches(
          /^cannot convert to ONNX: layer "the_pool" \(class MaxPooling2D\): no ONNX converter for this class; supported: .*Conv2D/,
        );
    } finally {
      model.dispose();
    }
  });

  it('a session rejects a missing input and runs after dispose() with coded errors', () => {
    const x = tf.input({ shape: [4], name: 'v' });
    const model = tf.model({ inputs: x, outputs: tf.layers.activation({ activation: 'sigmoid' }).apply(x) as tf.SymbolicTensor });
    const session = createSession(convertLayersModel(model, { inputNames: ['v'], outputNames: ['y'] }));
    model.dispose();
    expect(() => session.run({ w: { data: new Float32Array(4), dims: [1, 4] } })).to.throw(
      VigilError,
      'invalid argument: no input "v"; the graph takes v',
    );
    expect(session.run({ v: { data: new Float32Array(4), dims: [1, 4] } }).y).to.deep.equal(new Float32Array([0.5, 0.5, 0.5, 0.5]));
    session.dispose();
    session.dispose();
    expect(() => session.run({ v: { data: new Float32Array(4), dims: [1, 4] } })).to.throw(VigilError, 'disposed');
  });

  it('an unsupported activation gives the coded error too', () => {
    const x = tf.input({ shape: [4] });
    const y = tf.layers.dense({ units: 2, activation: 'selu', name: 'odd' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: y });
    try {
      expect(() => convertLayersModel(model)).to.throw(VigilError, 'layer "odd" (class Dense): activation selu');
    } finally {
      model.dispose();
    }
  });

  describe('recurrent head', () => {
    const shape = { featureSize: 40, hidden: 12, numClasses: 3 };
    let layers: tf.LayersModel;

    before(() => {
      layers = buildHeadModel(shape, { seed: 5 });
    });
    after(() => layers.dispose());

    it('step() carried over a clip equals sequence() and the tfjs model to 1e-5', () => {
      const head = createOrtRecurrentHead(headWeights(layers));
      try {
        const T = 30;
        const x = uniform(T * shape.featureSize, 9, 0, 3);
        const ref = tf.tidy(() => (layers.predict(tf.tensor3d(x, [1, T, shape.featureSize])) as tf.Tensor).dataSync());
        const seq = head.sequence(x, T);
        let h: Float32Array = new Float32Array(shape.hidden);
        const stepped = new Float32Array(T * shape.numClasses);
        for (let t = 0; t < T; t++) {
          const out = head.step(x.subarray(t * shape.featureSize, (t + 1) * shape.featureSize), h);
          stepped.set(out.probs, t * shape.numClasses);
          h = out.h;
        }
        expect(maxScaledDiff(seq.probs, ref)).to.be.below(1e-5);
        expect(maxScaledDiff(stepped, ref)).to.be.below(1e-5);
        expect(maxScaledDiff(seq.h, h)).to.be.below(1e-6);
        // Chunks with the carried state equal one pass.
        const a = head.sequence(x.subarray(0, 10 * shape.featureSize), 10);
        const b = head.sequence(x.subarray(10 * shape.featureSize), T - 10, a.h);
        expect(maxScaledDiff(b.probs, seq.probs.subarray(10 * shape.numClasses))).to.be.below(1e-6);
        expect(head.sequence(new Float32Array(0), 0).probs.length).to.equal(0);
      } finally {
        head.dispose();
      }
    });

    it('steps several streams in one run, each with its own state, as the tfjs head does', () => {
      const ort = createOrtRecurrentHead(headWeights(layers));
      const ref = createRecurrentHead(layers);
      try {
        const x = uniform(3 * shape.featureSize, 4, 0, 2);
        const h = uniform(3 * shape.hidden, 8);
        const both = ort.step(x, h, 3);
        const expected = ref.step(x, h, 3);
        expect(maxScaledDiff(both.probs, expected.probs)).to.be.below(1e-5);
        expect(maxScaledDiff(both.h, expected.h)).to.be.below(1e-5);
        const second = ort.step(x.subarray(shape.featureSize, 2 * shape.featureSize), h.subarray(shape.hidden, 2 * shape.hidden));
        expect(maxScaledDiff(second.probs, both.probs.subarray(3, 6))).to.be.below(1e-6);
      } finally {
        ort.dispose();
        ref.dispose();
      }
    });
  });

  describe('cache', () => {
    function tinyExtractorNet(): tf.LayersModel {
      const x = tf.input({ shape: [16, 16, 3] });
      const c = tf.layers
        .conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) })
        .apply(x);
      const y = tf.layers.globalAveragePooling2d({}).apply(c) as tf.SymbolicTensor;
      return tf.model({ inputs: x, outputs: y });
    }

    it('converts once, then reads the file; a corrupt file is converted again', async () => {
      const dir = join(cacheDir, 'hits');
      const net = tinyExtractorNet();
      try {
        const first = await createOrtExtractor('tiny', net, { cacheDir: dir });
        const second = await createOrtExtractor('tiny', net, { cacheDir: dir });
        expect([first.onnx.cacheHit, second.onnx.cacheHit]).to.deep.equal([false, true]);
        expect(second.onnx.path).to.equal(first.onnx.path);
        expect(readdirSync(dir).sort()).to.have.length(2); // the model and its checksum
        const pixels = uniform(2 * 16 * 16 * 3, 1);
        const want = await first.extract(pixels, 2);
        expect(maxScaledDiff(await second.extract(pixels, 2), want)).to.equal(0);

        writeFileSync(first.onnx.path, Buffer.from('not a model'));
        setLogLevel('error'); // the warning about the bad file is expected here
        const third = await createOrtExtractor('tiny', net, { cacheDir: dir }).finally(() => setLogLevel('warn'));
        expect(third.onnx.cacheHit).to.equal(false);
        expect(maxScaledDiff(await third.extract(pixels, 2), want)).to.equal(0);
        const fourth = await createOrtExtractor('tiny', net, { cacheDir: dir });
        expect(fourth.onnx.cacheHit).to.equal(true);
        for (const e of [first, second, third, fourth]) e.dispose();
      } finally {
        net.dispose();
      }
    });

    it('keys on the weights: a changed weight is a new conversion', async () => {
      const dir = join(cacheDir, 'keys');
      const a = tinyExtractorNet();
      const b = tinyExtractorNet();
      const w = b.layers[1].getWeights()[0];
      const changed = tf.tidy(() => w.add(0.5));
      b.layers[1].setWeights([changed, b.layers[1].getWeights()[1]]);
      changed.dispose();
      try {
        const ea = await createOrtExtractor('tiny', a, { cacheDir: dir });
        const eb = await createOrtExtractor('tiny', b, { cacheDir: dir });
        expect(eb.onnx.cacheHit).to.equal(false);
        expect(eb.onnx.key).to.not.equal(ea.onnx.key);
        ea.dispose();
        eb.dispose();
      } finally {
        a.dispose();
        b.dispose();
      }
    });

    it('length-prefixes key parts', async () => {
      expect(contentKey(['ab', 'c'])).to.not.equal(contentKey(['a', 'bc']));
      const got = await cachedModel('x', contentKey(['k']), () => new Uint8Array([1, 2, 3]), join(cacheDir, 'raw'));
      expect(Array.from(got.bytes)).to.deep.equal([1, 2, 3]);
    });
  });

  it('converting and running leak no tfjs tensors', () => {
    const net = coverageNet();
    const layers = buildHeadModel({ featureSize: 8, hidden: 4, numClasses: 2 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const s = createSession(convertLayersModel(net, { inputNames: ['image'] }));
      s.run({ image: { data: uniform(18 * 20 * 3, i), dims: [1, 18, 20, 3] } });
      s.dispose();
      const head = createOrtRecurrentHead(headWeights(layers));
      head.step(new Float32Array(8), new Float32Array(4));
      head.dispose();
    }
    expect(tf.memory().numTensors).to.equal(before);
    net.dispose();
    layers.dispose();
  });

  it('chooses ort by default, tfjs when forced, and rejects unknown values with the allowed list', async () => {
    const auto = await chooseEngine({});
    expect(auto.name).to.equal('ort');
    const batch = Math.min(2, availableParallelism());
    expect(auto.ort?.threads).to.deep.equal({ live: 1, batch });
    expect(describeEngine(auto)).to.match(
      new RegExp(`^ort \\(onnxruntime-node \\d+\\.\\d+\\.\\d+; threads per run: 1 live, ${batch} batched\\): first choice$`),
    );
    const tfjs = await chooseEngine({ VIGIL_ENGINE: 'tfjs' });
    expect(describeEngine(tfjs)).to.match(/^tfjs \(\w+.*\): forced by VIGIL_ENGINE$/);
    expect((await chooseEngine({ VIGIL_ORT_THREADS: '3' })).ort?.threads).to.deep.equal({ live: 3, batch: 3 });
    for (const env of [{ VIGIL_ENGINE: 'gpu' }, { VIGIL_ORT_THREADS: '0' }]) {
      const err = await chooseEngine(env).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(VigilError).with.property('code', 'VIGIL_ERR_ENGINE');
    }
    const bad = (await chooseEngine({ VIGIL_ENGINE: 'gpu' }).catch((e: unknown) => e)) as VigilError;
    expect(bad.message).to.equal('inference engine unavailable: VIGIL_ENGINE=gpu; allowed: ort, tfjs');
  });
});
