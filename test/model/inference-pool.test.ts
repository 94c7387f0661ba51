import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { decodeSide } from '../../src/model/input/frame-encoder.js';
import { labelClip } from '../../src/label-clip.js';
import { createLabeler } from '../../src/model/labeler.js';
import { SHIPPED_MODELS_DIR } from '../../src/model/folder/model-folder.js';
import { loadModel } from '../../src/model/model.js';
import { createInferencePool } from '../../src/model/workers/pool.js';
import { openFrames } from '../../src/video/decode.js';
import type { Frame } from '../../src/video/types.js';
import { fixture } from '../helpers/clips.js';
import { settleFfmpeg } from '../helpers/processes.js';

async function frames(name: string, n: number, size: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of openFrames(fixture(name), { width: size, height: size, fps: 8 })) {
    out.push({ ...f, data: Uint8Array.from(f.data) });
    if (out.length === n) break;
  }
  return out;
}

// The pool moves each frame's pixels to its worker: hand it copies, keep the originals.
const copy = (f: Frame): Frame => ({ ...f, data: Uint8Array.from(f.data) });

/** Waits for what a worker reports (its `models` message comes a turn or more later). */
async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('model/workers: the inference pool', function () {
  this.timeout(120_000);

  for (const [name, clips] of [
    ['fight', ['fight-fi150.mp4', 'nofight-nofi090.mp4', 'fight-fi002.mp4']],
    ['fall', ['gmdcsa24-subject4-fall02.mp4', 'fight-fi150.mp4', 'nofight-nofi090.mp4']],
  ] as const) {
    it(`labels streams of ${name} in two workers with the same numbers as one labeler per stream here (1e-5), focus included`, async () => {
      const model = await loadModel(name);
      const pool = createInferencePool({ workers: 2 });
      try {
        const size = decodeSide(model.manifest.input, model.manifest.inputSize);
        const clipFrames = await Promise.all(clips.map((c) => frames(c, 8, size)));
        const streams = await Promise.all(clips.map(() => pool.open(name)));
        expect(
          pool.figures().map((w) => w.streams),
          'spread over both workers',
        ).to.deep.equal([2, 1]);
        const here = clips.map(() => createLabeler(model));
        for (let i = 0; i < 8; i++) {
          const got = await Promise.all(streams.map((s, j) => s.label(copy(clipFrames[j][i]))));
          for (let j = 0; j < clips.length; j++) {
            const want = await here[j].label(clipFrames[j][i]);
            expect(got[j].tMs).to.equal(clipFrames[j][i].tMs);
            for (let k = 0; k < want.probs.length; k++) expect(got[j].probs[k]).to.be.closeTo(want.probs[k], 1e-5);
            if (model.manifest.input === 'motioncrop') expect(got[j].focus).to.have.keys('x', 'y', 'side');
            else expect(got[j].focus).to.equal(undefined);
          }
        }
        // reset() applies to the frames handed in after it: the first frame's numbers again.
        const first = await here[0].label(clipFrames[0][0]);
        here[0].reset();
        const again = await here[0].label(clipFrames[0][0]);
        streams[0].reset();
        const pooled = await streams[0].label(copy(clipFrames[0][0]));
        for (let k = 0; k < again.probs.length; k++) expect(pooled.probs[k]).to.be.closeTo(again.probs[k], 1e-5);
        expect(Array.from(first.probs)).to.not.deep.equal(Array.from(again.probs));
        const m = pool.models().get(name);
        expect(m).to.include({ streams: 3, frames: 3 * 8 + 1 });
        expect(m!.runs).to.be.within(1, 3 * 8 + 1);
      } finally {
        await pool.close();
        model.dispose();
      }
    });
  }

  it('labels a recorded clip in a worker: the timeline labelClip gives here, progress on the way', async () => {
    const model = await loadModel('fight');
    const pool = createInferencePool({ workers: 2 });
    try {
      const progress: number[] = [];
      const source = fixture('fight-fi002.mp4');
      // A live stream on the worker too: the clip goes to the other one.
      const live = await pool.open('fight');
      const [got, want] = await Promise.all([
        pool.labelClip('fight', source, { onProgress: (t) => progress.push(t) }),
        labelClip(source, model),
      ]);
      expect(
        pool.figures().map((w) => w.streams),
        'the clip counted while it ran, not after',
      ).to.deep.equal([1, 0]);
      live.close();
      expect(got.segments).to.deep.equal(want.segments);
      expect(got.frames.map((f) => f.label)).to.deep.equal(want.frames.map((f) => f.label));
      expect(got.frames.length).to.be.greaterThan(10);
      // Rounded to 4 decimals in the timeline; the worker's 1-thread session sums in another order.
      got.frames.forEach((f, i) => f.probs.forEach((p, k) => expect(p).to.be.closeTo(want.frames[i].probs[k], 2e-4)));
      expect(progress.length).to.be.greaterThan(1);
      expect(progress).to.deep.equal([...progress].sort((x, y) => x - y));
      expect(pool.models().get('fight')?.engine).to.equal(model.engine.name);
    } finally {
      await pool.close();
      model.dispose();
    }
  });

  it('cancels a clip in a worker with VIGIL_ERR_ABORTED and leaves no ffmpeg behind', async () => {
    const pool = createInferencePool({ workers: 1 });
    try {
      const ctl = new AbortController();
      const job = pool.labelClip('fight', fixture('fight-fi002.mp4'), { signal: ctl.signal, batch: 1, onProgress: () => ctl.abort() });
      expect((await job.catch((e) => e)).code).to.equal('VIGIL_ERR_ABORTED');
      expect(await settleFfmpeg(0)).to.deep.equal([]);
      const missing = await pool.labelClip('fight', '/no/such/clip.mp4').catch((e) => e);
      expect(missing.code).to.match(/^VIGIL_ERR_SOURCE/);
      expect(pool.figures()[0].streams).to.equal(0);
    } finally {
      await pool.close();
    }
  });

  it('reports busy as a share of time, 0-1, however often it is asked while the worker labels and waits', async () => {
    const pool = createInferencePool({ workers: 1 });
    try {
      const s = await pool.open('fight');
      const [f] = await frames('fight-fi150.mp4', 1, 448);
      // Asked at random moments: some while the worker runs the model, some while it waits
      // (Node's idle time lags there, which made the share negative).
      const seen: number[] = [];
      const sample = async (n: number) => {
        for (let i = 0; i < n; i++) {
          seen.push(pool.figures()[0].busy);
          await new Promise((r) => setTimeout(r, Math.random() * 3));
        }
      };
      await Promise.all([s.label({ ...f, data: new Uint8Array(f.data) }).then(() => sample(200)), sample(200)]);
      expect(seen.length).to.equal(400);
      expect(seen.filter((b) => !(b >= 0 && b <= 1))).to.deep.equal([]);
      expect(Math.max(...seen)).to.be.above(0);
    } finally {
      await pool.close();
    }
  });

  it('moves pixels instead of copying them: the frame handed in is detached', async () => {
    const pool = createInferencePool({ workers: 1 });
    try {
      const s = await pool.open('fight');
      const [f] = await frames('fight-fi150.mp4', 1, 448);
      const buffer = f.data.buffer;
      expect(buffer.byteLength).to.equal(448 * 448 * 3);
      await s.label(f);
      expect(buffer.byteLength, 'transferred').to.equal(0);
    } finally {
      await pool.close();
    }
  });

  it('says why a model cannot open, with its code', async () => {
    const pool = createInferencePool({ workers: 1 });
    try {
      const e = await pool.open('no-such-model').catch((x) => x);
      expect(e.code).to.equal('VIGIL_ERR_MODEL_NOT_FOUND');
    } finally {
      await pool.close();
    }
  });

  it('closes only after the engine calls under way finish: every pending label resolves, the workers exit', async () => {
    const pool = createInferencePool({ workers: 2 });
    const [a, b] = await Promise.all([pool.open('fight'), pool.open('fight')]);
    const clip = await frames('fight-fi002.mp4', 6, 448);
    const pending = clip.flatMap((f) => [a.label(copy(f)), b.label(copy(f))]);
    const closed = pool.close();
    const settled = await Promise.allSettled(pending);
    await closed;
    // Frames the workers took before `shutdown` are labelled; none is left hanging.
    expect(settled.filter((s) => s.status === 'fulfilled').length).to.be.greaterThan(0);
    expect(pool.figures().every((w) => w.streams >= 0)).to.equal(true);
    expect((await pool.open('fight').catch((e) => e)).code).to.equal('VIGIL_ERR_CONFLICT');
  });

  describe('unloading a model no stream uses', () => {
    let dir = '';
    let adapted = '';
    before(() => {
      // A folder outside models/: what a camera's adapted version is to the pool.
      dir = mkdtempSync(join(tmpdir(), 'vigil-unload-'));
      adapted = join(dir, 'fight-1.1.0');
      cpSync(join(SHIPPED_MODELS_DIR, 'fight'), adapted, { recursive: true });
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const loadedIn = (pool: ReturnType<typeof createInferencePool>) => pool.figures().map((w) => [...w.models]);

    it('frees a folder in every worker once its last stream and clip are gone, after its frame in flight; shipped ones stay', async () => {
      const pool = createInferencePool({ workers: 2 });
      try {
        const [f] = await frames('fight-fi150.mp4', 1, 448);
        const shipped = await pool.open('fight');
        const a = await pool.open(adapted);
        // The clip goes to the worker with fewer streams: the shipped one's, after a's.
        const clip = pool.labelClip(adapted, fixture('fight-fi002.mp4'));
        await shipped.label(copy(f));
        await a.label(copy(f));
        await until('both workers hold the adapted folder', () => loadedIn(pool).every((m) => m.includes(adapted)));
        expect(loadedIn(pool)[0]).to.deep.equal([adapted, 'fight'].sort());
        // Closed with a frame in the engine: the label still answers, and only then is it freed.
        const inFlight = a.label(copy(f));
        a.close();
        expect(pool.models().has(adapted), 'the clip still uses it').to.equal(true);
        expect((await inFlight).probs).to.have.length(2);
        expect((await clip).frames.length).to.be.greaterThan(10);
        await until('no worker holds the adapted folder', () => loadedIn(pool).every((m) => !m.includes(adapted)));
        expect(loadedIn(pool)).to.deep.equal([['fight'], []]);
        expect([...pool.models().keys()]).to.deep.equal(['fight']);
        // Counted still: a worker's totals are since it started (a's worker labelled only a).
        expect(pool.figures()[1].frames).to.be.at.least(1);
        expect((await shipped.label(copy(f))).tMs).to.equal(f.tMs);
        shipped.close();
        await new Promise((r) => setTimeout(r, 200));
        expect(loadedIn(pool)[0], 'shipped models stay cached').to.deep.equal(['fight']);
      } finally {
        await pool.close();
      }
    });

    it('a stream opened while its folder unloads gets a fresh load, and labels', async () => {
      const pool = createInferencePool({ workers: 1 });
      try {
        const [f] = await frames('fight-fi150.mp4', 1, 448);
        const a = await pool.open(adapted);
        const first = await a.label(copy(f));
        // Same turn: the `unload` is posted, then the `open`; the worker must not hand out the freed one.
        const pending = a.label(copy(f));
        a.close();
        const b = await pool.open(adapted);
        await pending;
        const again = await b.label(copy(f));
        for (let k = 0; k < first.probs.length; k++) expect(again.probs[k], 'a fresh state').to.be.closeTo(first.probs[k], 1e-5);
        await until('the worker reports the reload', () => loadedIn(pool)[0].includes(adapted));
        await new Promise((r) => setTimeout(r, 200));
        expect(loadedIn(pool)[0], 'the old unload did not take the new load with it').to.deep.equal([adapted]);
        expect(pool.models().get(adapted)).to.include({ streams: 1 });
        b.close();
        await until('unloaded once more', () => loadedIn(pool)[0].length === 0);
      } finally {
        await pool.close();
      }
    });
  });
});
