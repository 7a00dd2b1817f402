// The Edit view in real Chromium on the fixture run (trained by the real trainer): damage a training image through
// the UI, restore it, and check that the page's PSNRs, and the pixels of its canvases, show the restored image closer
// to the clean one than the damaged image; painting, cancel, labels, and no page errors.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer, type StaticServer } from '../../training/serve/local-site.ts';
import { launchChromium, waitForApp, watchedPage } from '../../site/dev/chromium.ts';
import { ensureFixtureRuns, fixtureRunId } from './helpers/fixture-runs.ts';
import { ensureSiteBuilt } from '../../site/dev/site-build.ts';

let browser: Browser;
let server: StaticServer;

beforeAll(async () => {
  const [dist, fixture] = await Promise.all([ensureSiteBuilt(), ensureFixtureRuns()]);
  server = await startStaticServer([
    { prefix: '/runs/', dir: fixture.runs },
    { prefix: '/', dir: dist },
  ]);
  browser = await launchChromium();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function openEdit(query = ''): Promise<{ page: Page; errors: string[] }> {
  const { page, errors } = await watchedPage(browser);
  // wasm: SwiftShader's webgl is the slowest backend here (ENVIRONMENT.md).
  await page.goto(`${server.url}?run=${fixtureRunId}&view=edit&backend=wasm${query}`);
  await waitForApp(page);
  await page.waitForSelector('glo-edit[data-state=ready]', { timeout: 60_000 });
  return { page, errors };
}

/** A canvas's RGB bytes (alpha dropped). */
async function canvasRgb(page: Page, selector: string): Promise<number[]> {
  return page.$eval(selector, (canvas) => {
    const c = canvas as HTMLCanvasElement;
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    return Array.from(data).filter((_, i) => i % 4 !== 3);
  });
}

function psnrBytes(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] - b[i]) / 255) ** 2;
  return 10 * Math.log10(1 / (s / a.length));
}

const value = (page: Page, selector: string) => page.$eval(selector, (e) => Number((e as HTMLElement).dataset.value));

