import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { EventChange, VigilEvent } from '../../src/events/types.js';
import { FIXTURES_DIR } from '../../src/server/config.js';
import { resolveFfmpeg } from '../../src/video/ffmpeg.js';

/** An event as the event service would report it; `n` makes the id and times distinct. */
export function testEvent(n: number, overrides: Partial<VigilEvent> = {}): VigilEvent {
  const startMs = 1000 * n;
  return {
    id: `ev_${n.toString(16).padStart(16, '0')}`,
    cameraId: 'door',
    model: 'fight',
    label: 'fight',
    startMs,
    endMs: startMs + 500,
    startedAtMs: Date.UTC(2026, 0, 1) + startMs,
    endedAtMs: Date.UTC(2026, 0, 1) + startMs + 500,
    peak: 0.9,
    mean: 0.8,
    state: 'active',
    snapshot: false,
    clipId: null,
    review: { state: 'unreviewed' },
    ...overrides,
  };
}

/** start, update, end of event `n`. */
export function lifecycle(n: number, overrides: Partial<VigilEvent> = {}): EventChange[] {
  return [
    { type: 'start', event: testEvent(n, overrides) },
    { type: 'update', event: testEvent(n, { ...overrides, endMs: 1000 * n + 900, peak: 0.95 }) },
    { type: 'end', event: testEvent(n, { ...overrides, endMs: 1000 * n + 900, peak: 0.95, state: 'ended' }) },
  ];
}

/** A real JPEG: the first frame of a fixture clip, written by ffmpeg to `dir`. */
export async function fixtureJpeg(dir: string): Promise<string> {
  const { ffmpeg } = await resolveFfmpeg();
  const out = join(dir, 'snapshot.jpg');
  execFileSync(ffmpeg.path, [
    '-v',
    'error',
    '-y',
    '-i',
    join(FIXTURES_DIR, 'fight-fi002.mp4'),
    '-frames:v',
    '1',
    '-vf',
    'scale=160:-2',
    out,
  ]);
  return out;
}

/** Polls `check` until it is true (or fails with `what`). */
export async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
}
