/**
 * <glo-explore>: sliders along the principal directions of the run's codes (the axes of the prior's covariance,
 * largest variance first), each spanning +-3 standard deviations, from a starting code: the mean, a sample of
 * the prior, or a training image's code. The image follows the sliders while they are dragged (the latest
 * position wins, so a fast drag never queues renders). The start and the positions live in the permalink.
 *
 * For tests and the bench: data-state (rendering | ready) and data-renders (images drawn so far).
 */
import { principalDirections, sampleGaussian } from '../../../training/glo/gaussian.ts';
import { project } from '../../../training/glo/latent.ts';
import { Random } from '../../../training/glo/random.ts';
import { choicesFor, describeChoice, randomChoices } from '../lib/choices.ts';
import { latestOnly } from '../lib/generate.ts';
import { downloadName, paint, valuesToRgba } from '../lib/images.ts';
import type { LoadedRun } from '../lib/run-loader.ts';
import { editImageEvent, type ViewContext } from '../lib/view.ts';
import { Picker } from './picker.ts';
import { trainingCanvas } from './thumbnails.ts';
import { h, ViewElement } from './view-base.ts';
import { DownloadControl } from './download.ts';
import { formatChoice } from '../lib/permalink.ts';

/** Sliders shown: the first principal directions carry most of the codes' variance. */
export const exploreSliders = 8;
const RANGE = 3;

type Start = 'mean' | 'sample' | 'image';

// Per run: the directions are a property of the codes, computed once (tens of ms for d = 100).
const axesOf = new WeakMap<LoadedRun, { directions: Float64Array[]; sigmas: number[] }>();
function axes(run: LoadedRun) {
  let found = axesOf.get(run);
  if (!found) axesOf.set(run, (found = principalDirections(run.prior.global, exploreSliders)));
  return found;
}

export class GloExplore extends ViewElement {
  private startSelect!: HTMLSelectElement;
  private seedInput!: HTMLInputElement;
  private seedLabel!: HTMLLabelElement;
  private picker!: Picker;
  private canvas!: HTMLCanvasElement;
  private caption!: HTMLElement;
  /** The training image a training-image start was fitted to, beside the explored image. */
  private startImage!: HTMLElement;
  private sliderList!: HTMLElement;
  private sliders: HTMLInputElement[] = [];
  private outputs: HTMLOutputElement[] = [];
  private base: Float32Array | undefined;
  private baseCaption = '';
  private renders = 0;
  /** While a slider is held, the nearest-images search (a pass over every training image) waits for the release. */
  private dragging = false;
  private draw = latestOnly((code: Float32Array) => this.drawCode(code), (e) => this.context?.reportError(e));

