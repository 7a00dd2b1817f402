/**
 * <glo-grid>: four chosen images at the corners and bilinear interpolation of their codes in between: how smooth
 * the learned latent space is in two directions at once.
 */
import { bilinearGrid } from '../lib/grid.ts';
import { choicesFor, concatCodes, describeChoice, randomChoices } from '../lib/choices.ts';
import type { ViewContext } from '../lib/view.ts';
import { Picker } from './picker.ts';
import { generatedCanvas, sprite } from './thumbnails.ts';
import { h, ViewElement } from './view-base.ts';
import { DownloadControl } from './download.ts';
import { downloadName } from '../lib/images.ts';
import { formatChoice } from '../lib/permalink.ts';

const slots = ['a', 'b', 'c', 'd'] as const;

export class GloGrid extends ViewElement {
  private picker!: Picker;
  private side!: HTMLInputElement;
  private grid!: HTMLElement;
  private corners!: HTMLElement;

  protected build(): void {
    this.picker = new Picker('grid', {
      slots: [
        { slot: 'a', label: 'top left' },
        { slot: 'b', label: 'top right' },
        { slot: 'c', label: 'bottom left' },
        { slot: 'd', label: 'bottom right' },
      ],
      onPick: (slot, choice) => this.update({ [slot]: choice }),
      onRandom: () => this.context && this.update(randomChoices(this.context.run, [...slots])),
    });
    this.side = h('input', { type: 'number', min: 2, max: 12, value: 6, 'data-grid-side': true });
    this.side.addEventListener('change', () => this.update({ side: Math.min(12, Math.max(2, Math.round(Number(this.side.value)) || 6)) }));
    this.corners = h('p', { class: 'hint' });
    this.grid = h('div', { class: 'interp-grid', role: 'group', 'aria-label': 'Interpolation grid' });
    const download = new DownloadControl('grid', () => {
      const context = this.context;
      if (!context) return undefined;
      const choices = choicesFor(context.run, context.permalink.state, ['a', 'b', 'c', 'd']);
      const side = Math.min(12, context.permalink.state.side ?? 6);
      return {
        canvases: Array.from(this.grid.querySelectorAll('canvas')),
        columns: side,
        name: downloadName(context.run.manifest.runId, 'grid', [...(['a', 'b', 'c', 'd'] as const).map((s) => `${s}${formatChoice(choices[s])}`), `${side}x${side}`]),
      };
    }, (e) => this.context?.reportError(e));
    this.append(this.picker.element, h('div', { class: 'toolbar' }, h('label', {}, 'Grid side', this.side), download.element), this.corners, this.grid);
  }


  protected async render(context: ViewContext, signal: AbortSignal): Promise<void> {
    const { run, permalink } = context;
    const choices = choicesFor(run, permalink.state, [...slots]);
    const side = Math.min(12, permalink.state.side ?? 6);
    this.side.value = String(side);
    this.picker.setRun(run);
    this.picker.setChosen(choices);
    // The training images at the corners (class means have none), as the codes at the grid's corners came from them.
    this.corners.replaceChildren('Corners (top left, top right, bottom left, bottom right): ', ...slots.flatMap((s, k) => {
      const choice = choices[s];
      const name = describeChoice(run, choice);
      return [k ? ', ' : '', ...('image' in choice ? [sprite(run, choice.image, 24), ' '] : []), name];
    }), '.');
    this.dataset.state = 'rendering';
    const [a, b, c, d] = slots.map((s) => context.codeOf(choices[s]));
    const codes = bilinearGrid(a, b, c, d, side);
    const images = await context.generate(concatCodes([codes]), { signal, batchSize: 12 });
    const ppi = run.shape.size * run.shape.size * run.shape.channels;
    this.grid.style.gridTemplateColumns = `repeat(${side}, auto)`;
    this.grid.replaceChildren(
      ...Array.from({ length: side * side }, (_, k) => {
        const row = Math.floor(k / side);
        const col = k % side;
        const caption = `grid cell row ${row + 1}, column ${col + 1}`;
        const canvas = generatedCanvas(run, images, k, caption);
        canvas.dataset.gridCell = `${row},${col}`;
        const button = h('button', { type: 'button', class: 'image-button', 'aria-label': `Nearest training images to ${caption}` }, canvas);
        button.addEventListener('click', () => context.showNearest(images.slice(k * ppi, (k + 1) * ppi), caption));
        return button;
      }),
    );
    this.dataset.state = 'ready';
  }
}

customElements.define('glo-grid', GloGrid);
