/**
 * The site under the headers production sets. CloudFront adds a Content-Security-Policy and cross-origin
 * isolation (COOP/COEP) to every response; under isolation tfjs picks the threaded wasm binary, whose workers
 * load their script from a blob: URL. The headers come from the synthesized stack, not a copy, so a change to
 * the policy is tested here before it reaches a real distribution.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, watchedPage, waitForApp } from '../../site/dev/chromium.ts';
import { ensureSiteBuilt } from '../../site/dev/site-build.ts';
import { startStaticServer, type StaticServer } from '../../training/serve/local-site.ts';
import { ensureFixtureRuns, fixtureRunId } from './helpers/fixture-runs.ts';
import { productionResponseHeaders } from './helpers/production-headers.ts';

let browser: Browser;
let server: StaticServer;
const headers = productionResponseHeaders();

beforeAll(async () => {
  const [fixture, dist] = await Promise.all([ensureFixtureRuns(), ensureSiteBuilt()]);
  server = await startStaticServer([{ prefix: '/runs/', dir: fixture.runs }, { prefix: '/', dir: dist }], { headers });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the site under its production headers', () => {
  it('serves the policy the stack sets: a CSP and cross-origin isolation', () => {
    expect(headers['Content-Security-Policy']).toMatch(/script-src [^;]*'wasm-unsafe-eval'/);
    expect(headers['Cross-Origin-Embedder-Policy']).toBe('require-corp');
    expect(headers['Cross-Origin-Opener-Policy']).toBe('same-origin');
  });

  // cpu is the last resort; webgl runs on SwiftShader in headless Chromium; wasm is threaded here (isolation).
  it.each(['wasm', 'webgl', 'cpu'])('loads and generates on the %s backend', async (backend) => {
    const { page, errors } = await watchedPage(browser);
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    const workers: string[] = [];
    page.on('worker', (w) => workers.push(w.url()));
    try {
      await page.goto(`${server.url}?backend=${backend}&run=${fixtureRunId}&view=sample&seed=3`);
      // Ready or an error, whichever comes first (a blocked worker shows "Something went wrong").
      await page.waitForSelector('glo-app[data-state=ready], [data-error]:not([hidden])', { timeout: 90_000 });
      expect(await page.textContent('[data-error]')).toBe('');
      await waitForApp(page);
      await page.waitForSelector('glo-sample[data-state=ready]', { timeout: 90_000 });
      expect(await page.textContent('[data-backend]')).toBe(backend);
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      // Samples were drawn: some canvas of the view holds pixels that are not all one value.
      const varied = await page.$$eval('glo-sample canvas', (canvases) => canvases.some((c) => {
        const { data } = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height);
        return data.some((v, i) => i % 4 !== 3 && v !== data[0]);
      }));
      expect(varied).toBe(true);
      // The threaded binary is the one that needs blob: workers; under isolation tfjs must have chosen it.
      if (backend === 'wasm') expect(workers.filter((url) => url.startsWith('blob:')).length).toBeGreaterThan(0);
      expect({ errors, violations }).toEqual({ errors: [], violations: [] });
    } finally {
      await page.close();
    }
  }, 180_000);
});
