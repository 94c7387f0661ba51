import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type VigilServer } from '../../src/server/app.js';
import { launchBrowser, watchPage, type PageProblems } from '../helpers/browser.js';
import { fixture } from '../helpers/clips.js';
import type { JsonAnswer } from '../helpers/json.js';
import { connect } from '../helpers/server.js';

// The callbacks given to page.evaluate / $eval / waitForFunction run in Chromium. The project
// compiles without the DOM lib (adding it would hide missing names in src/), so the few browser
// names used here are declared loosely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a browser value, with no DOM lib to type it (see above)
type InBrowser = any;
declare const document: InBrowser;
declare const localStorage: InBrowser;
declare function getComputedStyle(e: unknown): { backgroundColor: string };
type HTMLElement = InBrowser;
type HTMLVideoElement = InBrowser;
type HTMLImageElement = InBrowser;
type Element = InBrowser;
type VTTCue = InBrowser;

/** Polls `fn` until it returns a truthy value. */
async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

type Rect = { left: number; right: number; top: number; bottom: number; width: number; height: number };

describe('web UI in headless Chromium (real server)', function () {
  this.timeout(60_000);
  let dir: string;
  let server: VigilServer;
  let browser: Browser;
  let context: BrowserContext;
  let classes: string[];
  let previewReady = false;
  const pages: Page[] = [];

  async function get<T = JsonAnswer>(path: string): Promise<T> {
    const res = await fetch(server.url + path);
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async function open(hash: string): Promise<{ page: Page; problems: PageProblems }> {
    const page = await context.newPage();
    pages.push(page);
    const problems = watchPage(page);
    if (!previewReady) problems.allow(/preview\.mjpeg/);
    await page.goto(`${server.url}/${hash}`);
    return { page, problems };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-web-'));
    [server, browser] = await Promise.all([startServer({ port: 0, dataDir: dir, demo: true }), launchBrowser()]);
    context = await browser.newContext();
    classes = (await get('/api/models')).models.find((m: { name: string }) => m.name === 'fight').classes;
    // The MJPEG preview is checked once the server has it; a 404 from the API's catch-all
    // means the route does not exist yet.
    const ctl = new AbortController();
    const res = await fetch(`${server.url}/api/cameras/demo/preview.mjpeg`, { signal: ctl.signal });
    previewReady = !(res.status === 404 && (await res.text()).includes('no such API path'));
    ctl.abort();
  });

  afterEach(async () => {
    for (const p of pages.splice(0)) await p.close().catch(() => {});
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('live page: the demo camera is live, its labels show over the video and fill the strip', async () => {
    const { page, problems } = await open('#/live/demo');
    await page.waitForSelector('[data-testid="camera-demo"][aria-pressed="true"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="live-label"]')?.dataset.label, null, {
      timeout: 20_000,
    });

    const samples: Array<{ label: string; value: number; text: string }> = [];
    for (let i = 0; i < 6; i++) {
      samples.push(
        await page.evaluate(() => ({
          label: document.querySelector('[data-testid="live-label"]').dataset.label as string,
          value: Number(document.querySelector('[data-testid="live-confidence"]').dataset.value),
          text: document.querySelector('[data-testid="live-confidence"]').textContent as string,
        })),
      );
      await page.waitForTimeout(300);
    }
    for (const s of samples) {
      expect(classes).to.include(s.label);
      expect(s.value).to.be.within(0, 1);
      expect(s.text).to.equal(s.value.toFixed(2));
    }
    // Labels keep coming (~8 a second): the smoothed confidence moved while we watched.
    expect(new Set(samples.map((s) => s.value)).size, JSON.stringify(samples)).to.be.greaterThan(1);

    await page.waitForFunction(() => document.querySelectorAll('[data-testid="strip-cell"][data-label]').length >= 3, null, {
      timeout: 10_000,
    });
    const cells = await page.$$eval('[data-testid="strip-cell"][data-label]', (els) =>
      els.map((e) => ({ label: (e as HTMLElement).dataset.label as string, bg: getComputedStyle(e).backgroundColor })),
    );
    const legend = Object.fromEntries(
      await page.$$eval('[data-testid="legend"] li', (els) =>
        els.map((e) => [(e as HTMLElement).dataset.label, getComputedStyle(e.querySelector('.swatch') as Element).backgroundColor]),
      ),
    );
    expect(Object.keys(legend)).to.deep.equal(classes);
    expect(new Set(Object.values(legend)).size).to.equal(classes.length);
    for (const c of cells) expect(c.bg, c.label).to.equal(legend[c.label]);
    // The newest second is the rightmost cell.
    expect(await page.$$eval('[data-testid="strip-cell"]', (els) => els.length)).to.equal(60);
    expect(await page.$eval('[data-testid="strip-cell"]:last-child', (e) => (e as HTMLElement).dataset.label ?? null)).to.be.oneOf(classes);

    // The fight model looks at a square that follows the motion: drawn over the picture, 320/448
    // of the letterboxed frame wide (the 4:3 demo fills the square's width).
    await page.waitForSelector('[data-testid="live-focus"]:not([hidden])', { timeout: 10_000 });
    const [img, focus] = await Promise.all(
      ['live-preview', 'live-focus'].map((id) => page.$eval(`[data-testid="${id}"]`, (e) => e.getBoundingClientRect().toJSON() as Rect)),
    );
    const natural = await page.$eval('[data-testid="live-preview"]', (e) => [
      (e as HTMLImageElement).naturalWidth,
      (e as HTMLImageElement).naturalHeight,
    ]);
    const shown = Math.min(img.width / natural[0], img.height / natural[1]) * natural[0]; // object-fit: contain
    expect(focus.width / shown).to.be.closeTo(320 / 448, 0.01);
    expect(focus.height).to.be.at.most(focus.width + 0.5);
    expect(focus.left).to.be.at.least(img.left + (img.width - shown) / 2 - 0.5);
    expect(focus.right).to.be.at.most(img.left + (img.width + shown) / 2 + 0.5);
    expect(focus.top).to.be.at.least(img.top - 0.5);
    expect(focus.bottom).to.be.at.most(img.bottom + 0.5);

    const status = page.locator('[data-testid="live-status"]');
    expect(await status.getAttribute('data-state')).to.equal('live');
    const frames = Number(/(\d+) frames labelled/.exec((await status.textContent()) ?? '')?.[1]);
    expect(frames).to.be.greaterThan(0);
    expect(await page.locator('[data-testid="camera-demo"] .state').textContent()).to.equal('live');
    expect(await page.locator('[data-testid="hub-state"]').getAttribute('data-state')).to.equal('open');
    await page.screenshot({ path: join(tmpdir(), 'vigil-web-live.png') });
    expect(problems.list).to.deep.equal([]);
  });

  it('live page: a backdated segment repaints the strip from where it began, not where its label switched', async () => {
    // The test's own socket sees every message of the camera from its first frame.
    const c = await connect(`${server.url.replace(/^http/, 'ws')}/ws`);
    try {
      c.send({ type: 'subscribe', cameras: '*' });
      await c.next('subscribed');
      const res = await fetch(`${server.url}/api/cameras`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'fall19', source: fixture('gmdcsa24-subject3-fall19.mp4'), model: 'fall', loop: true }),
      });
      expect(res.status).to.equal(201);
      const { page, problems } = await open('#/live/fall19');
      await page.waitForSelector('[data-testid="camera-fall19"][aria-pressed="true"]');
      // A start of `falling` in an earlier second than the first label that said so (the fall
      // model backdates by up to a hold and a window; in the odd loop both share a second).
      let after = -1;
      let second = -1;
      for (let loop = 0; loop < 4 && second < 0; loop++) {
        const start = await c.next(
          'segment',
          (m) => m.cameraId === 'fall19' && m.event === 'start' && m.segment.label === 'falling' && m.segment.startMs > after,
        );
        const switched = await c.next('label', (m) => m.cameraId === 'fall19' && m.label === 'falling' && m.tMs >= start.segment.startMs);
        after = start.segment.startMs;
        if (Math.floor(start.segment.startMs / 1000) < Math.floor(switched.tMs / 1000)) second = Math.floor(start.segment.startMs / 1000);
      }
      expect(second, 'a backdated start in an earlier second than its label switch').to.be.at.least(0);
      // Labels alone leave that second `no_fall` (its newest frame said so); the segment paints it.
      const painted = await until('the strip cell of the backdated start', () =>
        page.$$eval(
          '[data-testid="strip-cell"][title]',
          (els, s) => els.find((e) => (e as HTMLElement).title.startsWith(`${s} s: `))?.getAttribute('data-label'),
          second,
        ),
      );
      expect(painted).to.equal('falling');
      expect(problems.list).to.deep.equal([]);
    } finally {
      c.close();
      await fetch(`${server.url}/api/cameras/fall19`, { method: 'DELETE' });
    }
  });

  it('live page: the MJPEG preview of the demo camera loads', async function () {
    if (!previewReady) this.skip();
    const { page, problems } = await open('#/live/demo');
    await page.waitForFunction(
      () => {
        const img = document.querySelector('[data-testid="live-preview"]');
        return img !== null && img.naturalWidth > 0;
      },
      null,
      { timeout: 15_000 },
    );
    expect(await page.$eval('[data-testid="live-preview"]', (img) => (img as HTMLImageElement).src)).to.match(
      /\/api\/cameras\/demo\/preview\.mjpeg$/,
    );
    expect(problems.list).to.deep.equal([]);
  });

  it('clips: an upload through the form is labelled; its video has the label track and the segment bar seeks', async () => {
    const { page, problems } = await open('#/clips');
    await page.setInputFiles('[data-testid="upload-file"]', fixture('demo.mp4'));
    await page.click('[data-testid="upload-submit"]');
    const done = page.locator('[data-testid="upload-done"]');
    await done.waitFor();
    const clipId = (await done.getAttribute('data-clip-id')) as string;
    expect(clipId).to.match(/^clp_/);
    // The row turns ready on the hub's `clip` message, without a reload.
    const row = page.locator(`[data-testid="clip-row"][data-clip-id="${clipId}"]`);
    await page.waitForSelector(`[data-testid="clip-row"][data-clip-id="${clipId}"][data-status="ready"]`, { timeout: 30_000 });
    expect(await row.locator('td').nth(0).textContent()).to.equal('demo.mp4');
    expect(await row.locator('td').nth(1).textContent()).to.equal('upload');
    const clip = await get(`/api/clips/${clipId}`);
    const segments: Array<{ label: string; startMs: number; endMs: number; confidence: number }> = clip.timeline.segments;
    // The demo clip is a walk, then a fight: two segments to seek between.
    expect(segments.map((s) => s.label)).to.deep.equal(['no_fight', 'fight']);

    await row.locator('[data-testid="clip-link"]').click();
    await page.waitForURL(`**/#/clips/${clipId}`);
    expect(await page.locator('[data-testid="clip-name"]').textContent()).to.equal('demo.mp4');
    await checkPlayer(page, segments, clipId);

    // The download links serve the timeline and the WebVTT file.
    const json = await page.locator('[data-testid="download-json"]').getAttribute('href');
    const vtt = await page.locator('[data-testid="download-vtt"]').getAttribute('href');
    expect((await get(json as string)).segments).to.deep.equal(segments);
    expect(await (await fetch(server.url + vtt)).text()).to.match(/^WEBVTT\n/);
    await page.screenshot({ path: join(tmpdir(), 'vigil-web-clip.png'), fullPage: true });
    expect(problems.list).to.deep.equal([]);
  });

  it('clips: a camera recording appears in the list by itself, and plays and seeks', async () => {
    const { page, problems } = await open('#/clips');
    await page.waitForSelector('[data-testid="clip-list"] tbody tr');
    const res = await fetch(`${server.url}/api/cameras`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'rec', source: fixture('fight-fi002.mp4'), model: 'fight', record: { mode: 'continuous', segmentS: 2 } }),
    });
    expect(res.status).to.equal(201);
    const sel = '[data-testid="clip-row"][data-kind="recording"][data-status="ready"]';
    await page.waitForSelector(sel, { timeout: 20_000 });
    const row = page.locator(sel).first();
    expect(await row.locator('td').nth(2).textContent()).to.equal('rec');
    const clipId = (await row.getAttribute('data-clip-id')) as string;
    const clip = await get(`/api/clips/${clipId}`);
    expect(clip.kind).to.equal('recording');
    await row.locator('[data-testid="clip-link"]').click();
    await page.waitForURL(`**/#/clips/${clipId}`);
    await checkPlayer(page, clip.timeline.segments, clipId);
    const duration = await page.$eval('[data-testid="clip-video"]', (v) => (v as HTMLVideoElement).duration);
    expect(duration).to.be.closeTo(clip.durationMs / 1000, 0.3);
    // It plays: time moves.
    const t0 = await page.$eval('[data-testid="clip-video"]', async (v) => {
      const video = v as HTMLVideoElement;
      video.muted = true;
      video.currentTime = 0;
      await video.play();
      return video.currentTime;
    });
    await page.waitForFunction((t) => document.querySelector('[data-testid="clip-video"]').currentTime > t + 0.3, t0, { timeout: 5000 });
    expect(problems.list).to.deep.equal([]);
  });

  it('webcam: the page publishes the fake camera, the server labels it, labels show; stop ends it', async () => {
    const { page, problems } = await open('#/live');
    await page.waitForSelector('[data-testid="webcam-model"] option', { state: 'attached' });
    await page.click('[data-testid="webcam-start"]');
    await page.waitForSelector('[data-testid="webcam-state"][data-state="publishing"]', { timeout: 15_000 });
    const camId = (await page.evaluate(() => localStorage.getItem('vigil.webcamCameraId'))) as string;
    expect(camId).to.match(/^webcam-[0-9a-f]{8}$/);
    const cam = await get(`/api/cameras/${camId}`);
    expect(cam).to.include({ source: 'webcam', model: 'fight' });
    await page.waitForSelector(`[data-testid="camera-${camId}"][aria-pressed="true"]`);
    await page.waitForFunction(() => document.querySelector('[data-testid="webcam-video"]')?.videoWidth, null, { timeout: 10_000 });

    await until('the server to label webcam frames', async () => (await get(`/api/cameras/${camId}`)).status.frames > 0, 30_000);
    await page.waitForFunction(() => document.querySelector('[data-testid="live-label"]')?.dataset.label, null, {
      timeout: 10_000,
    });
    const label = await page.$eval('[data-testid="live-label"]', (e) => (e as HTMLElement).dataset.label);
    expect(classes).to.include(label);
    const value = Number(await page.$eval('[data-testid="live-confidence"]', (e) => (e as HTMLElement).dataset.value));
    expect(value).to.be.within(0, 1);
    expect(await page.locator('[data-testid="live-status"]').getAttribute('data-state')).to.equal('live');
    // The square the model looks at is drawn over the webcam's own <video> too.
    await page.waitForSelector('[data-testid="live-focus"]:not([hidden])', { timeout: 10_000 });
    const [video, focus] = await Promise.all(
      ['webcam-video', 'live-focus'].map((id) => page.$eval(`[data-testid="${id}"]`, (e) => e.getBoundingClientRect().toJSON() as Rect)),
    );
    expect(focus.width).to.be.within(video.width * 0.5, video.width);
    expect(focus.left).to.be.at.least(video.left - 0.5);
    expect(focus.right).to.be.at.most(video.right + 0.5);
    await page.screenshot({ path: join(tmpdir(), 'vigil-web-webcam.png') });

    await page.click('[data-testid="webcam-stop"]');
    await page.waitForSelector('[data-testid="webcam-state"][data-state="stopped"]');
    expect(await page.locator('[data-testid="webcam-video"]').count()).to.equal(0);
    // The publisher is gone: the camera waits for the next one.
    await until('the webcam camera to wait again', async () => (await get(`/api/cameras/${camId}`)).status.state === 'waiting', 15_000);
    expect(problems.list).to.deep.equal([]);
  });

  it('live page: a camera with two models shows a label line for each, the second with its own classes', async () => {
    const res = await fetch(`${server.url}/api/cameras`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'room', source: fixture('demo.mp4'), models: ['fight', 'fall'], loop: true }),
    });
    expect(res.status).to.equal(201);
    const { page, problems } = await open('#/live/room');
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="live-label"]')?.dataset.label &&
        document.querySelector('[data-testid="live-label-fall"]')?.dataset.label,
      null,
      { timeout: 30_000 },
    );
    const lines = await page.$$eval('[data-testid="live-overlay"] .model-line', (els) =>
      els.map((e) => ({
        model: e.querySelector('.model')?.textContent?.trim(),
        label: (e.querySelector('.label') as HTMLElement).dataset.label,
      })),
    );
    expect(lines.map((l) => l.model)).to.deep.equal(['fight', 'fall']);
    expect(classes).to.include(lines[0].label);
    expect(['falling', 'no_fall']).to.include(lines[1].label);
    expect(Number(await page.$eval('[data-testid="live-confidence-fall"]', (e) => (e as HTMLElement).dataset.value))).to.be.within(0, 1);
    // The list shows every camera's models and its newest event, not only the selected one's.
    const models = (id: string) => page.locator(`[data-camera="${id}"] [data-testid="camera-models"]`).textContent();
    expect(await models('room')).to.equal('fight · fall');
    expect(await models('demo')).to.equal('fight');
    for (const id of ['demo', 'room']) {
      await until(`the newest event of ${id} in the list`, async () => {
        const shown = await page
          .locator(`[data-camera="${id}"] [data-testid="camera-latest-event"]`)
          .getAttribute('data-event-id', { timeout: 500 });
        // The demo keeps making events: the one shown is the newest, or was a moment ago.
        const newest = (await get(`/api/events?camera=${id}&limit=2`)).events.map((e: { id: string }) => e.id);
        return shown !== null && newest.includes(shown);
      });
    }
    expect(problems.list).to.deep.equal([]);
    await fetch(`${server.url}/api/cameras/room`, { method: 'DELETE' });
  });

  it('live page: a camera whose source is unreachable shows reconnecting with the error code', async () => {
    const res = await fetch(`${server.url}/api/cameras`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'dead', source: 'rtsp://127.0.0.1:9/none', model: 'fight' }),
    });
    expect(res.status).to.equal(201);
    const { page, problems } = await open('#/live/dead');
    await page.waitForSelector('[data-testid="live-status"][data-state="reconnecting"]', { timeout: 15_000 });
    const status = (await get('/api/cameras/dead')).status;
    expect(await page.locator('[data-testid="live-error-code"]').textContent()).to.equal(status.error.code);
    expect(status.error.code).to.equal('VIGIL_ERR_SOURCE_UNREACHABLE');
    expect(await page.locator('[data-testid="live-status"]').textContent()).to.match(/retry in \d+ s/);
    expect(await page.locator('[data-testid="camera-dead"] .state').textContent()).to.equal('reconnecting');
    expect(problems.list).to.deep.equal([]);
    await fetch(`${server.url}/api/cameras/dead`, { method: 'DELETE' });
  });

  it('shows API errors with their code', async () => {
    const { page, problems } = await open('#/clips/clp_000000000000000000000');
    problems.allow(/status of 404/);
    const err = page.locator('[data-testid="clip-view"] [data-testid="error"]');
    await err.waitFor();
    expect(await err.getAttribute('data-code')).to.equal('VIGIL_ERR_NOT_FOUND');
    expect(await err.textContent()).to.contain('clip clp_000000000000000000000');
    expect(problems.list).to.deep.equal([]);
  });

  it('events: a live event appears at the top without a reload; opened, it shows its snapshot; Confirm persists and the count goes down', async () => {
    const { page, problems } = await open('#/events');
    await page.waitForSelector('[data-testid="hub-state"][data-state="open"]');
    await page.waitForSelector('[data-testid="event-list"] tbody tr');
    const listed = await page.$$eval('[data-testid="event-row"]', (els) => els.map((e) => (e as HTMLElement).dataset.eventId as string));
    // A mark the page keeps only if it is not reloaded.
    await page.evaluate(() => (document.body.dataset.mark = 'kept'));

    // The demo camera opens an event every loop (4.5 s): a row not there at load comes in live, on top.
    const fresh = await until(
      'a live event row',
      () =>
        page.$eval(
          '[data-testid="event-row"]',
          (e, before) => (before.includes((e as HTMLElement).dataset.eventId) ? undefined : ((e as HTMLElement).dataset.eventId as string)),
          listed,
        ),
      30_000,
    );
    expect(await page.evaluate(() => document.body.dataset.mark)).to.equal('kept');
    const event = await get(`/api/events/${fresh}`);
    expect(event).to.include({ cameraId: 'demo', model: 'fight', label: 'fight' });
    const row = page.locator(`[data-testid="event-row"][data-event-id="${fresh}"]`);
    expect(await row.locator('[data-testid="event-camera"]').textContent()).to.equal('demo');
    expect(await row.locator('[data-testid="event-link"]').textContent()).to.equal('fight');
    expect(await row.getAttribute('data-review')).to.equal('unreviewed');
    // Updates land in place: the row ends as the event does.
    await page.waitForSelector(`[data-testid="event-row"][data-event-id="${fresh}"][data-state="ended"]`, { timeout: 15_000 });
    expect(await page.locator(`[data-testid="event-row"][data-event-id="${fresh}"]`).count()).to.equal(1);
    await page.screenshot({ path: join(tmpdir(), 'vigil-web-events.png') });

    // The header's count is the server's, kept live as events start.
    const unreviewed = async () => (await get('/api/events/count?review=unreviewed')).count as number;
    const badge = () => page.$eval('[data-testid="unreviewed-count"]', (e) => Number((e as HTMLElement).dataset.count));
    const before = await until('the badge to agree with the server', async () => {
      const [n, shown] = [await unreviewed(), await badge()];
      return n === shown && n > 0 && { n };
    });

    await row.locator('[data-testid="event-link"]').click();
    await page.waitForURL(`**/#/events/${fresh}`);
    await page.waitForSelector('[data-testid="event-view"] [data-testid="event-title"]');
    expect(await page.locator('[data-testid="event-title"]').textContent()).to.equal('fight on demo');
    // No recording covers it (the demo camera does not record): the snapshot, large.
    expect((await get(`/api/events/${fresh}`)).clipId).to.equal(null);
    await page.waitForFunction(() => document.querySelector('[data-testid="event-view"] img.snapshot.large')?.naturalWidth > 0, null, {
      timeout: 10_000,
    });
    expect(await page.locator('[data-testid="event-clip"]').count()).to.equal(0);
    await page.screenshot({ path: join(tmpdir(), 'vigil-web-event.png') });

    await page.click('[data-testid="review-confirmed"]');
    await page.waitForSelector('[data-testid="review-confirmed"][aria-pressed="true"]');
    expect(await page.locator('[data-testid="review-message"]').textContent()).to.equal('Saved: Confirmed');
    expect((await get(`/api/events/${fresh}`)).review.state).to.equal('confirmed');
    // Down by one, give or take the events that started since (the demo keeps going).
    await until('the badge to count one less', async () => {
      const [n, shown, started] = [await unreviewed(), await badge(), await get('/api/events?review=unreviewed&limit=1000')];
      const since = started.events.filter((e: { id: string }) => !listed.includes(e.id) && e.id !== fresh).length;
      return shown === n && n <= before.n - 1 + since;
    });

    await page.reload();
    await page.waitForSelector(`[data-testid="event-view"][data-review="confirmed"] [data-testid="review-confirmed"][aria-pressed="true"]`);
    expect(await page.locator('[data-testid="event-view"] [data-testid="event-review"]').textContent()).to.equal('Confirmed');
    // The key f marks it a false alarm, from the event page.
    await page.keyboard.press('f');
    await page.waitForSelector('[data-testid="review-false_alarm"][aria-pressed="true"]');
    expect((await get(`/api/events/${fresh}`)).review.state).to.equal('false_alarm');
    await page.click('[data-testid="back-to-events"]');
    await page.waitForSelector(`[data-testid="event-row"][data-event-id="${fresh}"][data-review="false_alarm"]`);
    // The Live page lists the camera's latest events under its picture.
    await page.click('[data-testid="nav-live"]');
    await page.waitForSelector('[data-testid="recent-event"]');
    const recent = await page.$$eval('[data-testid="recent-event"]', (els) => els.map((e) => (e as HTMLElement).dataset.eventId));
    expect(recent.length).to.be.within(1, 3);
    expect(recent[0]).to.equal((await get('/api/events?camera=demo&limit=1')).events[0].id);
    await page.screenshot({ path: join(tmpdir(), 'vigil-web-live-events.png'), fullPage: true });
    expect(problems.list).to.deep.equal([]);
  });

  it('events: a review saves its note, Save note changes only the note, and Delete (confirmed by a second click) removes the event', async () => {
    const ended = await until(
      'an ended demo event',
      async () =>
        (await get('/api/events?camera=demo&review=unreviewed&limit=50')).events.find((e: { state: string }) => e.state === 'ended'),
      30_000,
    );
    const { page, problems } = await open(`#/events/${ended.id}`);
    await page.waitForSelector('[data-testid="event-view"] [data-testid="review-note"]');
    // One hint, from event-parts.js, on both pages.
    const hint = await page.locator('[data-testid="event-view"] .keys').textContent();
    expect(hint).to.equal('Keys: c confirm · f false alarm · u unreviewed');

    await page.fill('[data-testid="review-note"]', '  the man in red, twice  ');
    await page.click('[data-testid="review-false_alarm"]');
    await page.waitForSelector('[data-testid="review-false_alarm"][aria-pressed="true"]');
    let saved = await get(`/api/events/${ended.id}`);
    expect(saved.review).to.deep.include({ state: 'false_alarm', note: 'the man in red, twice' });
    expect(await page.locator('[data-testid="event-note"]').textContent()).to.equal('the man in red, twice');

    await page.fill('[data-testid="review-note"]', 'a dance, not a fight');
    await page.click('[data-testid="review-note-save"]');
    await page.waitForSelector('[data-testid="event-note"]:text("a dance, not a fight")');
    saved = await get(`/api/events/${ended.id}`);
    expect(saved.review).to.deep.include({ state: 'false_alarm', note: 'a dance, not a fight' });

    await page.reload();
    await page.waitForSelector('[data-testid="event-view"][data-review="false_alarm"]');
    expect(await page.inputValue('[data-testid="review-note"]')).to.equal('a dance, not a fight');
    // A review from the list keeps the note it cannot show.
    await page.click('[data-testid="back-to-events"]');
    const row = page.locator(`[data-testid="event-row"][data-event-id="${ended.id}"]`);
    await row.waitFor();
    expect(await page.locator('.keys').first().textContent()).to.equal(`Keys on a focused row: ${hint!.slice('Keys: '.length)}`);
    await row.locator('[data-testid="review-confirmed"]').click();
    await page.waitForSelector(`[data-testid="event-row"][data-event-id="${ended.id}"][data-review="confirmed"]`);
    expect((await get(`/api/events/${ended.id}`)).review).to.deep.include({ state: 'confirmed', note: 'a dance, not a fight' });

    await row.locator('[data-testid="event-link"]').click();
    await page.waitForSelector('[data-testid="event-delete"]');
    await page.click('[data-testid="event-delete"]');
    expect(await page.locator('[data-testid="event-delete"]').textContent()).to.equal('Really delete this event?');
    expect((await fetch(`${server.url}/api/events/${ended.id}`)).status).to.equal(200);
    await page.click('[data-testid="event-delete"]');
    await page.waitForURL(/#\/events$/);
    expect((await fetch(`${server.url}/api/events/${ended.id}`)).status).to.equal(404);
    await page.waitForSelector('[data-testid="event-row"]');
    expect(await page.locator(`[data-testid="event-row"][data-event-id="${ended.id}"]`).count()).to.equal(0);
    expect(problems.list).to.deep.equal([]);
  });

  it('events: filters by review state; an event a recording covers plays its clip from before its start', async () => {
    const res = await fetch(`${server.url}/api/cameras`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'evrec', source: fixture('demo.mp4'), model: 'fight', record: { mode: 'continuous', segmentS: 2 } }),
    });
    expect(res.status).to.equal(201);
    try {
      const event = await until(
        'an event of evrec with its clip',
        async () => (await get('/api/events?camera=evrec')).events.find((e: { clipId: string | null }) => e.clipId),
        30_000,
      );
      const { page, problems } = await open('#/events');
      await page.waitForSelector('[data-testid="event-row"]');
      await page.selectOption('[data-testid="events-camera"]', 'evrec');
      await page.selectOption('[data-testid="events-review"]', 'unreviewed');
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll('[data-testid="event-row"]')].every(
            (e) => e.querySelector('[data-testid="event-camera"]').textContent === 'evrec',
          ),
        null,
        { timeout: 10_000 },
      );
      const shown = await page.$$eval('[data-testid="event-row"]', (els) => els.map((e) => (e as HTMLElement).dataset.eventId));
      expect(shown).to.deep.equal((await get('/api/events?camera=evrec&review=unreviewed')).events.map((e: { id: string }) => e.id));

      await page.click(`[data-testid="event-row"][data-event-id="${event.id}"] [data-testid="event-link"]`);
      await page.waitForSelector('[data-testid="event-clip"] [data-testid="clip-video"]', { timeout: 15_000 });
      expect(await page.$eval('[data-testid="clip-video"]', (v) => (v as HTMLVideoElement).src)).to.match(
        new RegExp(`/api/clips/${event.clipId}/video$`),
      );
      expect(await page.locator('[data-testid="clip-track"]').getAttribute('src')).to.match(
        new RegExp(`/api/clips/${event.clipId}/labels.vtt$`),
      );
      const clip = await get(`/api/clips/${event.clipId}`);
      const at = Math.max(0, event.startedAtMs - clip.startedAtMs - 2000) / 1000;
      await page.waitForFunction(() => document.querySelector('[data-testid="clip-video"]').readyState >= 1, null, { timeout: 10_000 });
      const t = await page.$eval('[data-testid="clip-video"]', (v) => (v as HTMLVideoElement).currentTime as number);
      // It starts there and plays on (muted autoplay).
      expect(t).to.be.within(at - 0.05, at + 1.5);
      expect(await page.locator('[data-testid="event-view"] [data-testid="clip-delete"]').count()).to.equal(0);
      await page.screenshot({ path: join(tmpdir(), 'vigil-web-event-clip.png'), fullPage: true });
      expect(problems.list).to.deep.equal([]);
    } finally {
      await fetch(`${server.url}/api/cameras/evrec`, { method: 'DELETE' });
    }
  });
});

