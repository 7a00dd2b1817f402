/**
 * <glo-reconstructions>: each training image x_i beside g(z_i) with its PSNR, a page at a time (one batched
 * generation per page). The figure the paper reports, per image, in the browser.
 */
import { gatherRows } from '../../../training/glo/latent.ts';
import { labelOf, pageImages } from '../lib/choices.ts';
import { downloadName, pixelsPerImage, psnr } from '../lib/images.ts';
import type { ViewContext } from '../lib/view.ts';
import { generatedCanvas, trainingCanvas } from './thumbnails.ts';
import { h, ViewElement } from './view-base.ts';
import { DownloadControl } from './download.ts';

const pageSize = 24;

export class GloReconstructions extends ViewElement {
  private grid!: HTMLElement;
  private pageLabel!: HTMLElement;
  private previous!: HTMLButtonElement;
  private next!: HTMLButtonElement;
  private summary!: HTMLElement;

  protected build(): void {
    this.previous = h('button', { type: 'button', 'data-action': 'previous-page' }, '← Previous');
    this.next = h('button', { type: 'button', 'data-action': 'next-page' }, 'Next →');
    this.pageLabel = h('span', { 'aria-live': 'polite' });
    this.summary = h('p', { class: 'summary', 'data-summary': true });
    this.grid = h('ol', { class: 'recon-grid', 'aria-label': 'Training images and their reconstructions' });
    this.previous.addEventListener('click', () => this.turn(-1));
    this.next.addEventListener('click', () => this.turn(1));
    this.append(
      h('p', { class: 'hint' }, 'Left: the training image. Right: g(z), the generator applied to the image\'s learned code. Select a reconstruction to find its nearest training images.'),
      h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Pages' }, this.previous, this.pageLabel, this.next, new DownloadControl('page', () => {
        const context = this.context;
        if (!context) return undefined;
        // Each training image with its reconstruction beside it, six pairs a row.
        return {
          canvases: Array.from(this.grid.querySelectorAll<HTMLCanvasElement>('canvas[data-train-index], canvas[data-recon-index]')),
          columns: 12,
          name: downloadName(context.run.manifest.runId, 'reconstructions', [`page${(context.permalink.state.page ?? 0) + 1}`]),
        };
      }, (e) => this.context?.reportError(e)).element),
      this.summary,
      this.grid,
    );
  }

  private pages(context: ViewContext): number {
    return Math.max(1, Math.ceil(context.run.tileCount / pageSize));
  }

  private turn(delta: number): void {
    const context = this.context;
    if (!context) return;
    const page = Math.min(this.pages(context) - 1, Math.max(0, (context.permalink.state.page ?? 0) + delta));
    this.update({ page });
  }

  protected async render(context: ViewContext, signal: AbortSignal): Promise<void> {
    const { run } = context;
    const pages = this.pages(context);
    const page = Math.min(pages - 1, context.permalink.state.page ?? 0);
    const shownImages = pageImages(run.tileCount, pageSize, page);
    const count = shownImages.length;
    this.previous.disabled = page === 0;
    this.next.disabled = page >= pages - 1;
    this.pageLabel.textContent = pages === 1
      ? `All ${run.tileCount} images`
      : `${count} of ${run.tileCount} images, spread over the dataset (page ${page + 1} of ${pages})`;
    this.dataset.state = 'rendering';
    this.summary.textContent = 'Generating…';

    // The training images are in the atlas already: they go on screen at once, each g(z_i) beside its image
    // as its batch arrives.
    const ppi = pixelsPerImage(run.shape);
    const slots: { name: string; canvas: HTMLCanvasElement; button: HTMLButtonElement; psnrLabel: HTMLElement }[] = [];
    const items: HTMLElement[] = [];
    for (let k = 0; k < count; k++) {
      const i = shownImages[k];
      const label = labelOf(run, i);
      const name = `image ${i}${label ? ` (${label})` : ''}`;
      const training = trainingCanvas(run, i, name);
      training.dataset.trainIndex = String(i);
      const canvas = h('canvas', { class: 'image pending', role: 'img', 'aria-label': `reconstruction of ${name}, generating` });
      const button = h('button', { type: 'button', class: 'image-button', disabled: true, 'aria-label': `Nearest training images to the reconstruction of ${name}` }, canvas);
      const psnrLabel = h('span', {}, '…');
      slots.push({ name, canvas, button, psnrLabel });
      items.push(h('li', { 'data-index': i }, h('div', { class: 'pair' }, training, button), h('span', { class: 'caption' }, `#${i} · `, psnrLabel)));
    }
    this.grid.replaceChildren(...items);

    let total = 0;
    let shown = 0;
    const showUpTo = (done: number, images: Float32Array) => {
      for (; shown < done; shown++) {
        const k = shown;
        const { name, canvas, button, psnrLabel } = slots[k];
        const db = psnr(images, run.tileValues(shownImages[k]), k * ppi, ppi);
        total += db;
        const reconstruction = generatedCanvas(run, images, k, `reconstruction of ${name}, ${db.toFixed(1)} dB`);
        reconstruction.dataset.reconIndex = String(shownImages[k]);
        canvas.replaceWith(reconstruction);
        const values = images.slice(k * ppi, (k + 1) * ppi);
        button.disabled = false;
        button.addEventListener('click', () => context.showNearest(values, `g(z) of ${name}`));
        psnrLabel.dataset.psnr = db.toFixed(3);
        psnrLabel.textContent = `${db.toFixed(1)} dB`;
      }
    };
    const codes = gatherRows(run.latents, run.dim, shownImages);
    // generate() reports every batch, the last included, so the page is complete when it returns.
    await context.generate(codes, { batchSize: 8, signal, onBatch: (done, _total, soFar) => showUpTo(done, soFar) });
    this.summary.textContent = `Mean PSNR on this page: ${(total / count).toFixed(2)} dB (whole run: ${run.manifest.metrics.final.reconstructionPsnr.toFixed(2)} dB).`;
    this.dataset.state = 'ready';
  }
}

customElements.define('glo-reconstructions', GloReconstructions);
