/**
 * Broken artifacts never give a blank page or an uncaught error: a missing, malformed, unreadable or newer-version
 * manifest, missing weights, a run that does not exist, an empty or missing runs index each show a message that
 * says what is wrong, while the page around it stays usable.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer, type StaticServer } from '../../training/serve/local-site.ts';
import { launchChromium, watchedPage, waitForApp } from '../../site/dev/chromium.ts';
import { brokenRuns, ensureFixtureRuns, type FixtureRuns } from './helpers/fixture-runs.ts';
import { ensureSiteBuilt } from '../../site/dev/site-build.ts';

let fixture: FixtureRuns;
let dist: string;
let browser: Browser;
const servers: StaticServer[] = [];

beforeAll(async () => {
  [fixture, dist] = await Promise.all([ensureFixtureRuns(), ensureSiteBuilt()]);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(runs: string): Promise<string> {
  const server = await startStaticServer([{ prefix: '/runs/', dir: runs }, { prefix: '/', dir: dist }]);
  servers.push(server);
  return server.url;
}

/** Opens the page and returns the error message it shows, checking that nothing escaped to the console. */
async function errorShown(url: string): Promise<{ message: string; kind: string | undefined }> {
  const { page, errors } = await watchedPage(browser);
  await page.goto(url);
  await waitForApp(page, 'error');
  // Let late work (other downloads of the same run) finish: it must not add uncaught errors either.
  await page.waitForLoadState('networkidle');
  const message = (await page.textContent('[data-error]')) ?? '';
  const kind = await page.getAttribute('[data-error]', 'data-kind');
  expect(await page.isVisible('h1')).toBe(true);
  expect(await page.textContent('[data-status]')).toBe('');
  expect(errors).toEqual([]);
  await page.close();
  return { message, kind: kind ?? undefined };
}

describe('the site with broken runs', () => {
  let url: string;
  beforeAll(async () => {
    url = await serve(fixture.runs);
  });

  const cases: [string, string, string, RegExp][] = [
    ['a missing manifest', brokenRuns.missingManifest, 'not-found', /Run "broken-no-manifest" has no manifest\.json at http.*\/runs\/broken-no-manifest\/manifest\.json/],
    ['a malformed manifest', brokenRuns.malformedManifest, 'malformed', /manifest of run "broken-malformed" is malformed:[\s\S]*createdAt/],
    ['a manifest that is not JSON', brokenRuns.notJsonManifest, 'malformed', /manifest of run "broken-not-json" at .* is not valid JSON/],
    ['a newer manifest version', brokenRuns.newerManifest, 'newer-version', /format version 2; this build reads version 1\. Update glo/],
    ['missing weights', brokenRuns.missingWeights, 'missing-weights', /Run "broken-no-weights" is missing its generator weights \(.*model\/weights\.bin was not found\)/],
    ['a prior with a non-finite mean', brokenRuns.infinitePrior, 'malformed', /prior\.json is not a valid run file: global\.mean\.0: .*Publish or copy the run again/],
    ['a run that does not exist', 'no-such-run', 'not-found', /Run "no-such-run" has no manifest\.json/],
  ];
  for (const [what, runId, kind, message] of cases) {
    it(`explains ${what}`, async () => {
      const shown = await errorShown(`${url}?backend=cpu&run=${runId}`);
      expect(shown.kind).toBe(kind);
      expect(shown.message).toMatch(message);
    });
  }

  it('recovers when another run is chosen after an error', async () => {
    const { page, errors } = await watchedPage(browser);
    await page.goto(`${url}?backend=wasm&run=${brokenRuns.missingWeights}`);
    await waitForApp(page, 'error');
    await page.selectOption('[data-run-select]', 'fixture');
    await waitForApp(page, 'ready');
    expect(await page.isHidden('[data-error]')).toBe(true);
    expect(new URL(page.url()).searchParams.get('run')).toBe('fixture');
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('the site without runs', () => {
  it('says when the runs index lists no runs', async () => {
    const shown = await errorShown(`${await serve(fixture.emptyRuns)}?backend=cpu`);
    expect(shown.kind).toBe('empty-index');
    expect(shown.message).toMatch(/lists no runs yet\. Train one with "npm start"/);
  });

  it('says when there is no runs index at all (a 404)', async () => {
    const shown = await errorShown(`${await serve(fixture.noIndexRuns)}?backend=cpu`);
    expect(shown.kind).toBe('not-found');
    expect(shown.message).toMatch(/There is no runs index at http.*\/runs\/index\.json/);
  });
});