/** The clip page's player: the VTT track's cues match the segments; a segment click seeks. */
async function checkPlayer(
  page: Page,
  segments: Array<{ label: string; startMs: number; endMs: number; confidence: number }>,
  clipId: string,
): Promise<void> {
  // The view renders after its API call: under load that is after the URL changed.
  await page.waitForSelector('[data-testid="clip-video"]', { timeout: 15_000 });
  expect(await page.$eval('[data-testid="clip-video"]', (v) => (v as HTMLVideoElement).src)).to.match(
    new RegExp(`/api/clips/${clipId}/video$`),
  );
  await page.waitForFunction(
    () => {
      const v = document.querySelector('[data-testid="clip-video"]');
      const t = v?.textTracks[0];
      return v !== null && v.readyState >= 1 && t !== undefined && t.mode === 'showing' && (t.cues?.length ?? 0) > 0;
    },
    null,
    { timeout: 15_000 },
  );
  const cues = await page.$eval('[data-testid="clip-video"]', (v) =>
    [...((v as HTMLVideoElement).textTracks[0].cues as unknown as VTTCue[])].map((c) => ({
      start: c.startTime,
      end: c.endTime,
      text: c.text,
    })),
  );
  expect(cues.map((c) => c.text)).to.deep.equal(segments.map((s) => `${s.label} (${s.confidence.toFixed(2)})`));
  cues.forEach((c, i) => expect(c.start).to.be.closeTo(segments[i].startMs / 1000, 0.002));

  const blocks = page.locator('[data-testid="segment"]');
  expect(await blocks.count()).to.equal(segments.length);
  expect(await blocks.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.label))).to.deep.equal(segments.map((s) => s.label));
  // Widths follow durations.
  const widths = await blocks.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
  const barWidth = await page.$eval('[data-testid="segment-bar"]', (e) => e.getBoundingClientRect().width);
  const total = Math.max(...segments.map((s) => s.endMs));
  segments.forEach((s, i) => expect(widths[i]).to.be.closeTo(((s.endMs - s.startMs) / total) * barWidth, 2));

  // Click the last segment from the start, then the first from the end.
  const order = [segments.length - 1, 0];
  await page.$eval('[data-testid="clip-video"]', (v) => ((v as HTMLVideoElement).currentTime = 0.05));
  for (const i of order) {
    if (i === 0)
      await page.$eval('[data-testid="clip-video"]', (v) => ((v as HTMLVideoElement).currentTime = (v as HTMLVideoElement).duration - 0.1));
    await blocks.nth(i).click();
    await page.waitForFunction(
      (ms) => Math.abs(document.querySelector('[data-testid="clip-video"]').currentTime - ms / 1000) < 0.1,
      segments[i].startMs,
      { timeout: 5000 },
    );
    expect(await blocks.nth(i).getAttribute('aria-current')).to.equal('true');
  }
}

