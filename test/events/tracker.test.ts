import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createEventTracker } from '../../src/events/tracker.js';
import type { AlertRule, EventChange } from '../../src/events/types.js';
import type { SegmentEvent } from '../../src/timeline/segments.js';
import { tempStores } from '../store/temp-dir.js';

const WALL0 = 1_700_000_000_000;

/** Segment events of a segment from `startMs`, one a frame every 125 ms, with the peak given per frame. */
function frames(label: string, startMs: number, peaks: number[]): Array<{ events: SegmentEvent[]; tMs: number }> {
  return peaks.map((p, i) => {
    const tMs = startMs + i * 125;
    const peak = Math.max(...peaks.slice(0, i + 1));
    const segment = { label, startMs, endMs: tMs, confidence: p / 2, peak };
    return { events: [{ type: i === 0 ? 'start' : 'update', segment }], tMs };
  });
}

describe('events: tracker', () => {
  const stores = tempStores();

  function track(rule: Partial<AlertRule>, jpegs: () => Buffer | undefined = () => undefined) {
    const store = stores.open();
    const changes: EventChange[] = [];
    const tracker = createEventTracker({
      cameraId: 'hall',
      model: 'fight',
      rule: { labels: ['fight'], minDurationMs: 0, minConfidence: 0, ...rule },
      repo: store.events,
      snapshot: jpegs,
      onChange: (c) => changes.push(c),
    });
    const feed = async (list: Array<{ events: SegmentEvent[]; tMs: number }>) => {
      for (const f of list) await tracker.push(f.events, { tMs: f.tMs, wallMs: WALL0 + f.tMs });
    };
    return { store, changes, tracker, feed };
  }

  it('opens once the segment has lasted minDurationMs with a peak of minConfidence, and ends with it', async () => {
    const { store, changes, tracker, feed } = track({ minDurationMs: 500, minConfidence: 0.8 });
    // Peaks 0.9 from the third frame, but 500 ms only at the fifth (4 × 125).
    await feed(frames('fight', 1000, [0.5, 0.6, 0.9, 0.7, 0.7, 0.7]));
    expect(changes.map((c) => c.type)).to.deep.equal(['start']);
    expect(changes[0].event).to.deep.include({ startMs: 1000, endMs: 1500, startedAtMs: WALL0 + 1000, endedAtMs: WALL0 + 1500, peak: 0.9 });
    // Its figures are stored with its updates, at most every second of stream time: not yet.
    expect((await store.events.get(changes[0].event.id))?.endMs).to.equal(1500);
    await tracker.push([{ type: 'end', segment: { label: 'fight', startMs: 1000, endMs: 1700, confidence: 0.4, peak: 0.9 } }], {
      tMs: 1625,
      wallMs: WALL0 + 1625,
    });
    expect(changes.map((c) => c.type)).to.deep.equal(['start', 'end']);
    expect(changes[1].event).to.deep.include({ state: 'ended', endMs: 1700, endedAtMs: WALL0 + 1700, mean: 0.4 });
  });

  it('an update carries what others gave the row meanwhile (a review), and the start its first snapshot', async () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
    const { store, changes, feed } = track({}, () => jpeg);
    const all = frames('fight', 0, [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]);
    await feed(all.slice(0, 2));
    expect(changes[0]).to.deep.include({ type: 'start' });
    expect(changes[0].event.snapshot).to.equal(true);
    expect((await store.events.get(changes[0].event.id))?.snapshot).to.equal(true);
    await store.events.review(changes[0].event.id, { state: 'confirmed', note: 'seen' });
    await feed(all.slice(2));
    const update = changes.find((c) => c.type === 'update');
    expect(update?.event.review).to.deep.include({ state: 'confirmed', note: 'seen' });
  });

  it('makes no event of a segment too short or too weak, nor of a class that is no alert', async () => {
    const { store, changes, feed } = track({ minDurationMs: 500, minConfidence: 0.8 });
    await feed(frames('fight', 0, [0.9, 0.9, 0.9]));
    await feed([{ events: [{ type: 'end', segment: { label: 'fight', startMs: 0, endMs: 375, confidence: 0.45, peak: 0.9 } }], tMs: 375 }]);
    await feed(frames('fight', 1000, [0.5, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7]));
    await feed(frames('no_fight', 3000, [1, 1, 1, 1, 1, 1, 1, 1, 1]));
    expect(changes).to.deep.equal([]);
    expect((await store.events.list()).events).to.deep.equal([]);
  });

  it('sends an update at most every second of stream time, and writes a snapshot at a new peak at most as often', async () => {
    let n = 0;
    const { store, changes, feed } = track({}, () => Buffer.from(`jpeg ${++n}`));
    // 3 s of a rising peak: a new peak every frame.
    await feed(
      frames(
        'fight',
        0,
        Array.from({ length: 25 }, (_, i) => 0.5 + i / 50),
      ),
    );
    expect(changes.map((c) => c.type)).to.deep.equal(['start', 'update', 'update', 'update']);
    const times = changes.map((c) => c.event.endMs);
    expect(times).to.deep.equal([0, 1000, 2000, 3000]);
    expect(changes[0].event.snapshot).to.equal(true);
    // The file holds the picture of the newest peak written: the one taken at 3 s (frame 25).
    expect(readFileSync(await store.events.snapshotPath(changes[0].event.id), 'utf8')).to.equal('jpeg 25');
  });
});
