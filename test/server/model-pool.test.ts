import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { SHIPPED_MODELS_DIR } from '../../src/model/folder/model-folder.js';
import { createModelPool } from '../../src/server/model-pool.js';
import { openFrames } from '../../src/video/decode.js';
import type { Frame } from '../../src/video/types.js';
import { fixture } from '../helpers/clips.js';

async function frames(n: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of openFrames(fixture('fight-fi150.mp4'), { width: 448, height: 448, fps: 8 })) {
    out.push({ ...f, data: Uint8Array.from(f.data) });
    if (out.length === n) break;
  }
  return out;
}

describe('server/model-pool: unloading on this thread (workers: 0)', function () {
  this.timeout(120_000);
  let dir = '';
  let adapted = '';
  let f: Frame;
  before(async () => {
    // A folder outside models/: what a camera's adapted version is to the pool.
    dir = mkdtempSync(join(tmpdir(), 'vigil-pool-'));
    adapted = join(dir, 'fight-1.1.0');
    cpSync(join(SHIPPED_MODELS_DIR, 'fight'), adapted, { recursive: true });
    [f] = await frames(1);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const names = (pool: ReturnType<typeof createModelPool>) => pool.loaded().map((m) => m.name);

  it('frees a folder once its last stream and clip job are gone, after its frame in flight; shipped ones stay', async () => {
    const pool = createModelPool({ workers: 0 });
    try {
      const shipped = await (await pool.live('fight')).open();
      const live = await pool.live(adapted);
      const [a, b] = await Promise.all([live.open(), live.open()]);
      await a.label(f);
      expect(names(pool)).to.deep.equal(['fight', adapted]);
      a.close();
      const clip = pool.labelClip(adapted, fixture('fight-fi002.mp4'));
      const inFlight = b.label(f);
      b.close();
      expect(names(pool), 'the clip job still uses it').to.include(adapted);
      expect((await inFlight).probs).to.have.length(2);
      expect((await clip).frames.length).to.be.greaterThan(10);
      expect(names(pool)).to.deep.equal(['fight']);
      expect((await shipped.label(f)).tMs).to.equal(f.tMs);
      shipped.close();
      expect(names(pool), 'shipped models stay cached').to.deep.equal(['fight']);
      // Closing twice releases once.
      b.close();
    } finally {
      await pool.close();
    }
  });

  it('a stream opened while its folder unloads gets a fresh load; one from an earlier live() too', async () => {
    const pool = createModelPool({ workers: 0 });
    try {
      const live = await pool.live(adapted);
      const a = await live.open();
      const first = await a.label(f);
      const pending = a.label(f);
      a.close();
      // The LiveModel got before the unload opens a working stream all the same.
      const [b, c] = await Promise.all([live.open(), (await pool.live(adapted)).open()]);
      await pending;
      const [gb, gc] = await Promise.all([b.label(f), c.label(f)]);
      for (let k = 0; k < first.probs.length; k++) {
        expect(gb.probs[k], 'a fresh state').to.be.closeTo(first.probs[k], 1e-5);
        expect(gc.probs[k]).to.be.closeTo(first.probs[k], 1e-5);
      }
      expect(pool.loaded()).to.deep.equal([{ name: adapted, engine: pool.loaded()[0].engine, streams: 2, frames: 2, runs: 1 }]);
      b.close();
      c.close();
      expect(pool.loaded()).to.deep.equal([]);
    } finally {
      await pool.close();
    }
  });
});
