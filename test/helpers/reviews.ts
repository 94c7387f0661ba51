import { expect } from 'chai';
import type { VigilEvent } from '../../src/events/types.js';
import { fixture } from './clips.js';
import type { TestClient, TestServer } from './server.js';

/** A camera on the demo clip recording its fights: events with a clip to adapt from. */
export const REVIEW_CAMERA = {
  id: 'hall',
  source: fixture('demo.mp4'),
  model: 'fight',
  loop: true,
  // Fights 2 s apart, closer than the rolls: one clip for as long as it records, which every event links to.
  record: { mode: 'events', labels: ['fight'], preRollS: 2, postRollS: 1 },
};

/**
 * Creates {@link REVIEW_CAMERA}, waits for two fights, stops recording and returns the fights
 * the recorded clip covers. `c` must be subscribed to `hall` with clips.
 */
export async function recordFights(t: TestServer, c: TestClient): Promise<{ fights: VigilEvent[]; clipId: string }> {
  expect((await t.api('/api/cameras', { method: 'POST', body: REVIEW_CAMERA })).status).to.equal(201);
  // The demo loops every 4.5 s (2 s of no fight, then a fight): two fights, then the clip ends.
  await c.next(
    'event',
    (m) => m.change === 'end' && c.messages.filter((x) => x.type === 'event' && x.change === 'end').length >= 2,
    40_000,
  );
  await t.api('/api/cameras/hall', { method: 'PATCH', body: { record: { mode: 'off' } } });
  const clipId = (await c.next('clip', (m) => m.status === 'ready', 20_000)).clipId;
  const fights = (await t.api('/api/events?camera=hall')).body.events.filter((e: VigilEvent) => e.clipId === clipId);
  expect(fights.length).to.be.at.least(2);
  return { fights, clipId };
}

/**
 * Four reviews over the recorded clip: two fights confirmed, and the quiet stretch before each,
 * stored as an alert and reviewed as a false alarm (it teaches no_fight).
 */
export async function reviewFights(t: TestServer, fights: readonly VigilEvent[], clipId: string): Promise<void> {
  const store = t.server.store;
  const clip = (await store.clips.get(clipId))!;
  for (const e of fights.slice(0, 2)) {
    expect((await t.api(`/api/events/${e.id}`, { method: 'PATCH', body: { review: 'confirmed' } })).status).to.equal(200);
    const from = Math.max(clip.startedAtMs!, e.startedAtMs - 1800);
    const quiet = await store.events.open({
      cameraId: 'hall',
      model: 'fight',
      label: 'fight',
      startMs: 0,
      endMs: e.startedAtMs - 300 - from,
      startedAtMs: from,
      endedAtMs: e.startedAtMs - 300,
      peak: 0.6,
      mean: 0.55,
    });
    await store.events.end(quiet.id, { endMs: quiet.endMs, endedAtMs: quiet.endedAtMs, peak: 0.6, mean: 0.55 });
    await store.events.linkClip('hall', clipId, clip.startedAtMs!, clip.startedAtMs! + clip.durationMs!);
    expect((await t.api(`/api/events/${quiet.id}`, { method: 'PATCH', body: { review: 'false_alarm' } })).status).to.equal(200);
  }
}