  protected build(): void {
    this.dataset.state = 'idle';
    this.startSelect = h('select', { id: 'explore-start', 'data-explore-start': true },
      new Option('the mean code', 'mean'), new Option('a sample of the prior', 'sample'), new Option('a training image', 'image'));
    this.seedInput = h('input', { type: 'number', id: 'explore-seed', min: 0, value: 1, style: 'width: 6em' });
    this.seedLabel = h('label', { for: 'explore-seed' }, 'Seed', this.seedInput);
    const reset = h('button', { type: 'button', 'data-action': 'reset' }, 'Reset');
    const randomize = h('button', { type: 'button', 'data-action': 'randomize' }, 'Randomize');
    const toEdit = h('button', { type: 'button', 'data-action': 'send-to-edit' }, 'Edit this image');
    const toMorph = h('button', { type: 'button', 'data-action': 'send-to-morph' }, 'Morph from this');
    const toArithmetic = h('button', { type: 'button', 'data-action': 'send-to-arithmetic' }, 'Use as A in Arithmetic');
    toMorph.addEventListener('click', () => this.sendCode('morph'));
    toArithmetic.addEventListener('click', () => this.sendCode('arithmetic'));
    const download = new DownloadControl('image', () => {
      const context = this.context;
      if (!context) return undefined;
      const { from = 'mean', seed = 1, a, x } = context.permalink.state;
      const start = from === 'image' && a ? `image${formatChoice(a)}` : from === 'sample' ? `sample${seed}` : 'mean';
      return { canvases: [this.canvas], columns: 1, name: downloadName(context.run.manifest.runId, 'explore', [start, x ? `x${x.join('_')}` : undefined]) };
    }, (e) => this.context?.reportError(e));
    this.picker = new Picker('explore', {
      slots: [{ slot: 'a', label: 'the starting image' }],
      onPick: (_slot, choice) => this.update({ from: 'image', a: choice, x: undefined }),
      onRandom: () => this.context && this.update({ from: 'image', a: randomChoices(this.context.run, ['a']).a, x: undefined }),
    });
    this.canvas = h('canvas', { class: 'image', role: 'img', 'aria-label': 'The explored image', 'data-explore-image': true, style: 'width: 192px; height: 192px' });
    this.caption = h('figcaption', { class: 'caption', 'aria-live': 'polite' });
    this.startImage = h('figure', { class: 'big', hidden: true });
    this.sliderList = h('ol', { class: 'explore-sliders', 'aria-label': 'Principal directions of the codes' });

    this.startSelect.addEventListener('change', () => this.update({ from: this.startSelect.value as Start, x: undefined }));
    this.seedInput.addEventListener('change', () => this.update({ from: 'sample', seed: Math.max(0, Math.floor(Number(this.seedInput.value) || 0)), x: undefined }));
    reset.addEventListener('click', () => this.setPositions(new Array(this.sliders.length).fill(0)));
    randomize.addEventListener('click', () => this.setPositions(this.sliders.map(() => Math.max(-RANGE, Math.min(RANGE, gaussian())))));
    toEdit.addEventListener('click', () => this.sendToEdit());

    this.append(
      h('p', { class: 'hint' }, 'Each slider moves the code along one principal direction of the learned codes (the first ones carry most of their variance), from -3 to +3 standard deviations.'),
      h('div', { class: 'toolbar' }, h('label', { for: 'explore-start' }, 'Start from', this.startSelect), this.seedLabel, reset, randomize, download.element),
      h('div', { class: 'toolbar' }, toMorph, toArithmetic, toEdit),
      h('div', { class: 'explore' }, this.startImage, h('figure', { class: 'big' }, this.canvas, this.caption), this.sliderList),
      this.picker.element,
    );
  }

  protected async render(context: ViewContext, signal: AbortSignal): Promise<void> {
    const { run, permalink } = context;
    const { directions, sigmas } = axes(run);
    if (this.sliders.length !== directions.length) this.buildSliders(sigmas);
    this.sliders.forEach((slider, j) => (slider.title = `standard deviation ${sigmas[j].toFixed(3)}`));
    const from: Start = permalink.state.from ?? 'mean';
    this.startSelect.value = from;
    this.seedLabel.hidden = from !== 'sample';
    this.picker.element.hidden = from !== 'image';
    const seed = permalink.state.seed ?? 1;
    this.seedInput.value = String(seed);
    if (from === 'image') {
      const { a } = choicesFor(run, permalink.state, ['a']);
      this.picker.setRun(run);
      this.picker.setChosen({ a });
      this.base = context.codeOf(a);
      this.baseCaption = describeChoice(run, a);
      if ('image' in a) {
        const training = trainingCanvas(run, a.image, `training image ${this.baseCaption}`);
        training.classList.add('training');
        this.startImage.replaceChildren(training, h('figcaption', { class: 'caption' }, `the training image (${this.baseCaption})`));
      }
      this.startImage.hidden = !('image' in a);
    } else if (from === 'sample') {
      this.startImage.hidden = true;
      this.base = sampleGaussian(run.prior.global, 1, new Random(seed), { projection: run.manifest.latents.projection });
      this.baseCaption = `prior sample (seed ${seed})`;
    } else {
      this.startImage.hidden = true;
      this.base = Float32Array.from(run.prior.global.mean);
      this.baseCaption = 'the mean code';
    }
    const x = permalink.state.x ?? [];
    this.sliders.forEach((slider, j) => {
      slider.value = String(x[j] ?? 0);
      this.outputs[j].value = Number(slider.value).toFixed(2);
    });
    if (signal.aborted) return;
    await this.draw(this.currentCode());
  }