describe('web UI with an access token', function () {
  this.timeout(30_000);
  const TOKEN = 'web-test-token-0123456789';
  let dir: string;
  let server: VigilServer;
  let browser: Browser;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-web-token-'));
    [server, browser] = await Promise.all([startServer({ port: 0, dataDir: dir, demo: false, token: TOKEN }), launchBrowser()]);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('passes the token from the page URL to the API and the hub', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const problems = watchPage(page);
      await page.goto(`${server.url}/?token=${TOKEN}#/clips`);
      await page.waitForSelector('[data-testid="hub-state"][data-state="open"]');
      await page.waitForSelector('[data-testid="clip-list"] tbody td.muted');
      expect(await page.locator('[data-testid="clip-list"] tbody').textContent()).to.equal('No clips yet.');
      await page.setInputFiles('[data-testid="upload-file"]', fixture('nofight-nofi090.mp4'));
      await page.click('[data-testid="upload-submit"]');
      await page.waitForSelector('[data-testid="clip-row"][data-status="ready"]', { timeout: 20_000 });
      await page.click('[data-testid="clip-link"]');
      await page.waitForFunction(() => (document.querySelector('[data-testid="clip-video"]')?.readyState ?? 0) >= 1, null, {
        timeout: 10_000,
      });
      expect(await page.$eval('[data-testid="clip-video"]', (v) => (v as HTMLVideoElement).src)).to.match(
        new RegExp(`/video\\?token=${TOKEN}$`),
      );
      expect(problems.list).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });

  it("without the token, shows the server's VIGIL_ERR_UNAUTHORIZED", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const problems = watchPage(page);
      problems.allow(/status of 401/);
      // Chromium logs the refused handshake itself.
      problems.allow(/WebSocket connection to .* failed/);
      await page.goto(`${server.url}/#/live`);
      const err = page.locator('[data-testid="error"]').first();
      await err.waitFor();
      expect(await err.getAttribute('data-code')).to.equal('VIGIL_ERR_UNAUTHORIZED');
      // The hub is refused at the handshake; the page learns the code over REST.
      await page.waitForSelector('[data-testid="hub-state"][data-state="closed"]');
      expect(await page.locator('[data-testid="hub-state"]').textContent()).to.contain('VIGIL_ERR_UNAUTHORIZED');
      expect(problems.list).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });
});
