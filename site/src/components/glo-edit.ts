/**
 * <glo-edit>: the paper's inverse problems in the browser. Pick a training image (or upload one), damage it (paint
 * a mask with the mouse, pen or finger; add seeded noise; downsample), then Restore: a code is optimized against the
 * damaged image with the run's generator frozen (training/glo/inversion.ts through src/lib/edit.ts), showing the
 * step, the loss and a small chart as it falls, with Cancel; finally the restored image and both PSNRs against the
 * clean image. The loop yields to the browser every step, so the page stays responsive.
 *
 * For tests and the bench the element reports its state in attributes: data-state (idle | damaging | ready |
 * restoring | done | cancelled), and the outputs carry data-value (PSNR in dB, steps per second).
 */
import { describeChoice } from '../lib/choices.ts';
import {
  applyDamage,
  downsampleFactors,
  emptyMask,
  imageFileToValues,
  paintStroke,
  restore,
  restoreDefaults,
  scoreEdit,
  squareHole,
  type Damage,
  type DamageKind,
  type Damaged,
} from '../lib/edit.ts';
import { paint, psnr, valuesToRgba } from '../lib/images.ts';
import type { ViewContext } from '../lib/view.ts';
import { Picker } from './picker.ts';
import { h, ViewElement } from './view-base.ts';

const styles = `
glo-edit .edit-controls { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: .8rem; }
glo-edit fieldset { display: flex; flex-direction: column; gap: .45rem; align-items: flex-start; margin: 0; min-width: 0; }
glo-edit fieldset label { flex-wrap: wrap; }
glo-edit fieldset label.option { flex-wrap: nowrap; align-items: baseline; }
glo-edit .picker { margin-top: .8rem; }
glo-edit .edit-panels { display: flex; flex-wrap: wrap; gap: 1rem; margin: 0 0 .8rem; }
glo-edit figure { margin: 0; display: flex; flex-direction: column; align-items: center; gap: .25rem; }
glo-edit canvas.image.edit-big { width: 176px; height: 176px; }
glo-edit canvas[data-paint] { touch-action: none; cursor: crosshair; }
glo-edit canvas.loss-chart { width: 200px; height: 56px; background: var(--panel); border-radius: 4px; }
glo-edit .progress { display: flex; flex-wrap: wrap; gap: .3rem .6rem; align-items: center; font-variant-numeric: tabular-nums; }
glo-edit [hidden] { display: none !important; }
`;

export class GloEdit extends ViewElement {
  /** The clean image, [size, size, channels] in [-1, 1]. */
  private clean: Float32Array | undefined;
  private cleanCaption = '';
  private image = 0;
  private kind: DamageKind = 'mask';
  private keep: Float32Array | undefined;
  private damaged: Damaged | undefined;
  private damageToken = 0;
  private restoring: AbortController | undefined;
  private cancelledByUser = new WeakSet<AbortController>();
  private painting: { x: number; y: number } | undefined;

  // Controls and outputs, created in build().
  private indexInput!: HTMLInputElement;
  private uploadInput!: HTMLInputElement;
  private picker!: Picker;
  private kindInputs!: HTMLInputElement[];
  private brushInput!: HTMLInputElement;
  private noiseInput!: HTMLInputElement;
  private seedInput!: HTMLInputElement;
  private factorSelect!: HTMLSelectElement;
  private stepsInput!: HTMLInputElement;
  private restoreButton!: HTMLButtonElement;
  private cancelButton!: HTMLButtonElement;
  private progress!: HTMLProgressElement;
  private stepOutput!: HTMLOutputElement;
  private lossOutput!: HTMLOutputElement;
  private rateOutput!: HTMLOutputElement;
  private chart!: HTMLCanvasElement;
  private cleanCanvas!: HTMLCanvasElement;
  private damagedCanvas!: HTMLCanvasElement;
  private restoredCanvas!: HTMLCanvasElement;
  private cleanCaptionElement!: HTMLElement;
  private damagedPsnr!: HTMLOutputElement;
  private restoredPsnr!: HTMLOutputElement;
  private summary!: HTMLParagraphElement;
  private panels: Record<DamageKind, HTMLElement> = {} as Record<DamageKind, HTMLElement>;

