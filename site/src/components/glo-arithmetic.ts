/**
 * <glo-arithmetic>: A - B + C on codes, projected back into the latent set (paper section 4.4's "vector
 * arithmetic"); in labelled runs A, B and C may be class means (e.g. class X's mean - class Y's mean + an image).
 */
import { arithmetic } from '../../../training/glo/latent.ts';
import { choicesFor, concatCodes, describeChoice, randomChoices } from '../lib/choices.ts';
import type { ViewContext } from '../lib/view.ts';
import { Picker } from './picker.ts';
import { choiceImages, generatedCanvas } from './thumbnails.ts';
import { h, ViewElement } from './view-base.ts';
import { DownloadControl } from './download.ts';
import { downloadName } from '../lib/images.ts';
import { formatChoice } from '../lib/permalink.ts';

const slots = ['a', 'b', 'c'] as const;

export class GloArithmetic extends ViewElement {
  private picker!: Picker;
  private equation!: HTMLElement;

  protected build(): void {
    this.picker = new Picker('arithmetic', {
      slots: [
        { slot: 'a', label: 'A' },
        { slot: 'b', label: 'B' },
        { slot: 'c', label: 'C' },
      ],
      classMeans: true,
      onPick: (slot, choice) => this.update({ [slot]: choice }),
      onRandom: () => this.context && this.update(randomChoices(this.context.run, [...slots])),
    });
    this.equation = h('div', { class: 'choices', role: 'group', 'aria-label': 'A minus B plus C' });
    const download = new DownloadControl('equation', () => {
      const context = this.context;
      if (!context) return undefined;
      const choices = choicesFor(context.run, context.permalink.state, [...slots]);
      return {
        canvases: Array.from(this.equation.querySelectorAll('canvas:not(.training)')),
        columns: 4,
        name: downloadName(context.run.manifest.runId, 'arithmetic', slots.map((s) => `${s}${formatChoice(choices[s])}`)),
      };
    }, (e) => this.context?.reportError(e));
    this.append(
      h('p', { class: 'hint' }, 'g(z_A − z_B + z_C): what A has that B lacks, added to C. Codes are projected back into the latent set.'),
      this.picker.element,
      this.equation,
      h('div', { class: 'toolbar' }, download.element),
    );
  }


  protected async render(context: ViewContext, signal: AbortSignal): Promise<void> {
    const { run, permalink } = context;
    const choices = choicesFor(run, permalink.state, [...slots]);
    this.picker.setRun(run);
    this.picker.setChosen(choices);
    this.dataset.state = 'rendering';
    const [a, b, c] = slots.map((s) => context.codeOf(choices[s]));
    const result = arithmetic(a, b, c, run.manifest.latents.projection);
    const images = await context.generate(concatCodes([a, b, c, result]), { signal });
    const figure = (k: number, caption: string, attribute: string) => {
      const choice = k < 3 ? choices[slots[k]] : undefined;
      const shown = choice ? choiceImages(run, images, k, choice, caption) : generatedCanvas(run, images, k, caption);
      (shown instanceof HTMLCanvasElement ? shown : shown.querySelector('canvas:not(.training)')!).setAttribute(attribute, '');
      return h('figure', { class: 'choice' }, shown, h('figcaption', {}, caption));
    };
    const sign = (text: string) => h('span', { class: 'operator', 'aria-hidden': 'true' }, text);
    this.equation.replaceChildren(
      figure(0, `A: ${describeChoice(run, choices.a)}`, 'data-arith-a'),
      sign('−'),
      figure(1, `B: ${describeChoice(run, choices.b)}`, 'data-arith-b'),
      sign('+'),
      figure(2, `C: ${describeChoice(run, choices.c)}`, 'data-arith-c'),
      sign('='),
      h('div', { class: 'big' }, figure(3, 'A − B + C', 'data-arith-result')),
    );
    const ppi = run.shape.size * run.shape.size * run.shape.channels;
    context.showNearest(images.slice(3 * ppi, 4 * ppi), 'A − B + C');
    this.dataset.state = 'ready';
  }
}

customElements.define('glo-arithmetic', GloArithmetic);
