/**
 * The page keeps what the user did: the shared gallery stays where it was after a pick, each view keeps its own
 * settings, the nearest-images panel never describes another view's image, an Edit link reproduces the damaged
 * image, runs that glo serve cannot read are listed with the reason, and a phone gets no horizontal scroll and
 * the nearest panel in sight. Each of these failed before its fix (issue 14's list of bugs).
 */
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { watchedPage, waitForApp } from '../../site/dev/chromium.ts';
import { startStaticServer, updateRunsIndex } from '../../training/serve/local-site.ts';
import { brokenRuns, fixtureRunId } from './helpers/fixture-runs.ts';
import { serveSiteForTests } from './helpers/served-site.ts';

const site = serveSiteForTests();

async function canvasRgb(page: Page, selector: string): Promise<number[]> {
  return page.$eval(selector, (canvas) => {
    const c = canvas as HTMLCanvasElement;
    return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data).filter((_, i) => i % 4 !== 3);
  });
}

describe('the page keeps what the user did', () => {
  it('a pick in the gallery keeps its search, and the next click picks what it shows', async () => {
    const { page, errors } = await site.open('view=morph&a=0&b=1', 'morph');
    const picker = page.locator('glo-morph .picker');
    await picker.locator('[data-search]').fill('spots');
    const shown = async () => picker.locator('button[data-image]').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.image)));
    const spots = await shown();
    expect(spots.length).toBe(12);
    await picker.locator(`button[data-image="${spots[3]}"]`).click();
    await page.waitForSelector('glo-morph[data-state=ready]');
    expect(await picker.locator('[data-search]').inputValue()).toBe('spots');
    expect(await shown()).toEqual(spots);
    // The second click (slot B) picks the image under the cursor, not one from the unfiltered gallery.
    await picker.locator(`button[data-image="${spots[7]}"]`).click();
    await page.waitForSelector('glo-morph[data-state=ready]');
    expect(new URL(page.url()).searchParams.get('a')).toBe(String(spots[3]));
    expect(new URL(page.url()).searchParams.get('b')).toBe(String(spots[7]));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('Grid keeps its own size: a 12-frame morph strip does not open a 12 x 12 grid', async () => {
    const { page, errors } = await site.open('view=morph&a=0&b=1&steps=12', 'morph');
    await page.click('#tab-grid');
    await page.waitForSelector('glo-grid[data-state=ready]', { timeout: 60_000 });
    expect(await page.locator('glo-grid .interp-grid canvas').count()).toBe(36); // the default 6 x 6
    expect(await page.inputValue('[data-grid-side]')).toBe('6');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('switching views clears the nearest panel of the previous view\'s image', async () => {
    const { page, errors } = await site.open('view=reconstructions', 'reconstructions');
    await page.click('canvas[data-recon-index="5"]');
    await page.waitForSelector('[data-nearest-index]');
    await page.click('#tab-grid');
    await page.waitForSelector('glo-grid[data-state=ready]', { timeout: 60_000 });
    expect(await page.locator('[data-nearest-index]').count()).toBe(0);
    expect(await page.textContent('glo-nearest')).not.toContain('image 5');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('an Edit link keeps the damage, its settings and the steps: opened again, the damaged image is the same', async () => {
    const first = await site.open('view=edit&a=4', 'edit');
    await first.page.check('#edit-kind-noise');
    await first.page.$eval('#edit-noise', (input) => {
      (input as HTMLInputElement).value = '0.7';
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await first.page.fill('#edit-seed', '9');
    await first.page.dispatchEvent('#edit-seed', 'change');
    await first.page.fill('#edit-steps', '120');
    await first.page.dispatchEvent('#edit-steps', 'change');
    await first.page.waitForSelector('glo-edit[data-state=ready]');
    const noisy = await canvasRgb(first.page, 'canvas[data-damaged]');
    const link = new URL(first.page.url());
    expect(Object.fromEntries(['damage', 'noise', 'seed', 'iters'].map((k) => [k, link.searchParams.get(k)]))).toEqual({ damage: 'noise', noise: '0.7', seed: '9', iters: '120' });

    // A painted mask travels too.
    await first.page.check('#edit-kind-mask');
    await first.page.click('[data-clear-mask]');
    await first.page.waitForSelector('glo-edit[data-state=ready]');
    const box = (await first.page.locator('canvas[data-damaged]').boundingBox())!;
    await first.page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.3);
    await first.page.mouse.down();
    await first.page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.6, { steps: 6 });
    await first.page.mouse.up();
    await first.page.waitForSelector('glo-edit[data-state=ready]');
    const masked = await canvasRgb(first.page, 'canvas[data-damaged]');
    const maskLink = first.page.url();
    expect(new URL(maskLink).searchParams.get('mask')).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(first.errors).toEqual([]);
    await first.page.close();

    const again = await watchedPage(site.browser);
    await again.page.goto(link.href);
    await again.page.waitForSelector('glo-edit[data-state=ready]', { timeout: 90_000 });
    expect(await again.page.isChecked('#edit-kind-noise')).toBe(true);
    expect([await again.page.inputValue('#edit-noise'), await again.page.inputValue('#edit-seed'), await again.page.inputValue('#edit-steps')]).toEqual(['0.7', '9', '120']);
    expect(await canvasRgb(again.page, 'canvas[data-damaged]')).toEqual(noisy);
    await again.page.goto(maskLink);
    await again.page.waitForSelector('glo-edit[data-state=ready]', { timeout: 90_000 });
    expect(await again.page.isChecked('#edit-kind-mask')).toBe(true);
    expect(await canvasRgb(again.page, 'canvas[data-damaged]')).toEqual(masked);
    expect(again.errors).toEqual([]);
    await again.page.close();
  }, 180_000);
});

describe('runs glo serve cannot read', () => {
  it('are in the run picker with the reason, and opening one shows the page\'s message for it', async () => {
    const runs = path.join(await mkdtemp(path.join(tmpdir(), 'glo-unreadable-')), 'runs');
    await cp(site.fixture.runs, runs, { recursive: true });
    const index = await updateRunsIndex(runs);
    expect(index.runs.map((r) => r.runId)).toContain(fixtureRunId);
    expect(index.unreadable?.map((r) => r.runId)).toEqual(expect.arrayContaining([brokenRuns.malformedManifest, brokenRuns.notJsonManifest, brokenRuns.newerManifest]));
    const local = await startStaticServer([{ prefix: '/runs/', dir: runs }, { prefix: '/', dir: site.dist }]);
    try {
      const { page } = await watchedPage(site.browser);
      await page.goto(`${local.url}?backend=wasm`);
      await waitForApp(page);
      const options = await page.locator('[data-run-select] option').allTextContents();
      expect(options.find((o) => o.startsWith(`${brokenRuns.malformedManifest} (cannot be opened:`))).toBeDefined();
      await page.selectOption('[data-run-select]', brokenRuns.malformedManifest);
      await waitForApp(page, 'error');
      expect(await page.getAttribute('[data-error]', 'data-kind')).toBe('malformed');
      await page.close();
    } finally {
      await local.close();
    }
  });
});

describe('on a phone (390 x 844)', () => {
  const phone = { width: 390, height: 844 };

  it.each(['reconstructions', 'explore', 'morph', 'grid', 'sample', 'arithmetic', 'edit'])('the %s view does not scroll sideways', async (view) => {
    const { page, errors } = await site.open(`view=${view}`, view, phone);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(phone.width);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('the nearest panel is in sight next to the image it describes', async () => {
    const { page, errors } = await site.open('view=reconstructions', 'reconstructions', phone);
    await page.click('canvas[data-recon-index="5"]');
    await page.waitForSelector('[data-nearest-index]');
    const panel = (await page.locator('aside.nearest').boundingBox())!;
    expect(panel.y).toBeGreaterThanOrEqual(0);
    expect(panel.y + panel.height).toBeLessThanOrEqual(phone.height + 1);
    // Scrolled further down the view, it stays in sight.
    await page.mouse.wheel(0, 1500);
    await page.waitForTimeout(200);
    const after = (await page.locator('aside.nearest').boundingBox())!;
    expect(after.y + after.height).toBeLessThanOrEqual(phone.height + 1);
    expect(after.y).toBeLessThan(phone.height);
    expect(errors).toEqual([]);
    await page.close();
  });
});
