import { expect } from 'chai';
import { readManifest, resolveModelDir } from '../../src/model/folder/model-folder.js';
import type { StreamLabeler } from '../../src/model/live/stream-batcher.js';
import { createLagClock, startCameraRunner } from '../../src/server/camera-runner.js';
import type { ServerMessage } from '../../src/server/protocol.js';
import { fixture } from '../helpers/clips.js';

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
      { labeler, manifest, publish: (msg) => out.push({ msg, at: Date.now() }), maxBackoffMs: 1000 },
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
        labeler,
        manifest,
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