  protected build(): void {
    this.dataset.state = 'idle';
    const id = (name: string) => `edit-${name}`;

    this.indexInput = h('input', { type: 'number', id: id('index'), min: 0, value: 0, 'data-image-index': true });
    this.uploadInput = h('input', { type: 'file', id: id('upload'), accept: 'image/*', 'data-upload': true });
    // The gallery the other views use (search by label or number, pages, random), with one slot: the image to edit.
    this.picker = new Picker('edit', {
      slots: [{ slot: 'a', label: 'the image to edit' }],
      onPick: (_slot, choice) => {
        if ('image' in choice) this.guard(() => this.chooseImage(choice.image));
      },
      onRandom: () => this.guard(() => this.chooseImage(Math.floor(Math.random() * (this.context?.run.tileCount ?? 1)))),
    });
    const source = h(
      'fieldset',
      {},
      h('legend', {}, '1. Image'),
      h('label', { for: id('index') }, 'Training image #', this.indexInput),
      h('label', { for: id('upload') }, 'Or upload a picture', this.uploadInput),
      h('span', { class: 'hint' }, 'Uploads are centre-cropped and resized to the run\'s size.'),
    );

    this.kindInputs = (['mask', 'noise', 'downsample'] as const).map((kind) =>
      h('input', { type: 'radio', name: 'edit-damage', value: kind, id: id(`kind-${kind}`), checked: kind === this.kind }),
    );
    const kindLabels: Record<DamageKind, string> = { mask: 'Paint a mask (inpainting)', noise: 'Add noise (denoising)', downsample: 'Downsample (super-resolution)' };
    this.brushInput = h('input', { type: 'range', id: id('brush'), min: 1, max: 8, step: 0.5, value: 2.5 });
    const hole = h('button', { type: 'button', 'data-hole': true }, 'Square hole');
    const clear = h('button', { type: 'button', 'data-clear-mask': true }, 'Clear mask');
    this.panels.mask = h(
      'div',
      { class: 'toolbar' },
      h('label', { for: id('brush') }, 'Brush', this.brushInput),
      hole,
      clear,
      h('span', { class: 'hint' }, 'Paint on the damaged image.'),
    );
    this.noiseInput = h('input', { type: 'range', id: id('noise'), min: 0.05, max: 1, step: 0.05, value: 0.4, 'data-noise': true });
    this.seedInput = h('input', { type: 'number', id: id('seed'), min: 0, value: 1, style: 'width: 5em' });
    this.panels.noise = h('div', { class: 'toolbar' }, h('label', { for: id('noise') }, 'Noise σ', this.noiseInput), h('label', { for: id('seed') }, 'Seed', this.seedInput));
    this.factorSelect = h('select', { id: id('factor'), 'data-factor': true });
    this.panels.downsample = h('div', { class: 'toolbar' }, h('label', { for: id('factor') }, 'Factor', this.factorSelect));
    const damage = h(
      'fieldset',
      { role: 'radiogroup', 'aria-label': 'Damage' },
      h('legend', {}, '2. Damage'),
      ...this.kindInputs.map((input) => h('label', { for: input.id, class: 'option' }, input, kindLabels[input.value as DamageKind])),
      this.panels.mask,
      this.panels.noise,
      this.panels.downsample,
    );

    this.stepsInput = h('input', { type: 'number', id: id('steps'), min: 10, max: 5000, step: 10, value: restoreDefaults.steps, style: 'width: 6em' });
    this.restoreButton = h('button', { type: 'button', 'data-restore': true }, 'Restore');
    this.cancelButton = h('button', { type: 'button', 'data-cancel': true, disabled: true }, 'Cancel');
    this.progress = h('progress', { max: restoreDefaults.steps, value: 0, 'aria-label': 'Restoration progress' });
    this.stepOutput = h('output', { 'data-step': true, 'aria-live': 'off' }, '');
    this.lossOutput = h('output', { 'data-loss': true }, '');
    this.rateOutput = h('output', { 'data-rate': true }, '');
    this.chart = h('canvas', { class: 'loss-chart', width: 200, height: 56, role: 'img', 'aria-label': 'Loss over the steps' });
    const run = h(
      'fieldset',
      {},
      h('legend', {}, '3. Restore'),
      h('label', { for: id('steps') }, 'Steps', this.stepsInput),
      h('div', { class: 'toolbar' }, this.restoreButton, this.cancelButton),
      h('div', { class: 'progress' }, this.progress, this.stepOutput, this.lossOutput, this.rateOutput),
      this.chart,
      h('span', { class: 'hint' }, 'Optimizes a latent code for the damaged image; the generator is not changed.'),
    );

    const figure = (name: string, caption: HTMLElement | string, ...extra: Node[]) => {
      const canvas = h('canvas', { class: 'image edit-big', role: 'img', 'aria-label': `${name} image`, [`data-${name.toLowerCase()}`]: true });
      return { canvas, element: h('figure', {}, canvas, h('figcaption', { class: 'caption' }, caption, ...extra)) };
    };
    this.cleanCaptionElement = h('span', {}, 'Original');
    this.damagedPsnr = h('output', { 'data-psnr-damaged': true }, '');
    this.restoredPsnr = h('output', { 'data-psnr-restored': true }, '');
    const clean = figure('Clean', this.cleanCaptionElement);
    const damaged = figure('Damaged', 'Damaged ', this.damagedPsnr);
    const restored = figure('Restored', 'Restored ', this.restoredPsnr);
    this.cleanCanvas = clean.canvas;
    this.damagedCanvas = damaged.canvas;
    this.damagedCanvas.setAttribute('data-paint', '');
    this.restoredCanvas = restored.canvas;
    this.summary = h('p', { 'data-edit-summary': true, 'aria-live': 'polite' }, '');

    this.append(
      h('style', {}, styles),
      h('div', { class: 'edit-panels' }, clean.element, damaged.element, restored.element),
      this.summary,
      h('div', { class: 'edit-controls' }, source, damage, run),
      this.picker.element,
    );

    this.indexInput.addEventListener('change', () => this.guard(() => this.chooseImage(Number(this.indexInput.value))));
    this.uploadInput.addEventListener('change', () => this.guard(() => this.upload()));
    for (const input of this.kindInputs) {
      input.addEventListener('change', () => {
        if (input.checked) this.guard(() => this.setKind(input.value as DamageKind));
      });
    }
    hole.addEventListener('click', () => this.guard(() => this.setMask(squareHole(this.size, 0.4))));
    clear.addEventListener('click', () => this.guard(() => this.setMask(emptyMask(this.size))));
    for (const input of [this.noiseInput, this.seedInput, this.factorSelect]) input.addEventListener('change', () => this.guard(() => this.redamage()));
    // The noise seed (which also seeds the restoration's starts) goes into the permalink, like the other views' seeds.
    this.seedInput.addEventListener('change', () => this.context?.permalink.update({ seed: Math.max(0, Math.floor(Number(this.seedInput.value) || 0)) }));
    this.noiseInput.addEventListener('input', () => this.guard(() => this.redamage()));
    this.restoreButton.addEventListener('click', () => this.guard(() => this.runRestore()));
    this.cancelButton.addEventListener('click', () => this.cancel(true));
    this.damagedCanvas.addEventListener('pointerdown', (e) => this.onPointer(e, 'down'));
    this.damagedCanvas.addEventListener('pointermove', (e) => this.onPointer(e, 'move'));
    for (const type of ['pointerup', 'pointercancel', 'pointerleave'] as const) this.damagedCanvas.addEventListener(type, () => this.endStroke());
    this.updateKindPanels();
  }

