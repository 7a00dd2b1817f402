import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (installed by .ci/run); Playwright cannot download its own browsers on these machines. */
export const chromiumPath = process.env.GLO_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`Chromium not found at ${chromiumPath}: install it (apt-get install -y chromium, as .ci/run does) or set GLO_CHROMIUM.`);
  }
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}

export interface WatchedPage {
  page: Page;
  /** Uncaught exceptions and console errors, except the browser's own "Failed to load resource" line for a 404. */
  errors: string[];
  /** Every console error, 404 lines included. */
  consoleErrors: string[];
}

/** A new page that records uncaught errors and console errors (the site must produce none). */
export async function watchedPage(browser: Browser): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    consoleErrors.push(message.text());
    // Chromium itself logs every 4xx response a fetch gets; that line is the network's, not the page's.
    if (!/^Failed to load resource: the server responded with a status of 404/.test(message.text())) errors.push(`console: ${message.text()}`);
  });
  return { page, errors, consoleErrors };
}

/** Waits for the shell to settle: a run ready, or an error shown. */
export async function waitForApp(page: Page, state: 'ready' | 'error' = 'ready'): Promise<void> {
  if (state === 'ready') await page.waitForSelector('glo-app[data-state=ready]', { timeout: 90_000 });
  else await page.waitForSelector('[data-error]:not([hidden])', { timeout: 90_000 });
}
