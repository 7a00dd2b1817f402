/**
 * The Explore view: sliders along the principal directions of the run's codes. At zero they show the starting
 * code's image exactly (a training image's is its reconstruction); moving one changes the image while dragging;
 * the link reproduces it; Reset, Randomize and "Edit this image" do what they say; every slider has a name.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { watchedPage } from '../../site/dev/chromium.ts';
import { canvasPixels, serveSiteForTests } from './helpers/served-site.ts';

const site = serveSiteForTests();

const pixels = canvasPixels;

/** Moves slider `j` to `value` as a drag does (input events), then releases it (change). */
async function drag(page: Page, j: number, value: number): Promise<void> {
  const before = Number(await page.getAttribute('glo-explore', 'data-renders'));
  await page.$eval(`[data-pc="${j}"]`, (input, v) => {
    (input as HTMLInputElement).value = String(v);
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
  await page.waitForFunction((n) => Number(document.querySelector('glo-explore')!.getAttribute('data-renders')) > n && document.querySelector('glo-explore')!.getAttribute('data-state') === 'ready', before);
}

describe('Explore', () => {
  it('starts a training image\'s code at its reconstruction, and a slider moves the image', async () => {
    const recon = await site.open('view=reconstructions', 'reconstructions');
    const reconstruction = await pixels(recon.page, 'canvas[data-recon-index="5"]');
    await recon.page.close();

    const { page, errors } = await site.open('view=explore&from=image&a=5', 'explore');
    expect(await page.locator('[data-pc]').count()).toBe(8);
    for (let j = 0; j < 8; j++) expect(await page.locator(`label[for="explore-pc-${j}"]`).first().textContent()).toBe(`Direction ${j + 1}`);
    expect(await pixels(page, 'canvas[data-explore-image]')).toEqual(reconstruction);
    await drag(page, 0, 2.5);
    const moved = await pixels(page, 'canvas[data-explore-image]');
    expect(moved).not.toEqual(reconstruction);
    expect(new URL(page.url()).searchParams.get('x')).toBe('2.5,0,0,0,0,0,0,0');
    const link = page.url();

    // The link reproduces the moved image; Reset brings back the start; Randomize moves every slider.
    const again = await watchedPage(site.browser);
    await again.page.goto(link);
    await again.page.waitForSelector('glo-explore[data-state=ready]', { timeout: 90_000 });
    expect(await pixels(again.page, 'canvas[data-explore-image]')).toEqual(moved);
    await again.page.close();
    await page.click('glo-explore [data-action=reset]');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('x') === null);
    await page.waitForSelector('glo-explore[data-state=ready]');
    expect(await pixels(page, 'canvas[data-explore-image]')).toEqual(reconstruction);
    await page.click('glo-explore [data-action=randomize]');
    await page.waitForFunction(() => (new URL(location.href).searchParams.get('x') ?? '').split(',').length === 8);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('starts from the mean or a seeded sample, and hands its image to Edit', async () => {
    const { page, errors } = await site.open('view=explore', 'explore');
    expect(await page.inputValue('[data-explore-start]')).toBe('mean');
    const mean = await pixels(page, 'canvas[data-explore-image]');
    await page.selectOption('[data-explore-start]', 'sample');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('from') === 'sample');
    await page.waitForSelector('glo-explore[data-state=ready]');
    const sample = await pixels(page, 'canvas[data-explore-image]');
    expect(sample).not.toEqual(mean);
    await drag(page, 1, -1.5);
    const explored = await pixels(page, 'canvas[data-explore-image]');
    await page.click('glo-explore [data-action=send-to-edit]');
    await page.waitForSelector('#tab-edit[aria-selected=true]');
    await page.waitForFunction(() => document.querySelector('glo-edit [data-clean]') && document.querySelector('glo-edit')!.textContent!.includes('Original: explored image'), undefined, { timeout: 60_000 });
    await page.waitForSelector('glo-edit[data-state=ready]', { timeout: 60_000 });
    expect(await pixels(page, 'glo-edit canvas[data-clean]')).toEqual(explored);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});

describe('Explore hands its code on', () => {
  it('to Morph and Arithmetic as A: their A is g(code), and the link carries the code', async () => {
    const { page, errors } = await site.open('view=explore&from=image&a=3&x=1.5,-1,0,0,0,0,0,0', 'explore');
    const explored = await pixels(page, 'canvas[data-explore-image]');
    await page.click('glo-explore [data-action=send-to-morph]');
    await page.waitForSelector('#tab-morph[aria-selected=true]');
    await page.waitForSelector('glo-morph[data-state=ready]', { timeout: 60_000 });
    expect(new URL(page.url()).searchParams.get('a')).toMatch(/^z[A-Za-z0-9_-]+$/);
    expect(await page.textContent('[data-endpoint=a] figcaption')).toBe('A: a code from another view');
    expect(await pixels(page, '[data-endpoint=a] canvas')).toEqual(explored);
    // The link alone reproduces Morph's A.
    const again = await watchedPage(site.browser);
    await again.page.goto(page.url());
    await again.page.waitForSelector('glo-morph[data-state=ready]', { timeout: 90_000 });
    expect(await pixels(again.page, '[data-endpoint=a] canvas')).toEqual(explored);
    await again.page.close();

    await page.click('#tab-explore');
    await page.waitForSelector('glo-explore[data-state=ready]');
    await page.click('glo-explore [data-action=send-to-arithmetic]');
    await page.waitForSelector('glo-arithmetic[data-state=ready]', { timeout: 60_000 });
    expect(await pixels(page, 'canvas[data-arith-a]')).toEqual(explored);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});

describe('Explore from a fitted code', () => {
  it('Edit hands the code its restoration fitted (any picture, an upload too) to Explore, which starts there', async () => {
    const { page, errors } = await site.open('view=edit&a=2&damage=noise&noise=0.3&iters=30', 'edit');
    expect(await page.isDisabled('[data-action=explore-code]')).toBe(true);
    await page.click('[data-restore]');
    await page.waitForSelector('glo-edit[data-state=done]', { timeout: 120_000 });
    const restored = await pixels(page, 'canvas[data-restored]');
    await page.click('[data-action=explore-code]');
    await page.waitForSelector('#tab-explore[aria-selected=true]');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('a')?.startsWith('z') && document.querySelector('glo-explore')?.getAttribute('data-state') === 'ready', undefined, { timeout: 60_000 });
    const explored = await pixels(page, 'canvas[data-explore-image]');
    // g(code) both times, through the page's generate() here and the inversion's generator call there.
    expect(Math.max(...explored.map((v, i) => Math.abs(v - restored[i])))).toBeLessThanOrEqual(1);
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);
});