  private get size(): number {
    return this.context?.run.shape.size ?? 32;
  }

  protected async render(context: ViewContext, signal: AbortSignal): Promise<void> {
    const { run } = context;
    this.cancel();
    this.indexInput.max = String(run.tileCount - 1);
    this.picker.setRun(run);
    this.factorSelect.replaceChildren(...downsampleFactors(run.shape.size).map((f) => new Option(`${f}x (${run.shape.size / f} px)`, String(f))));
    this.factorSelect.value = String(downsampleFactors(run.shape.size)[1] ?? downsampleFactors(run.shape.size)[0]);
    this.keep = squareHole(run.shape.size, 0.4);
    const a = context.permalink.state.a;
    const seed = context.permalink.state.seed;
    if (seed !== undefined) this.seedInput.value = String(seed);
    const start = a && 'image' in a && a.image < run.tileCount ? a.image : 0;
    if (signal.aborted) return;
    await this.chooseImage(start, false);
  }

  protected override unload(): void {
    this.cancel();
    this.clean = undefined;
    this.damaged = undefined;
  }

  /** The shell calls this when another tab opens: a restoration in flight stops, keeping what it reached. */
  deactivate(): void {
    this.cancel(true);
  }

  private async chooseImage(index: number, record = true): Promise<void> {
    const context = this.context;
    if (!context) return;
    const { run } = context;
    const i = Math.max(0, Math.min(run.tileCount - 1, Math.floor(Number.isFinite(index) ? index : 0)));
    this.image = i;
    this.indexInput.value = String(i);
    this.clean = run.tileValues(i);
    this.cleanCaption = describeChoice(run, { image: i });
    this.cleanCaptionElement.textContent = `Original: ${this.cleanCaption}`;
    if (record) context.permalink.update({ a: { image: i } });
    this.picker.setChosen({ a: { image: i } });
    await this.newImage();
  }

