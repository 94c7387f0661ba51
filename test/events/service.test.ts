import { expect } from 'chai';
import { createEventService } from '../../src/events/service.js';
import type { EventChange } from '../../src/events/types.js';
import { readManifest } from '../../src/model/folder/model-folder.js';
import { SHIPPED_MODELS_DIR } from '../../src/model/folder/paths.js';
import { join } from 'node:path';
import type { SegmentEvent } from '../../src/timeline/segments.js';
import { tempStores } from '../store/temp-dir.js';

describe('events: service', () => {
  const stores = tempStores();

  /** One fight segment of 8 frames, 125 ms apart, peak 0.9, fed to a tracker of `cameraId`. */
  async function run(alertsFor: Parameters<typeof createEventService>[0]['alertsFor'], cameraId: string): Promise<EventChange[]> {
    const store = stores.open();
    const events = createEventService({ store, alertsFor });
    const changes: EventChange[] = [];
    events.subscribe((c) => changes.push(c));
    const tracker = events.track({ cameraId, manifest: readManifest(join(SHIPPED_MODELS_DIR, 'fight')), snapshot: () => undefined });
    for (let i = 0; i < 8; i++) {
      const segment = { label: 'fight', startMs: 0, endMs: i * 125, confidence: 0.6, peak: 0.9 };
      const e: SegmentEvent[] = [{ type: i === 0 ? 'start' : 'update', segment }];
      await tracker.push(e, { tMs: i * 125, wallMs: 1_700_000_000_000 + i * 125 });
    }
    return changes;
  }

  // A camera's own alert settings (the config file's `cameras[].alerts`) win over the model's, for that camera only.
  const own = (id: string) => (id === 'door' ? { minDurationMs: 5000 } : id === 'hall' ? { labels: ['no_fight'] } : undefined);

  it("a camera without settings of its own alerts on the model's alerts, without thresholds", async () => {
    expect((await run(own, 'yard')).map((c) => c.type)).to.deep.equal(['start']);
  });

  it('a camera whose minDurationMs is longer than the fight gets no event', async () => {
    expect(await run(own, 'door')).to.deep.equal([]);
  });

  it('a camera that narrows its alerts to another class gets no fight event', async () => {
    expect(await run(own, 'hall')).to.deep.equal([]);
  });

  it("a camera's new runner ends what a dead one left open, once; the dead one's late end changes nothing", async () => {
    const store = stores.open();
    const events = createEventService({ store });
    const changes: EventChange[] = [];
    events.subscribe((c) => changes.push(c));
    const manifest = readManifest(join(SHIPPED_MODELS_DIR, 'fight'));
    // The runner that will be cut off: its event opens, and is stored as far as 1 s (its update) of the 1.25 s it ran.
    const old = events.track({ cameraId: 'yard', manifest, snapshot: () => undefined });
    const at = (tMs: number) => ({ tMs, wallMs: 1_700_000_000_000 + tMs });
    for (let i = 0; i <= 10; i++)
      await old.push(
        [{ type: i === 0 ? 'start' : 'update', segment: { label: 'fight', startMs: 0, endMs: i * 125, confidence: 0.6, peak: 0.9 } }],
        at(i * 125),
      );
    await events.takeOver('yard');
    await events.takeOver('yard');
    await old.push([{ type: 'end', segment: { label: 'fight', startMs: 0, endMs: 1900, confidence: 0.6, peak: 0.95 } }], at(1900));
    expect(changes.map((c) => c.type)).to.deep.equal(['start', 'update', 'end']);
    expect(changes[2].event).to.deep.include({ state: 'ended', endMs: 1000, peak: 0.9 });
    expect(await store.events.get(changes[0].event.id)).to.deep.include({ state: 'ended', endMs: 1000 });
  });
});
