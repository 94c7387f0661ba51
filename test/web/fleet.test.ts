import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, watchPage, type PageProblems } from '../helpers/browser.js';
import { fixture } from '../helpers/clips.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Run in Chromium; the project compiles without the DOM lib (see browser.test.ts).
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a browser value, with no DOM lib to type it
type InBrowser = any;
declare const document: InBrowser;

describe('web UI: the Fleet page (headless Chromium, two nodes over a real Redis)', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let a: TestServer;
  let b: TestServer | undefined;
  let alone: TestServer;
  let browser: Browser;
  let page: Page;
  let problems: PageProblems;
  const cameras = ['one', 'two'].map((id) => ({ id, source: fixture('demo.mp4'), model: 'fight', fps: 2, loop: true }));

  before(async () => {
    redis = await startRedis();
    // The default lease: node-b leaves by a clean stop, which hands its camera over at once.
    const fleet = (nodeId: string) => ({ redis: redis.url, nodeId });
    [a, b, alone, browser] = await Promise.all([
      startTestServer({ cameras, workers: 1, fleet: fleet('node-a') }),
      startTestServer({ cameras, workers: 1, fleet: fleet('node-b') }),
      startTestServer(),
      launchBrowser(),
    ]);
    page = await (await browser.newContext()).newPage();
    problems = watchPage(page);
    // A camera between two nodes (a lease that lapsed on a loaded machine) has no picture for a
    // moment: its 409 is what the Live page shows until the camera is live again, and then asks again.
    problems.allow(/status of 409 \(Conflict\) \(http:\/\/[^)]*\/preview\.mjpeg\)/);
  });
  after(async () => {
    await browser?.close();
    await Promise.all([a?.stop(), b?.stop(), alone?.stop()]);
    await redis?.dispose();
  });

  const nodeCameras = () =>
    page.$$eval('[data-testid="fleet-nodes"] tr', (rows) =>
      Object.fromEntries(rows.map((r: InBrowser) => [r.dataset.node, r.querySelector('[data-testid="node-cameras"]').textContent])),
    );

  it('lists both nodes, the camera each runs, and follows a node that leaves', async () => {
    // Both live first (node-a knows b's from its statuses): the Live page opens on camera one,
    // whose preview comes from the node running it.
    for (const end = Date.now() + 30_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      const list = (await a.api('/api/cameras')).body as { cameras: { status: { state: string } }[] };
      if (list.cameras.every((c) => c.status.state === 'live')) break;
    }
    // node-b's camera, seen on node-a: its picture comes through node-a from node-b.
    const placedOn = (await a.api('/api/fleet')).body as { cameras: { cameraId: string; node: string }[] };
    const ofB = placedOn.cameras.find((c) => c.node === 'node-b')!.cameraId;
    let snapshot = await a.api(`/api/cameras/${ofB}/snapshot.jpg`);
    // 409 "no picture yet" (node-b's own answer, passed on) until its first JPEG.
    for (const end = Date.now() + 10_000; snapshot.status === 409 && Date.now() < end; await new Promise((r) => setTimeout(r, 200)))
      snapshot = await a.api(`/api/cameras/${ofB}/snapshot.jpg`);
    expect(snapshot.status, JSON.stringify(snapshot.body)).to.equal(200);
    expect(snapshot.headers.get('content-type')).to.equal('image/jpeg');
    await page.goto(`${a.url}/#/live/${ofB}`);
    await page.waitForFunction(() => document.querySelector('[data-testid="live-preview"]')?.naturalWidth > 0, null, { timeout: 30_000 });
    const link = page.locator('[data-testid="nav-fleet"]');
    await link.waitFor({ state: 'visible' });
    await link.click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="fleet-nodes"] tr').length === 2, null, { timeout: 15_000 });
    expect(await page.locator('[data-testid="fleet-state"]').textContent()).to.equal('This is node node-a; 2 live.');
    // One camera each, once the placement settled.
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="node-cameras"]')].every((td: InBrowser) => /^(one|two)$/.test(td.textContent)),
      null,
      { timeout: 15_000 },
    );
    const held = await nodeCameras();
    expect(Object.keys(held).sort()).to.deep.equal(['node-a', 'node-b']);
    expect(Object.values(held).sort()).to.deep.equal(['one', 'two']);
    const placed = await page.$$eval('[data-testid="camera-node"]', (tds) => tds.map((td: InBrowser) => td.textContent).sort());
    expect(placed).to.deep.equal(['node-a', 'node-b']);

    // node-b stops: node-a takes its camera, and the page says so without a reload.
    await b!.stop();
    b = undefined;
    await page.waitForFunction(
      () => {
        const rows = document.querySelectorAll('[data-testid="fleet-nodes"] tr');
        return rows.length === 1 && rows[0].querySelector('[data-testid="node-cameras"]').textContent === 'one, two';
      },
      null,
      { timeout: 15_000 },
    );
    expect(problems.list).to.deep.equal([]);
  });

  it('a server running alone shows no Fleet link, and its /api/fleet is a coded 404', async () => {
    // The link is decided by /api/status: wait for its answer, then for the page to apply it.
    const status = page.waitForResponse((r) => r.url().endsWith('/api/status'), { timeout: 10_000 });
    await page.goto(`${alone.url}/`);
    expect((await (await status).json()).fleet).to.equal(null);
    await page.waitForTimeout(300);
    expect(await page.locator('[data-testid="nav-fleet"]').isHidden()).to.equal(true);
    const res = await alone.api('/api/fleet');
    expect(res.status).to.equal(404);
    expect(res.body.error.code).to.equal('VIGIL_ERR_NOT_FOUND');
    expect(problems.list).to.deep.equal([]);
  });
});