  private async upload(): Promise<void> {
    const file = this.uploadInput.files?.[0];
    const context = this.context;
    if (!file || !context) return;
    this.clean = await imageFileToValues(file, context.run.shape);
    this.cleanCaption = `upload: ${file.name}`;
    this.cleanCaptionElement.textContent = `Original: ${file.name}`;
    this.picker.setChosen({});
    await this.newImage();
  }

  private async newImage(): Promise<void> {
    this.cancel();
    paint(this.cleanCanvas, valuesToRgba(this.clean!, this.context!.run.shape), this.size);
    this.clearRestored();
    await this.redamage();
  }

  private setKind(kind: DamageKind): Promise<void> {
    this.kind = kind;
    this.updateKindPanels();
    return this.redamage();
  }

  private updateKindPanels(): void {
    for (const kind of ['mask', 'noise', 'downsample'] as const) this.panels[kind].hidden = kind !== this.kind;
  }

  private setMask(keep: Float32Array): Promise<void> {
    this.keep = keep;
    return this.redamage();
  }

  private currentDamage(): Damage {
    switch (this.kind) {
      case 'mask':
        return { kind: 'mask', keep: (this.keep ??= squareHole(this.size, 0.4)).slice() };
      case 'noise':
        return { kind: 'noise', sigma: Number(this.noiseInput.value), seed: Math.max(0, Math.floor(Number(this.seedInput.value) || 0)) };
      case 'downsample':
        return { kind: 'downsample', factor: Number(this.factorSelect.value) || 2 };
    }
  }

