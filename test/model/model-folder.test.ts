import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VigilError } from '../../src/errors.js';
import { selectBackend } from '../../src/model/runtime/backend.js';
import { alertLabels, MANIFEST_SCHEMA, type ModelManifest } from '../../src/model/folder/manifest.js';
import { readHeadModel, readManifest, resolveModelDir, writeModelFolder } from '../../src/model/folder/model-folder.js';
import { buildHeadModel } from '../../src/model/head/recurrent-head.js';

const manifest: ModelManifest = {
  schema: MANIFEST_SCHEMA,
  name: 'tiny',
  version: '0.0.1',
  description: 'test model',
  extractor: 'mobilenet_v2',
  input: 'framediff',
  inputSize: 224,
  fps: 8,
  classes: ['a', 'b'],
  head: { type: 'sigmoid_rnn', featureSize: 1280, hidden: 4 },
  smoothing: { windowMs: 1000, minHoldMs: 500 },
  training: {},
};

function expectCode(fn: () => unknown, code: string, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(VigilError);
    expect((e as VigilError).code).to.equal(code);
    expect((e as VigilError).message).to.match(message);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe('model folder', () => {
  let dir: string;
  const edit = (patch: (m: Record<string, unknown>) => void) => {
    const m = JSON.parse(JSON.stringify(manifest));
    patch(m);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  };

  before(async () => {
    await selectBackend();
  });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-model-'));
    const head = buildHeadModel({ featureSize: 1280, hidden: 4, numClasses: 2 });
    await writeModelFolder(dir, manifest, head);
    head.dispose();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips a written folder', async () => {
    const m = readManifest(dir);
    expect(m).to.deep.equal(manifest);
    const head = await readHeadModel(dir, m);
    expect(head.outputs[0].shape).to.deep.equal([null, null, 2]);
    head.dispose();
  });

  it('names a missing shipped model and lists the shipped ones', () => {
    expectCode(() => resolveModelDir('no-such-model'), 'VIGIL_ERR_MODEL_NOT_FOUND', /^no such model: no-such-model; shipped: /);
    expectCode(() => resolveModelDir('./no/such/dir'), 'VIGIL_ERR_MODEL_NOT_FOUND', /no such model: \.\/no\/such\/dir$/);
  });

  it('says which file is missing', () => {
    unlinkSync(join(dir, 'manifest.json'));
    expectCode(() => readManifest(dir), 'VIGIL_ERR_MODEL_INVALID', /manifest\.json is missing/);
  });

  it('reports broken JSON', () => {
    writeFileSync(join(dir, 'manifest.json'), '{"schema": ');
    expectCode(() => readManifest(dir), 'VIGIL_ERR_MODEL_INVALID', /manifest\.json: .*JSON/);
  });

  it('names each invalid field', () => {
    edit((m) => {
      m.classes = ['a', 'a'];
      m.fps = -1;
    });
    expectCode(
      () => readManifest(dir),
      'VIGIL_ERR_MODEL_INVALID',
      /fps: Number must be greater than 0; classes: class names must be unique/,
    );
  });

  it('reads the training record typed, keeps keys it does not know, and names a wrong field in it', () => {
    edit(
      (m) =>
        (m.training = {
          kind: 'spans',
          clips: 3,
          fromANewerVersion: { x: 1 },
          final: { trainClips: 2, earlyStoppingClips: 1, epochs: 9, bestEpoch: 4, note: 'kept' },
        }),
    );
    expect(readManifest(dir).training).to.deep.equal({
      kind: 'spans',
      clips: 3,
      fromANewerVersion: { x: 1 },
      final: { trainClips: 2, earlyStoppingClips: 1, epochs: 9, bestEpoch: 4, note: 'kept' },
    });
    edit((m) => (m.training = { final: { trainClips: 'all', earlyStoppingClips: 1, epochs: 9, bestEpoch: 4 }, crossValidation: null }));
    expectCode(
      () => readManifest(dir),
      'VIGIL_ERR_MODEL_INVALID',
      /manifest\.json: training\.final\.trainClips: Expected number, received string$/,
    );
    edit((m) => (m.training = { kind: 'frames' }));
    expectCode(
      () => readManifest(dir),
      'VIGIL_ERR_MODEL_INVALID',
      /training\.kind: expected 'spans', or no kind for a model trained on class folders$/,
    );
  });

  it('reads every shipped manifest', () => {
    for (const name of ['fight', 'fall']) {
      const m = readManifest(resolveModelDir(name));
      expect(m.training.kind, name).to.equal(name === 'fall' ? 'spans' : undefined);
      expect(m.training.final?.trainClips, name).to.be.a('number');
      expect(
        m.training.crossValidation?.pooled.perClass.map((c) => c.label),
        name,
      ).to.deep.equal(m.classes);
    }
  });

  it('reads alerts, defaults them to the first class, and refuses an alert that is no class', () => {
    expect(alertLabels(readManifest(dir))).to.deep.equal(['a']);
    edit((m) => (m.alerts = ['b']));
    expect(readManifest(dir).alerts).to.deep.equal(['b']);
    expect(alertLabels(readManifest(dir))).to.deep.equal(['b']);
    edit((m) => (m.alerts = ['b', 'fight']));
    expectCode(
      () => readManifest(dir),
      'VIGIL_ERR_MODEL_INVALID',
      /manifest\.json: alerts\.1: "fight" is not one of the classes \(a, b\)$/,
    );
    edit((m) => (m.alerts = []));
    expectCode(() => readManifest(dir), 'VIGIL_ERR_MODEL_INVALID', /alerts: Array must contain at least 1 element/);
    expect(readManifest(resolveModelDir('fight')).alerts).to.deep.equal(['fight']);
    expect(readManifest(resolveModelDir('fall')).alerts).to.deep.equal(['falling']);
  });

  it('lists the known extractors for an unknown one', () => {
    edit((m) => (m.extractor = 'resnet9000'));
    expectCode(() => readManifest(dir), 'VIGIL_ERR_MODEL_INVALID', /unknown feature extractor: resnet9000; known: mobilenet_v2/);
  });

  it('rejects a manifest that does not fit its extractor', () => {
    edit((m) => (m.inputSize = 128));
    expectCode(() => readManifest(dir), 'VIGIL_ERR_MODEL_INVALID', /takes 224px and gives 1280 features, manifest says 128px/);
  });

  it('rejects weights that do not match the manifest', async () => {
    edit((m) => (m.classes = ['a', 'b', 'c']));
    try {
      await readHeadModel(dir, readManifest(dir));
      expect.fail('should throw');
    } catch (e) {
      expect((e as VigilError).code).to.equal('VIGIL_ERR_MODEL_INVALID');
      expect((e as VigilError).message).to.match(/head maps 1280 features to 2 classes, manifest says 1280 to 3/);
    }
  });

  it('rejects truncated weights', async () => {
    const w = readFileSync(join(dir, 'weights.bin'));
    writeFileSync(join(dir, 'weights.bin'), w.subarray(0, 100));
    try {
      await readHeadModel(dir, readManifest(dir));
      expect.fail('should throw');
    } catch (e) {
      expect((e as VigilError).code).to.equal('VIGIL_ERR_MODEL_INVALID');
      expect((e as VigilError).message).to.match(/model\.json: /);
    }
  });
});