describe('edit view (Chromium, wasm)', () => {
  it('restores a noisy training image: higher PSNR than the damaged one, in the page and in the canvas pixels', async () => {
    const { page, errors } = await openEdit('&a=3');
    expect(await page.inputValue('#edit-index')).toBe('3');
    await page.check('#edit-kind-noise');
    await page.$eval('#edit-noise', (input) => {
      (input as HTMLInputElement).value = '0.8';
      input.dispatchEvent(new Event('change'));
    });
    await page.waitForSelector('glo-edit[data-state=ready]');
    await page.fill('#edit-steps', '100');
    await page.click('[data-restore]');
    await page.waitForSelector('glo-edit[data-state=done]', { timeout: 120_000 });

    const damaged = await value(page, '[data-psnr-damaged]');
    const restored = await value(page, '[data-psnr-restored]');
    expect(restored).toBeGreaterThan(damaged + 1);
    expect(await page.textContent('[data-step]')).toBe('step 100 / 100');
    expect(await value(page, '[data-rate]')).toBeGreaterThan(0);
    expect(await page.textContent('[data-edit-summary]')).toMatch(/^Restored in 100 steps/);

    // The same comparison from the pixels on screen (bytes, so within rounding of the page's float figures).
    const clean = await canvasRgb(page, 'canvas[data-clean]');
    const noisy = await canvasRgb(page, 'canvas[data-damaged]');
    const output = await canvasRgb(page, 'canvas[data-restored]');
    expect(psnrBytes(noisy, clean)).toBeCloseTo(damaged, 0);
    expect(psnrBytes(output, clean)).toBeCloseTo(restored, 0);
    expect(psnrBytes(output, clean)).toBeGreaterThan(psnrBytes(noisy, clean) + 1);
    // The restored image went to the nearest-images panel.
    await page.waitForSelector('glo-nearest [data-nearest-index]');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('paints a mask with the mouse, restores it, and Cancel stops a long restoration', async () => {
    const { page, errors } = await openEdit('&a=5');
    await page.click('[data-clear-mask]');
    await page.waitForSelector('glo-edit[data-state=ready]');
    const before = await canvasRgb(page, 'canvas[data-damaged]');
    const box = (await page.locator('canvas[data-damaged]').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.8, box.y + box.height * 0.5, { steps: 8 });
    await page.mouse.up();
    await page.waitForSelector('glo-edit[data-state=ready]');
    const painted = await canvasRgb(page, 'canvas[data-damaged]');
    const size = Math.sqrt(painted.length / 3);
    const centre = (Math.floor(size / 2) * size + Math.floor(size / 2)) * 3;
    // Removed pixels show the operator's 0, i.e. mid grey; the stroke did not reach the top row.
    expect(painted.slice(centre, centre + 3)).toEqual([128, 128, 128]);
    expect(painted.slice(0, 3 * size)).toEqual(before.slice(0, 3 * size));

    await page.fill('#edit-steps', '60');
    await page.click('[data-restore]');
    await page.waitForSelector('glo-edit[data-state=done]', { timeout: 120_000 });
    expect(await value(page, '[data-psnr-restored]')).toBeGreaterThan(await value(page, '[data-psnr-damaged]'));

    await page.fill('#edit-steps', '5000');
    await page.click('[data-restore]');
    await page.waitForFunction(() => Number(document.querySelector<HTMLProgressElement>('glo-edit progress')?.value) >= 3);
    await page.click('[data-cancel]');
    await page.waitForSelector('glo-edit[data-state=cancelled]', { timeout: 30_000 });
    const summary = (await page.textContent('[data-edit-summary]'))!;
    const stoppedAt = Number(/Cancelled at step (\d+)/.exec(summary)?.[1]);
    expect(stoppedAt).toBeGreaterThanOrEqual(3);
    expect(stoppedAt).toBeLessThan(5000);
    expect(await page.isEnabled('[data-restore]')).toBe(true);
    expect(await page.isDisabled('[data-cancel]')).toBe(true);

    // Another tab stops a restoration too, keeping what it reached for when the Edit tab comes back.
    await page.click('[data-restore]');
    await page.waitForSelector('glo-edit[data-state=restoring]');
    await page.click('#tab-reconstructions');
    await page.waitForSelector('glo-edit[data-state=cancelled]', { state: 'attached', timeout: 30_000 });
    await page.click('#tab-edit');
    expect(await page.textContent('[data-edit-summary]')).toMatch(/^Cancelled at step/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('labels every control and reaches them with the keyboard; the square hole works without a mouse', async () => {
    const { page, errors } = await openEdit('&seed=7');
    expect(await page.inputValue('#edit-seed')).toBe('7');
    const unlabelled = await page.$$eval('glo-edit input, glo-edit select, glo-edit button, glo-edit progress', (elements) =>
      elements.filter((e) => {
        const labels = (e as HTMLInputElement).labels;
        return !(labels && labels.length > 0) && !e.getAttribute('aria-label') && !(e.textContent ?? '').trim();
      }).map((e) => e.outerHTML),
    );
    expect(unlabelled).toEqual([]);
    // Tab from the steps field reaches Restore; Enter on it starts a restoration.
    await page.check('#edit-kind-mask');
    await page.focus('[data-hole]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('glo-edit[data-state=ready]');
    await page.fill('#edit-steps', '20');
    await page.focus('#edit-steps');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.hasAttribute('data-restore'))).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForSelector('glo-edit[data-state=done]', { timeout: 120_000 });
    expect(await value(page, '[data-psnr-restored]')).toBeGreaterThan(await value(page, '[data-psnr-damaged]'));
    expect(errors).toEqual([]);
    await page.close();
  });
});
