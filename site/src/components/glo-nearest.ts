/**
 * <glo-nearest>: the memorization check beside every view. Views send the image in focus (a reconstruction, the
 * morph frame, a sample, an arithmetic result); this panel lists the training images closest to it in pixels.
 */
import { labelOf } from '../lib/choices.ts';
import { nearestTiles } from '../lib/nearest.ts';
import { pixelsPerImage } from '../lib/images.ts';
import type { LoadedRun } from '../lib/run-loader.ts';
import { generatedCanvas, sprite } from './thumbnails.ts';
import { h } from './view-base.ts';

export class GloNearest extends HTMLElement {
  static readonly k = 6;

  connectedCallback(): void {
    if (!this.querySelector('[data-nearest-body]')) {
      this.append(h('p', { 'data-nearest-body': true, class: 'hint' }, 'Pick or generate an image: its nearest training images appear here.'));
    }
  }

  show(run: LoadedRun, values: Float32Array, caption: string): void {
    const neighbours = nearestTiles(values, run.tileBytes(), pixelsPerImage(run.shape), GloNearest.k);
    const list = h('ol', { class: 'nearest-list', 'aria-label': `Training images nearest to ${caption}` });
    for (const { index, rmse } of neighbours) {
      const label = labelOf(run, index);
      list.append(
        h('li', { 'data-nearest-index': index, 'data-rmse': rmse.toFixed(4) }, sprite(run, index, 48), h('span', {}, `#${index}${label ? ` ${label}` : ''}`), h('span', { class: 'distance' }, `RMSE ${rmse.toFixed(3)}`)),
      );
    }
    const body = h(
      'div',
      { 'data-nearest-body': true },
      h('figure', { class: 'focus' }, generatedCanvas(run, values, 0, caption), h('figcaption', {}, caption)),
      list,
    );
    this.querySelector('[data-nearest-body]')?.replaceWith(body);
  }

  clear(): void {
    this.querySelector('[data-nearest-body]')?.replaceWith(h('p', { 'data-nearest-body': true, class: 'hint' }, 'Pick or generate an image: its nearest training images appear here.'));
  }
}

customElements.define('glo-nearest', GloNearest);