  /** Recomputes the damaged image from the clean one and the controls; the latest request wins. */
  private async redamage(): Promise<void> {
    const context = this.context;
    if (!context || !this.clean) return;
    this.cancel();
    const token = ++this.damageToken;
    this.dataset.state = 'damaging';
    const damaged = await applyDamage(this.clean, context.run.shape, this.currentDamage());
    if (token !== this.damageToken || this.context !== context) return;
    this.damaged = damaged;
    paint(this.damagedCanvas, valuesToRgba(damaged.shown, context.run.shape), this.size);
    const before = psnr(damaged.shown, this.clean);
    this.damagedPsnr.textContent = `${before.toFixed(2)} dB`;
    this.damagedPsnr.dataset.value = String(before);
    this.clearRestored();
    this.dataset.state = 'ready';
  }

  private clearRestored(): void {
    const context = this.context;
    if (!context) return;
    const blank = new Uint8ClampedArray(new ArrayBuffer(this.size * this.size * 4)).fill(0);
    paint(this.restoredCanvas, blank, this.size);
    this.restoredPsnr.textContent = '';
    delete this.restoredPsnr.dataset.value;
    this.summary.textContent = '';
  }

  // --- Painting the mask ---

  private pointerToImage(event: PointerEvent): { x: number; y: number } {
    const rect = this.damagedCanvas.getBoundingClientRect();
    return { x: ((event.clientX - rect.left) / rect.width) * this.size, y: ((event.clientY - rect.top) / rect.height) * this.size };
  }

  private onPointer(event: PointerEvent, phase: 'down' | 'move'): void {
    if (this.kind !== 'mask' || !this.clean || !this.context) return;
    if (phase === 'move' && !this.painting) return;
    event.preventDefault();
    const at = this.pointerToImage(event);
    if (phase === 'down') {
      this.damagedCanvas.setPointerCapture?.(event.pointerId);
      this.cancel();
    }
    this.keep ??= emptyMask(this.size);
    paintStroke(this.keep, this.size, this.painting ?? at, at, Number(this.brushInput.value));
    this.painting = at;
    // Immediate feedback without tfjs: the painted pixels turn grey, as the mask operator makes them.
    const shown = new Float32Array(this.clean.length);
    const channels = this.context.run.shape.channels;
    for (let i = 0; i < shown.length; i++) shown[i] = this.keep[Math.floor(i / channels)] > 0.5 ? this.clean[i] : 0;
    paint(this.damagedCanvas, valuesToRgba(shown, this.context.run.shape), this.size);
  }

  private endStroke(): void {
    if (!this.painting) return;
    this.painting = undefined;
    this.guard(() => this.redamage());
  }

  // --- Restore ---

  /** Stops a restoration in flight; only the Cancel button's stop shows the result reached so far. */
  private cancel(byUser = false): void {
    if (!this.restoring) return;
    if (byUser) this.cancelledByUser.add(this.restoring);
    this.restoring.abort();
    this.restoring = undefined;
  }

