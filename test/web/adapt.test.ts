import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, watchPage, type PageProblems } from '../helpers/browser.js';
import { recordFights, reviewFights } from '../helpers/reviews.js';
import { connect, startTestServer, type TestClient, type TestServer } from '../helpers/server.js';

describe("web UI: improving a camera's model from its reviews (headless Chromium, real server)", function () {
  this.timeout(150_000);
  let t: TestServer;
  let c: TestClient;
  let browser: Browser;
  let page: Page;
  let problems: PageProblems;

  before(async () => {
    [t, browser] = await Promise.all([startTestServer(), launchBrowser()]);
    c = await connect(`${t.url}/ws`);
    c.send({ type: 'subscribe', cameras: ['hall'], clips: true });
    await c.next('subscribed');
    const { fights, clipId } = await recordFights(t, c);
    await reviewFights(t, fights, clipId);
    page = await (await browser.newContext()).newPage();
    problems = watchPage(page);
    // The live preview may be cut when the page moves on.
    problems.allow(/preview\.mjpeg/);
  });
  after(async () => {
    c?.close();
    await browser?.close();
    await t?.stop();
  });

  it('Events page, one camera: the button starts the job, the result shows, the live version changes; Roll back restores it', async () => {
    await page.goto(`${t.url}/#/events`);
    await page.selectOption('[data-testid="events-camera"]', 'hall');
    const panel = page.locator('[data-testid="adapt-panel"]');
    await panel.locator('[data-testid="adapt-live-version"]').filter({ hasText: '1.0.0 (shipped)' }).waitFor();
    expect(await panel.locator('[data-testid="adapt-since"]').textContent()).to.equal('4 reviews since the model was last adapted');

    await panel.locator('[data-testid="adapt-start"]').click();
    await panel
      .locator('[data-testid="adapt-status"]')
      .filter({ hasText: /Adapting: / })
      .waitFor({ timeout: 20_000 });
    const result = panel.locator('[data-testid="adapt-result"]');
    await result.waitFor({ timeout: 90_000 });
    expect(await result.getAttribute('data-accepted')).to.equal('true');
    expect(await result.textContent()).to.match(
      /^Version 1\.1\.0 is live: on 4 reviews it had not learnt from, accuracy \d+% → \d+%, false alarms/,
    );
    await panel.locator('[data-testid="adapt-live-version"]').filter({ hasText: '1.1.0 (adapted to this camera)' }).waitFor();
    expect(await panel.locator('[data-testid="adapt-since"]').textContent()).to.equal('0 reviews since the model was last adapted');

    // The camera's page says which version labels, from its status.
    await page.goto(`${t.url}/#/live/hall`);
    await page.locator('[data-testid="live-versions"]').filter({ hasText: 'fight 1.1.0' }).waitFor({ timeout: 20_000 });

    await page.goto(`${t.url}/#/events`);
    await page.selectOption('[data-testid="events-camera"]', 'hall');
    await panel.locator('[data-testid="adapt-rollback"]').click();
    await panel.locator('[data-testid="adapt-live-version"]').filter({ hasText: '1.0.0 (shipped)' }).waitFor();
    expect(await panel.locator('[data-testid="adapt-rollback"]').count()).to.equal(0);
    const label = await c.next('label', (m) => m.cameraId === 'hall' && m.version === '1.0.0', 20_000);
    expect(label.model).to.equal('fight');
    expect(problems.list).to.deep.equal([]);
  });
});
