import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VigilError } from '../../src/errors.js';
import { EXTRACTORS } from '../../src/model/extractors/registry.js';
import { EXTRACTOR_WEIGHT_FILES, extractorWeightsHash, hashFiles } from '../../src/model/extractors/weights-hash.js';

describe("extractors' weight hashes", function () {
  this.timeout(60_000);

  it('knows the weight files of every registered extractor, and they exist', () => {
    expect(Object.keys(EXTRACTOR_WEIGHT_FILES).sort()).to.deep.equal(Object.keys(EXTRACTORS).sort());
    for (const [name, files] of Object.entries(EXTRACTOR_WEIGHT_FILES)) {
      expect(files(), name).to.have.length.above(0);
      for (const f of files()) expect(existsSync(f), f).to.equal(true);
    }
  });

  it('hashes each network once per process; extractors on the same network share it', async () => {
    const p = extractorWeightsHash('mobilenet_v2');
    expect(extractorWeightsHash('mobilenet_v2')).to.equal(p);
    const [mobilenet, lightning, body] = await Promise.all([
      p,
      extractorWeightsHash('movenet_lightning'),
      extractorWeightsHash('movenet_body'),
    ]);
    expect(mobilenet).to.match(/^[0-9a-f]{64}$/);
    expect(lightning).to.equal(body);
    expect(lightning).to.not.equal(mobilenet);
    expect(mobilenet).to.equal(await hashFiles(EXTRACTOR_WEIGHT_FILES.mobilenet_v2()));
  });

  it('changes when one byte of a weight file changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-weights-'));
    try {
      const [a, b] = [join(dir, 'model.json'), join(dir, 'weights.bin')];
      writeFileSync(a, '{"layers":[]}');
      writeFileSync(b, Buffer.from([1, 2, 3, 4]));
      const before = await hashFiles([a, b]);
      expect(await hashFiles([a, b])).to.equal(before);
      writeFileSync(b, Buffer.from([1, 2, 3, 5]));
      expect(await hashFiles([a, b])).to.not.equal(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an extractor whose files it does not know, with a coded error', async () => {
    try {
      await extractorWeightsHash('resnet_50');
      expect.fail('should reject');
    } catch (e) {
      expect(e).to.be.instanceOf(VigilError);
      expect((e as VigilError).code).to.equal('VIGIL_ERR_INTERNAL');
      expect((e as VigilError).message).to.equal('internal error: no weight files known for extractor resnet_50 (weights-hash.ts)');
    }
  });
});
