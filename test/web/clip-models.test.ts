import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, watchPage, type PageProblems } from '../helpers/browser.js';
import { fixture } from '../helpers/clips.js';
import { connect, startTestServer, type TestServer } from '../helpers/server.js';

// Run in Chromium; the project compiles without the DOM lib (see browser.test.ts).
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a browser value, with no DOM lib to type it
type InBrowser = any;
declare const document: InBrowser;

type Part = {
  model: { name: string; version: string };
  classes: string[];
  segments: Array<{ label: string; startMs: number; endMs: number }>;
};

describe('web UI: a recording of a camera with two models (headless Chromium, real server)', function () {
  this.timeout(90_000);
  let t: TestServer;
  let browser: Browser;
  let page: Page;
  let problems: PageProblems;

  before(async () => {
    [t, browser] = await Promise.all([startTestServer(), launchBrowser()]);
    page = await (await browser.newContext()).newPage();
    problems = watchPage(page);
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('Clips page: a segment bar per model, each named, with its own segments and classes; any of them seeks', async () => {
    const c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: ['two'], clips: true });
    await c.next('subscribed');
    const body = { id: 'two', source: fixture('demo.mp4'), models: ['fight', 'fall'], record: { mode: 'continuous', segmentS: 60 } };
    expect((await t.api('/api/cameras', { method: 'POST', body })).status).to.equal(201);
    // The file ends (no loop): its one recording is the whole clip.
    const ready = await c.next('clip', (m) => m.status === 'ready', 30_000);
    c.close();
    const tl = (await t.api(`/api/clips/${ready.clipId}`)).body.timeline as { models: Part[] };
    expect(tl.models.map((m) => m.model.name)).to.deep.equal(['fight', 'fall']);

    await page.goto(`${t.url}/#/clips/${ready.clipId}`);
    const bars = page.locator('[data-testid="model-bar"]');
    await bars.first().waitFor();
    expect(await bars.evaluateAll((els) => els.map((e: InBrowser) => e.dataset.model))).to.deep.equal(['fight', 'fall']);
    for (const [i, part] of tl.models.entries()) {
      const bar = bars.nth(i);
      expect(await bar.locator('.segment-title').textContent()).to.equal(`${part.model.name} ${part.model.version}`);
      expect(await bar.locator('[data-testid="segment-bar"]').getAttribute('aria-label')).to.equal(
        `Segments of ${part.model.name} ${part.model.version}: click one to play from its start`,
      );
      const blocks = bar.locator('[data-testid="segment"]');
      expect(await blocks.evaluateAll((els) => els.map((e: InBrowser) => e.dataset.label))).to.deep.equal(
        part.segments.map((s) => s.label),
      );
      // Each bar's legend is its own model's classes.
      expect(await bar.locator('.legend li').allTextContents()).to.deep.equal(part.classes);
    }
    expect(await page.locator('.details').textContent()).to.include(
      `Model${tl.models.map((m) => `${m.model.name} ${m.model.version}`).join(', ')}`,
    );

    // A segment of the second model seeks the video, and the playhead of every bar follows.
    const fall = tl.models[1].segments;
    const last = fall.length - 1;
    await page.waitForFunction(() => document.querySelector('[data-testid="clip-video"]').readyState >= 1, null, { timeout: 15_000 });
    await bars.nth(1).locator('[data-testid="segment"]').nth(last).click();
    await page.waitForFunction(
      (ms) => Math.abs(document.querySelector('[data-testid="clip-video"]').currentTime - ms / 1000) < 0.1,
      fall[last].startMs,
      { timeout: 5000 },
    );
    expect(await bars.nth(1).locator('[data-testid="segment"]').nth(last).getAttribute('aria-current')).to.equal('true');
    const heads = await page.$$eval('.playhead', (els) => els.map((e: InBrowser) => e.style.left));
    expect(heads).to.have.length(2);
    expect(heads[0]).to.equal(heads[1]);
    expect(problems.list).to.deep.equal([]);
  });
});
