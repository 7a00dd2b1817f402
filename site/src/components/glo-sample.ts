/**
 * <glo-sample>: new images from the run's Gaussian prior (prior.json: mean + Cholesky factor of the codes, paper
 * section 4) or its IMLE sampler, whichever eval.json measured best first; seeded so a seed is a permalink, with
 * a temperature and, in labelled runs, one Gaussian prior per class.
 */
import { availableSamplers, defaultSampler, sampleCodes, samplerLabels, type SiteSampler } from '../lib/samplers.ts';
import type { ViewContext } from '../lib/view.ts';
import { generatedCanvas } from './thumbnails.ts';
import { h, ViewElement } from './view-base.ts';
import { DownloadControl } from './download.ts';
import { downloadName } from '../lib/images.ts';

export const sampleCount = 16;

export class GloSample extends ViewElement {
  private seed!: HTMLInputElement;
  private temperature!: HTMLInputElement;
  private temperatureOutput!: HTMLOutputElement;
  private classSelect!: HTMLSelectElement;
  private classLabel!: HTMLLabelElement;
  private samplerSelect!: HTMLSelectElement;
  private samplerLabel!: HTMLLabelElement;
  private samplerNote!: HTMLElement;
  private grid!: HTMLElement;
  private note!: HTMLElement;

  protected build(): void {
    this.seed = h('input', { type: 'number', min: 0, max: 4294967295, step: 1, value: 1, 'data-seed': true });
    this.temperature = h('input', { type: 'range', min: 0.1, max: 1.5, step: 0.05, value: 1, 'data-temperature': true });
    this.temperatureOutput = h('output', {}, '1.00');
    this.classSelect = h('select', { 'data-sample-class': true });
    this.classLabel = h('label', { hidden: true }, 'Class', this.classSelect);
    this.samplerSelect = h('select', { 'data-sampler': true });
    this.samplerLabel = h('label', { hidden: true }, 'Sampler', this.samplerSelect);
    this.samplerNote = h('p', { class: 'hint', 'data-sampler-note': true });
    const reshuffle = h('button', { type: 'button', 'data-action': 'reshuffle' }, 'Reshuffle');
    const download = new DownloadControl('samples', () => {
      const context = this.context;
      if (!context) return undefined;
      const { seed = 1, temp = 1, cls } = context.permalink.state;
      return {
        canvases: Array.from(this.grid.querySelectorAll('canvas')),
        columns: 8,
        name: downloadName(context.run.manifest.runId, 'samples', [this.dataset.samplerShown, `seed${seed}`, `t${temp}`, cls]),
      };
    }, (e) => this.context?.reportError(e));
    this.grid = h('ol', { class: 'samples', 'aria-label': 'Samples' });
    this.note = h('p', { class: 'hint' });

    this.seed.addEventListener('change', () => {
      const seed = Math.round(Number(this.seed.value));
      if (Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff) this.update({ seed });
    });
    this.temperature.addEventListener('input', () => (this.temperatureOutput.value = Number(this.temperature.value).toFixed(2)));
    this.temperature.addEventListener('change', () => this.update({ temp: Number(this.temperature.value) }));
    this.classSelect.addEventListener('change', () => this.update({ cls: this.classSelect.value || undefined }));
    this.samplerSelect.addEventListener('change', () => this.update({ sampler: this.samplerSelect.value as SiteSampler }));
    reshuffle.addEventListener('click', () => this.update({ seed: Math.floor(Math.random() * 1e9) }));
    this.append(
      h('p', { class: 'hint' }, 'Codes drawn from a Gaussian fitted to the learned codes (or mapped from noise by the run\'s IMLE network), then projected like the training codes. Lower temperature: more typical, less varied.'),
      h('div', { class: 'toolbar' }, h('label', {}, 'Seed', this.seed), reshuffle, h('label', {}, 'Temperature', this.temperature), this.temperatureOutput, this.samplerLabel, this.classLabel, download.element),
      this.samplerNote,
      this.note,
      this.grid,
    );
  }


  protected async render(context: ViewContext, signal: AbortSignal): Promise<void> {
    const { run, permalink } = context;
    const { seed = 1, temp = 1, cls } = permalink.state;
    const classes = Object.keys(run.prior.classes ?? {});
    this.classLabel.hidden = classes.length === 0;
    this.classSelect.replaceChildren(new Option('All images', ''), ...classes.map((name) => new Option(name, name)));
    const prior = cls && run.prior.classes?.[cls] ? run.prior.classes[cls] : run.prior.global;
    const perClass = prior !== run.prior.global;
    this.classSelect.value = perClass ? cls! : '';

    // The sampler: the link's, else the best measured. A class is sampled from its own Gaussian (the IMLE
    // network maps noise to the codes of all images, not of one class).
    const samplers = availableSamplers(run);
    const preferred = defaultSampler(run);
    const chosen: SiteSampler = perClass ? 'gaussian' : permalink.state.sampler && samplers.includes(permalink.state.sampler) ? permalink.state.sampler : preferred.sampler;
    this.samplerLabel.hidden = samplers.length < 2;
    this.samplerSelect.replaceChildren(...samplers.map((name) => new Option(`${samplerLabels[name]}${name === preferred.sampler && run.evaluation ? ' (best measured)' : ''}`, name)));
    this.samplerSelect.value = chosen;
    this.samplerSelect.disabled = perClass;
    this.samplerNote.textContent = perClass && samplers.length > 1 ? `A class is sampled from its own Gaussian prior. ${preferred.reason}` : preferred.reason;
    this.samplerNote.hidden = !this.samplerNote.textContent;
    this.dataset.samplerShown = chosen;

    this.seed.value = String(seed);
    this.temperature.value = String(temp);
    this.temperatureOutput.value = temp.toFixed(2);
    this.note.textContent = chosen === 'imle'
      ? `IMLE network fitted to all ${run.count} codes (noise of size ${run.manifest.sampler!.noiseDim}).`
      : perClass ? `Prior fitted to the ${prior.count} codes of class ${cls}.` : `Prior fitted to all ${prior.count} codes.`;
    this.dataset.state = 'rendering';

    const codes = await sampleCodes(run, context.tf, { sampler: chosen, seed, temperature: temp, count: sampleCount, prior });
    const images = await context.generate(codes, { signal, batchSize: 8 });
    const ppi = run.shape.size * run.shape.size * run.shape.channels;
    this.grid.replaceChildren(
      ...Array.from({ length: sampleCount }, (_, i) => {
        const caption = `sample ${i + 1} (seed ${seed})`;
        const canvas = generatedCanvas(run, images, i, caption);
        canvas.dataset.sampleIndex = String(i);
        const button = h('button', { type: 'button', class: 'image-button', 'aria-label': `Nearest training images to ${caption}` }, canvas);
        button.addEventListener('click', () => context.showNearest(images.slice(i * ppi, (i + 1) * ppi), caption));
        return h('li', {}, button);
      }),
    );
    context.showNearest(images.slice(0, ppi), `sample 1 (seed ${seed})`);
    this.dataset.state = 'ready';
  }
}

customElements.define('glo-sample', GloSample);