  private buildSliders(sigmas: number[]): void {
    this.sliders = [];
    this.outputs = [];
    this.sliderList.replaceChildren(...sigmas.map((sigma, j) => {
      const slider = h('input', { type: 'range', id: `explore-pc-${j}`, min: -RANGE, max: RANGE, step: 0.05, value: 0, 'data-pc': j });
      const output = h('output', { for: `explore-pc-${j}` }, '0.00');
      slider.addEventListener('input', () => {
        this.dragging = true;
        output.value = Number(slider.value).toFixed(2);
        void this.draw(this.currentCode());
      });
      slider.addEventListener('change', () => {
        this.dragging = false;
        this.recordPositions();
        void this.draw(this.currentCode());
      });
      this.sliders.push(slider);
      this.outputs.push(output);
      return h('li', {}, h('label', { for: `explore-pc-${j}` }, `Direction ${j + 1}`), slider, output, h('span', { class: 'hint' }, `σ ${sigma.toFixed(3)}`));
    }));
  }

  /** base + sum_j x_j sigma_j v_j, projected into the latent set as the training codes are. */
  private currentCode(): Float32Array {
    const run = this.context!.run;
    const { directions, sigmas } = axes(run);
    const code = Float32Array.from(this.base!);
    this.sliders.forEach((slider, j) => {
      const step = Number(slider.value) * sigmas[j];
      if (step !== 0) for (let i = 0; i < code.length; i++) code[i] += step * directions[j][i];
    });
    project(code, run.dim, run.manifest.latents.projection);
    return code;
  }

  private async drawCode(code: Float32Array): Promise<void> {
    const context = this.context;
    if (!context) return;
    this.dataset.state = 'rendering';
    const image = await context.generate(code, { batchSize: 1 });
    if (context !== this.context) return;
    paint(this.canvas, valuesToRgba(image, context.run.shape), context.run.shape.size);
    const moved = this.sliders.some((s) => Number(s.value) !== 0);
    this.caption.textContent = moved ? `${this.baseCaption}, moved along ${this.sliders.filter((s) => Number(s.value) !== 0).length} directions` : this.baseCaption;
    if (!this.dragging) context.showNearest(image, `explored image from ${this.baseCaption}`);
    this.renders++;
    this.dataset.renders = String(this.renders);
    this.dataset.state = 'ready';
  }

  private setPositions(x: number[]): void {
    this.sliders.forEach((slider, j) => {
      slider.value = String(Math.round(x[j] * 100) / 100);
      this.outputs[j].value = Number(slider.value).toFixed(2);
    });
    this.recordPositions();
    void this.draw(this.currentCode());
  }

  private recordPositions(): void {
    const x = this.sliders.map((s) => Number(s.value));
    this.context?.permalink.update({ x: x.every((v) => v === 0) ? undefined : x });
  }

  /** The code on screen becomes A of Morph or Arithmetic (a code choice, so the link carries it too). */
  private sendCode(view: 'morph' | 'arithmetic'): void {
    if (!this.context) return;
    // `a` is shared by the views: Explore itself now starts from that code with its sliders at zero (the same
    // image), so coming back, or opening the link, shows what was handed on.
    this.handOver(view, { a: { code: this.currentCode() }, from: 'image', x: undefined });
    this.rerender();
  }

  /** Hands the image on screen to the Edit view as its picture to damage and restore. */
  private sendToEdit(): void {
    const context = this.context;
    if (!context) return;
    void context.generate(this.currentCode(), { batchSize: 1 }).then((image) => {
      document.dispatchEvent(new CustomEvent(editImageEvent, { detail: { values: image, caption: `explored image from ${this.baseCaption}` } }));
    }).catch((e) => context.reportError(e));
  }
}

/** A standard normal draw (Box-Muller) for Randomize: a typical point of the codes' spread. */
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

customElements.define('glo-explore', GloExplore);
