import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium; `VIGIL_CHROMIUM` points elsewhere. */
export const CHROMIUM = process.env.VIGIL_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A synthetic camera (a test pattern), allowed without a prompt.
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

/**
 * Launches headless Chromium with a throwaway profile (playwright's default: a fresh user
 * data dir per launch). Close it in an `after` hook.
 * @throws when {@link CHROMIUM} is missing, saying how to get it
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set VIGIL_CHROMIUM`);
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** What went wrong on a page: console errors and uncaught exceptions, as text. */
export interface PageProblems {
  readonly list: string[];
  /** Problems a test expects (e.g. the 404 of a deliberately missing clip) are not counted. */
  allow(match: RegExp): void;
}

/** Collects console errors and page errors from the moment it is called. */
export function watchPage(page: Page): PageProblems {
  const list: string[] = [];
  const allowed: RegExp[] = [];
  const add = (text: string) => {
    if (!allowed.some((re) => re.test(text))) list.push(text);
  };
  page.on('console', (m) => {
    if (m.type() === 'error') add(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => add(`pageerror: ${e.stack ?? e.message}`));
  return { list, allow: (re) => allowed.push(re) };
}
