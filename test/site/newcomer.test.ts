/**
 * What a newcomer meets: a short "what is this, what to try" with a link to each view, the run's provenance in
 * plain words (kept apart from the backend this page computes on), the training image beside g(z) wherever a
 * training image is chosen, and pictures for Edit by drag-and-drop or paste.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { serveSiteForTests } from './helpers/served-site.ts';

const site = serveSiteForTests();

/** Hands the page a 20 x 20 red PNG as a File through `how` ('drop' on the Edit view, or 'paste'). */
async function giveFile(page: Page, how: 'drop' | 'paste', name: string): Promise<void> {
  await page.evaluate(async ({ how, name }) => {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 20;
    const g = canvas.getContext('2d')!;
    g.fillStyle = '#e02020';
    g.fillRect(0, 0, 20, 20);
    const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), 'image/png'));
    const data = new DataTransfer();
    data.items.add(new File([blob], name, { type: 'image/png' }));
    if (how === 'drop') {
      const view = document.querySelector('glo-edit')!;
      view.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
      view.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    } else {
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }
  }, { how, name });
}

describe('for a newcomer', () => {
  it('says what GLO is and links each view; the run\'s provenance is in words, apart from this page\'s backend', async () => {
    const { page, errors } = await site.open('view=reconstructions', 'reconstructions');
    expect(await page.isVisible('details.intro')).toBe(true);
    expect(await page.textContent('details.intro')).toMatch(/every training image gets a code of its\s+own/);
    const links = await page.locator('[data-view-link]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.viewLink));
    expect(links).toEqual(['reconstructions', 'explore', 'morph', 'grid', 'sample', 'arithmetic', 'edit']);
    await page.click('[data-view-link=explore]');
    await page.waitForSelector('glo-explore[data-state=ready]', { timeout: 60_000 });
    expect(await page.getAttribute('#tab-explore', 'aria-selected')).toBe('true');
    const m = site.fixture.manifest;
    expect(await page.textContent('[data-run-info]')).toBe(
      `This run was trained on ${m.dataset.imageCount} images (${m.dataset.source}, ${m.dataset.imageSize} px, 2 classes) for ${m.training.epochs} epochs ` +
      `with the ${m.backend.name} backend; each image has a ${m.latents.dim}-number code. It reconstructs them at ` +
      `${m.metrics.final.reconstructionPsnr.toFixed(2)} dB PSNR, against ${m.metrics.final.pcaReconstructionPsnr.toFixed(2)} dB for PCA with as many components.`);
    expect(await page.textContent('.backend')).toMatch(/^This page computes on wasm/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows the training image beside g(z) wherever a training image is chosen', async () => {
    const morph = await site.open('view=morph&a=3&b=17', 'morph');
    for (const slot of ['a', 'b']) expect(await morph.page.locator(`[data-endpoint=${slot}] canvas`).count()).toBe(2);
    await morph.page.close();
    const arithmetic = await site.open('view=arithmetic&a=1&b=2&c=c1', 'arithmetic');
    // A and B are training images; C is a class mean, which has no training image.
    expect(await arithmetic.page.locator('glo-arithmetic canvas.training').count()).toBe(2);
    await arithmetic.page.close();
    const explore = await site.open('view=explore&from=image&a=7', 'explore');
    expect(await explore.page.locator('glo-explore canvas.training').count()).toBe(1);
    expect(explore.errors).toEqual([]);
    await explore.page.close();
  });

  it('takes a picture for Edit by drag-and-drop and by paste', async () => {
    const { page, errors } = await site.open('view=edit&a=2', 'edit');
    await giveFile(page, 'drop', 'dropped.png');
    await page.waitForFunction(() => document.querySelector('glo-edit')!.textContent!.includes('Original: upload: dropped.png'));
    await page.waitForSelector('glo-edit[data-state=ready]');
    const red = await page.$eval('canvas[data-clean]', (c) => Array.from((c as HTMLCanvasElement).getContext('2d')!.getImageData(5, 5, 1, 1).data));
    expect(red[0]).toBeGreaterThan(200);
    expect(red[1]).toBeLessThan(60);
    await giveFile(page, 'paste', 'pasted.png');
    await page.waitForFunction(() => document.querySelector('glo-edit')!.textContent!.includes('Original: upload: pasted.png'));
    expect(errors).toEqual([]);
    await page.close();
  });
});
