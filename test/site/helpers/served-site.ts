/**
 * The set-up the site's browser tests share: the fixture runs and the built site served together, one
 * Chromium, and opening the page on a view (wasm forced: SwiftShader webgl is slow) until the view is ready.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium, watchedPage, waitForApp } from '../../../site/dev/chromium.ts';
import { ensureSiteBuilt } from '../../../site/dev/site-build.ts';
import { startStaticServer, type StaticServer } from '../../../training/serve/local-site.ts';
import { ensureFixtureRuns, fixtureRunId, type FixtureRuns } from './fixture-runs.ts';

export interface ServedSite {
  fixture: FixtureRuns;
  dist: string;
  browser: Browser;
  server: StaticServer;
  /** Opens `?backend=wasm&run=fixture&<query>` and waits for <glo-VIEW data-state=ready>. */
  open(query: string, view: string, viewport?: { width: number; height: number }): Promise<{ page: Page; errors: string[] }>;
}

/** Registers beforeAll/afterAll hooks; the returned object is filled in before the first test. */
export function serveSiteForTests(): ServedSite {
  const site = {} as ServedSite;
  beforeAll(async () => {
    [site.fixture, site.dist] = await Promise.all([ensureFixtureRuns(), ensureSiteBuilt()]);
    site.server = await startStaticServer([{ prefix: '/runs/', dir: site.fixture.runs }, { prefix: '/', dir: site.dist }]);
    site.browser = await launchChromium();
    site.open = async (query, view, viewport) => {
      const watched = await watchedPage(site.browser);
      if (viewport) await watched.page.setViewportSize(viewport);
      await watched.page.goto(`${site.server.url}?backend=wasm&run=${fixtureRunId}&${query}`);
      await waitForApp(watched.page);
      await watched.page.waitForSelector(`glo-${view}[data-state=ready]`, { timeout: 60_000 });
      return watched;
    };
  });
  afterAll(async () => {
    await site.browser?.close();
    await site.server?.close();
  });
  return site;
}

/** RGBA bytes of the first canvas matching `selector`. */
export function canvasPixels(page: Page, selector: string): Promise<number[]> {
  return page.$eval(selector, (canvas) => {
    const c = canvas as HTMLCanvasElement;
    return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
  });
}