  private async runRestore(): Promise<void> {
    const context = this.context;
    if (!context || !this.clean || !this.damaged) return;
    this.cancel();
    const controller = new AbortController();
    this.restoring = controller;
    const clean = this.clean;
    const damaged = this.damaged;
    const steps = Math.max(1, Math.min(5000, Math.floor(Number(this.stepsInput.value) || restoreDefaults.steps)));
    const { run } = context;
    this.dataset.state = 'restoring';
    this.restoreButton.disabled = true;
    this.cancelButton.disabled = false;
    this.progress.max = steps;
    this.progress.value = 0;
    this.clearRestored();
    this.summary.textContent = 'Restoring…';
    const losses: number[] = [];
    const started = performance.now();
    let lastPaint = 0;
    try {
      const result = await restore(damaged, {
        model: run.model,
        shape: run.shape,
        latentDim: run.dim,
        prior: run.prior.global,
        lossConfig: run.manifest.config,
        steps,
        seed: Number(this.seedInput.value) || 1,
        signal: controller.signal,
        onStep: ({ step, loss }) => {
          losses.push(loss);
          const now = performance.now();
          // DOM updates at most ~20 times a second; the chart shows every step.
          if (now - lastPaint > 50 || step === steps) {
            lastPaint = now;
            this.progress.value = step;
            this.stepOutput.textContent = `step ${step} / ${steps}`;
            this.lossOutput.textContent = `loss ${loss.toPrecision(4)}`;
            this.rateOutput.textContent = `${((step * 1000) / (now - started)).toFixed(1)} steps/s`;
            drawLossChart(this.chart, losses);
          }
        },
      }).catch((e: unknown) => {
        // A restoration stopped because the run went away may fail on the disposed generator: nothing to report.
        if (controller.signal.aborted && !this.cancelledByUser.has(controller)) return undefined;
        throw e;
      });
      const seconds = (performance.now() - started) / 1000;
      // Stopped because the image, the damage or the run changed: that newer state owns the panels now.
      if (!result || (result.aborted && !this.cancelledByUser.has(controller))) {
        if (!this.restoring && this.dataset.state === 'restoring') this.dataset.state = 'ready';
        return;
      }
      const scores = scoreEdit(clean, damaged, result);
      paint(this.restoredCanvas, valuesToRgba(result.restored, run.shape), this.size);
      drawLossChart(this.chart, losses);
      this.progress.value = result.steps;
      this.stepOutput.textContent = `step ${result.steps} / ${steps}`;
      const rate = result.steps / Math.max(seconds, 1e-6);
      this.rateOutput.textContent = `${rate.toFixed(1)} steps/s`;
      this.rateOutput.dataset.value = String(rate);
      this.restoredPsnr.textContent = `${scores.restored.toFixed(2)} dB`;
      this.restoredPsnr.dataset.value = String(scores.restored);
      const gain = scores.restored - scores.damaged;
      const what = damaged.damage.kind === 'mask' ? ` (known pixels kept; g(z) alone ${scores.generated.toFixed(2)} dB)` : '';
      this.summary.textContent = result.aborted
        ? `Cancelled at step ${result.steps}: ${scores.restored.toFixed(2)} dB so far against ${scores.damaged.toFixed(2)} dB damaged.`
        : `Restored in ${result.steps} steps (${seconds.toFixed(1)} s): ${scores.restored.toFixed(2)} dB${what} against ${scores.damaged.toFixed(2)} dB damaged, ${gain >= 0 ? '+' : ''}${gain.toFixed(2)} dB.`;
      this.dataset.state = result.aborted ? 'cancelled' : 'done';
      if (!result.aborted) context.showNearest(result.restored, `restored ${this.cleanCaption}`);
    } finally {
      if (this.restoring === controller) this.restoring = undefined;
      this.restoreButton.disabled = false;
      this.cancelButton.disabled = true;
    }
  }
}

/** The loss per step as a line on a log scale (the loss falls by orders of magnitude at first). */
function drawLossChart(canvas: HTMLCanvasElement, losses: number[]): void {
  const context = canvas.getContext('2d');
  if (!context || losses.length === 0) return;
  const { width, height } = canvas;
  const logs = losses.map((l) => Math.log(Math.max(l, 1e-12)));
  const min = Math.min(...logs);
  const max = Math.max(...logs);
  const span = Math.max(max - min, 1e-9);
  context.clearRect(0, 0, width, height);
  context.strokeStyle = getComputedStyle(canvas).getPropertyValue('--accent').trim() || '#2456c9';
  context.lineWidth = 2;
  context.beginPath();
  logs.forEach((v, i) => {
    const x = logs.length === 1 ? 0 : (i / (logs.length - 1)) * (width - 4) + 2;
    const y = 2 + (1 - (v - min) / span) * (height - 4);
    if (i === 0) context.moveTo(x, y);
    else context.lineTo(x, y);
  });
  context.stroke();
}

customElements.define('glo-edit', GloEdit);
