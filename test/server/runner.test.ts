import { expect } from 'chai';
import { readManifest, resolveModelDir } from '../../src/model/folder/model-folder.js';
import type { StreamLabeler } from '../../src/model/live/stream-batcher.js';
import { createLagClock, startCameraRunner } from '../../src/server/camera-runner.js';
import type { ServerMessage } from '../../src/server/protocol.js';
import { fixture } from '../helpers/clips.js';
import { ffmpegChildren } from '../helpers/processes.js';

describe('server/camera-runner', function () {
  this.timeout(30_000);
  const manifest = readManifest(resolveModelDir('fight'));

  it('drops frames on purpose when labelling is slower than the camera: newest wins, latency stays bounded', async () => {
    const SLOW_MS = 400;
    const labeled: number[] = [];
    // A model boundary fake: 400 ms a frame, far slower than 8 fps.
    const labeler: StreamLabeler = {
      async label(frame) {
        await new Promise((r) => setTimeout(r, SLOW_MS));
        labeled.push(frame.tMs);
        return { tMs: frame.tMs, probs: new Float32Array([0.9, 0.1]) };
      },
      reset() {},
      close() {},
    };
    const out: Array<{ msg: ServerMessage; at: number }> = [];
    const runner = startCameraRunner(
      { id: 'slow', source: fixture('fight-fi002.mp4'), fps: null, loop: true },
      { models: [{ labeler, manifest }], publish: (msg) => out.push({ msg, at: Date.now() }), maxBackoffMs: 1000 },
    );
    await new Promise((r) => setTimeout(r, 3500));
    const lagWhileLive = runner.status().lagMs;
    await new Promise((r) => setTimeout(r, 500));
    await runner.stop();
    const labels = out.filter((o) => o.msg.type === 'label') as Array<{ msg: Extract<ServerMessage, { type: 'label' }>; at: number }>;
    const status = runner.status();
    expect(status.state).to.equal('stopped');
    // ~4 s at 8 fps is ~30 frames; at 400 ms each only ~9 can be labelled.
    expect(labels.length).to.be.within(6, 11);
    expect(status.dropped).to.be.greaterThan(12);
    expect(status.frames).to.equal(labels.length);
    for (const { msg, at } of labels) {
      expect(at - msg.wallMs, 'frame to label').to.be.below(2 * SLOW_MS + 100);
      // From when the source showed the frame: also bounded, since ffmpeg is never held back.
      expect(at - msg.sourceMs, 'source to label').to.be.below(2 * SLOW_MS + 300);
    }
    expect(lagWhileLive, 'lagMs while live').to.be.within(1, 2 * SLOW_MS + 300);
    expect(status.lagMs, 'no lag once stopped').to.equal(0);
    expect(
      out.some((o) => o.msg.type === 'status' && o.msg.state === 'behind'),
      'never behind',
    ).to.equal(false);
    // The labelled frames are spread over the whole run, not the first ones in a backlog.
    expect(labels[labels.length - 1].msg.tMs).to.be.greaterThan(2500);
  });

  it('swaps a model for another version while running: the open segment goes on, labels say the new version, the old labeler closes', async () => {
    const closed: string[] = [];
    const fake = (name: string, fight: number): StreamLabeler => ({
      async label(frame) {
        await new Promise((r) => setTimeout(r, 5));
        return { tMs: frame.tMs, probs: new Float32Array([fight, 1 - fight]) };
      },
      reset() {},
      close: () => void closed.push(name),
    });
    const out: ServerMessage[] = [];
    const runner = startCameraRunner(
      { id: 'swap', source: fixture('fight-fi002.mp4'), fps: 8, loop: true },
      { models: [{ labeler: fake('shipped', 0.9), manifest }], publish: (m) => out.push(m), maxBackoffMs: 1000 },
    );
    try {
      await new Promise((r) => setTimeout(r, 2000));
      const at = out.length;
      expect(out.some((m) => m.type === 'segment' && m.event === 'start' && m.segment.label === 'fight')).to.equal(true);
      await runner.swap('fight', { labeler: fake('adapted', 0.95), manifest: { ...manifest, version: '1.1.0' } });
      expect(closed).to.deep.equal(['shipped']);
      await new Promise((r) => setTimeout(r, 1500));
      const after = out.slice(at);
      const labels = after.filter((m): m is Extract<ServerMessage, { type: 'label' }> => m.type === 'label');
      expect(labels.length).to.be.at.least(5);
      expect(labels.at(-1)).to.deep.include({ version: '1.1.0', probs: { fight: 0.95, no_fight: 0.05 } });
      // The same session and segment: no restart, no segment end, no new start.
      expect(after.filter((m) => m.type === 'segment' && m.event !== 'update')).to.deep.equal([]);
      expect(after.filter((m) => m.type === 'status').map((m) => (m as { state: string }).state)).to.deep.equal(['live']);
      expect(runner.status().models?.[0]).to.include({ model: 'fight', version: '1.1.0' });
      const wrong = fake('fall', 0.5);
      const err = await runner.swap('fight', { labeler: wrong, manifest: readManifest(resolveModelDir('fall')) }).catch((e: unknown) => e);
      expect(err).to.include({ code: 'VIGIL_ERR_INVALID_ARGUMENT' });
      expect(closed).to.deep.equal(['shipped', 'fall']);
    } finally {
      await runner.stop();
    }
    expect(closed).to.deep.equal(['shipped', 'fall', 'adapted']);
  });

  it('says `behind` while labelling stalls past the bound, with a growing lagMs, and `live` again once it catches up', async () => {
    let stallUntil = 0;
    const labeler: StreamLabeler = {
      async label(frame) {
        const wait = Math.max(10, stallUntil - Date.now());
        await new Promise((r) => setTimeout(r, wait));
        return { tMs: frame.tMs, probs: new Float32Array([0.9, 0.1]) };
      },
      reset() {},
      close() {},
    };
    const states: Array<{ state: string; lagMs: number }> = [];
    const runner = startCameraRunner(
      { id: 'stall', source: fixture('fight-fi002.mp4'), fps: 8, loop: true },
      {
        models: [{ labeler, manifest }],
        publish: (m) => void (m.type === 'status' && states.push({ state: m.state, lagMs: m.lagMs })),
        maxBackoffMs: 1000,
        behindMs: 800,
      },
    );
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(runner.status().state).to.equal('live');
      stallUntil = Date.now() + 2500;
      await new Promise((r) => setTimeout(r, 1800));
      const during = runner.status();
      expect(during.state).to.equal('behind');
      expect(during.lagMs).to.be.above(800);
      await new Promise((r) => setTimeout(r, 2000));
      const after = runner.status();
      expect(after.state).to.equal('live');
      expect(after.lagMs).to.be.below(400);
      expect(states.map((s) => s.state)).to.include.members(['live', 'behind']);
      expect(states.find((s) => s.state === 'behind')!.lagMs).to.be.above(800);
      // The frames that arrived while it stalled were dropped, not queued behind it.
      expect(after.dropped).to.be.greaterThan(10);
    } finally {
      await runner.stop();
    }
  });

  it('runs two models on one ffmpeg: each gets frames at its own size, labels and segments of its own, named', async () => {
    const fall = readManifest(resolveModelDir('fall'));
    const seen: Record<string, Array<{ w: number; h: number; tMs: number }>> = { fight: [], fall: [] };
    const fake = (name: string, probs: number[]): StreamLabeler => ({
      async label(frame) {
        seen[name].push({ w: frame.width, h: frame.height, tMs: frame.tMs });
        await new Promise((r) => setTimeout(r, 5));
        return { tMs: frame.tMs, probs: new Float32Array(probs) };
      },
      reset() {},
      close() {},
    });
    const out: ServerMessage[] = [];
    const before = ffmpegChildren().length;
    let during = 0;
    const runner = startCameraRunner(
      { id: 'two', source: fixture('fight-fi002.mp4'), fps: null, loop: false },
      {
        models: [
          { labeler: fake('fight', [0.9, 0.1]), manifest },
          { labeler: fake('fall', [0.8, 0.2]), manifest: fall },
        ],
        publish: (m) => {
          if (m.type === 'label') during = Math.max(during, ffmpegChildren().length - before);
          out.push(m);
        },
        maxBackoffMs: 1000,
      },
    );
    while (runner.status().state !== 'ended') await new Promise((r) => setTimeout(r, 100));
    const status = runner.status();
    await runner.stop();
    expect(during, 'ffmpeg processes while labelling').to.equal(1);
    expect(seen.fight.length).to.be.within(18, 21); // 2.5 s at 8 fps
    expect(seen.fall.length).to.equal(seen.fight.length);
    expect(seen.fight.every((f) => f.w === 448 && f.h === 448)).to.equal(true);
    expect(seen.fall.every((f) => f.w === 192 && f.h === 192)).to.equal(true);
    expect(seen.fall.map((f) => f.tMs)).to.deep.equal(seen.fight.map((f) => f.tMs));
    const labels = out.filter((m) => m.type === 'label');
    for (const name of ['fight', 'fall']) expect(labels.filter((m) => m.model === name)).to.have.length(seen[name].length);
    expect(labels.find((m) => m.model === 'fall')?.probs).to.deep.equal({ falling: 0.8, no_fall: 0.2 });
    const segments = out.filter((m) => m.type === 'segment' && m.event === 'end');
    expect(segments.map((m) => m.type === 'segment' && [m.model, m.segment.label])).to.have.deep.members([
      ['fight', 'fight'],
      ['fall', 'falling'],
    ]);
    expect(status.models?.map((m) => [m.model, m.frames])).to.deep.equal([
      ['fight', seen.fight.length],
      ['fall', seen.fall.length],
    ]);
    expect(status.frames).to.equal(seen.fight.length + seen.fall.length);
  });

  it('anchors a source on the wall clock where it delivered closest to real time: a source read too slowly shows growing lag', () => {
    const clock = createLagClock();
    // Frames 200 ms apart in stream time; the first arrive on time, then each 100 ms late more.
    const arrivals = [0, 200, 400, 700, 1000, 1300].map((w, i) => ({ tMs: i * 200, wallMs: 10_000 + w }));
    const shown = arrivals.map((a) => clock.arrived(a.tMs, a.wallMs));
    expect(shown.map((s, i) => arrivals[i].wallMs - s)).to.deep.equal([0, 0, 0, 100, 200, 300]);
    // A frame earlier than any before moves the anchor (ffmpeg's start-up delay was the late one).
    expect(clock.arrived(1200, 11_150)).to.equal(11_150);
  });
});
