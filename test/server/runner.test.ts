import { expect } from 'chai';
import { readManifest, resolveModelDir } from '../../src/model/model-folder.js';
import type { StreamLabeler } from '../../src/model/stream-batcher.js';
import { startCameraRunner } from '../../src/server/camera-runner.js';
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
      focus: () => undefined,
      close() {},
    };
    const out: Array<{ msg: ServerMessage; at: number }> = [];
    const runner = startCameraRunner(
      { id: 'slow', source: fixture('fight-fi002.mp4'), fps: null, loop: true },
      { labeler, manifest, publish: (msg) => out.push({ msg, at: Date.now() }), maxBackoffMs: 1000 },
    );
    await new Promise((r) => setTimeout(r, 4000));
    await runner.stop();
    const labels = out.filter((o) => o.msg.type === 'label') as Array<{ msg: Extract<ServerMessage, { type: 'label' }>; at: number }>;
    const status = runner.status();
    expect(status.state).to.equal('stopped');
    // ~4 s at 8 fps is ~30 frames; at 400 ms each only ~9 can be labelled.
    expect(labels.length).to.be.within(6, 11);
    expect(status.dropped).to.be.greaterThan(12);
    expect(status.frames).to.equal(labels.length);
    for (const { msg, at } of labels) expect(at - msg.wallMs, 'frame to label').to.be.below(2 * SLOW_MS + 100);
    // The labelled frames are spread over the whole run, not the first ones in a backlog.
    expect(labels[labels.length - 1].msg.tMs).to.be.greaterThan(2500);
  });
});
