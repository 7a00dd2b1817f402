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
import { applyDamage, imageFileToValues, restore, scoreEdit, type Damaged } from '../lib/edit.ts';
import { downloadName, paint, psnr, valuesToRgba } from '../lib/images.ts';
import type { ViewContext } from '../lib/view.ts';
import { DamageControls } from './edit/damage-controls.ts';
import { RestorePanel } from './edit/restore-panel.ts';
import { Picker } from './picker.ts';
import { h, ViewElement } from './view-base.ts';
import { DownloadControl } from './download.ts';
import { formatChoice } from '../lib/permalink.ts';

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
  private damaged: Damaged | undefined;
  private damageToken = 0;
  private restoring: AbortController | undefined;
  /** A picture handed over by another view before this one had rendered (see useImage). */
  private handedOver: { values: Float32Array; caption: string } | undefined;
  private cancelledByUser = new WeakSet<AbortController>();

  // The three steps' controls and the three images, created in build().
  private indexInput!: HTMLInputElement;
  private uploadInput!: HTMLInputElement;
  private picker!: Picker;
  private damage!: DamageControls;
  private restorePanel!: RestorePanel;
  private cleanCanvas!: HTMLCanvasElement;
  private damagedCanvas!: HTMLCanvasElement;
  private restoredCanvas!: HTMLCanvasElement;
  private cleanCaptionElement!: HTMLElement;
  private damagedPsnr!: HTMLOutputElement;
  private restoredPsnr!: HTMLOutputElement;
  private summary!: HTMLParagraphElement;
  private exploreButton!: HTMLButtonElement;
  /** The code the last finished restoration fitted (of an upload, too): what "Explore this code" hands on. */
  private fittedCode: Float32Array | undefined;

  protected build(): void {
    this.dataset.state = 'idle';
    this.indexInput = h('input', { type: 'number', id: 'edit-index', min: 0, value: 0, 'data-image-index': true });
    this.uploadInput = h('input', { type: 'file', id: 'edit-upload', accept: 'image/*', 'data-upload': true });
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
      h('label', { for: 'edit-index' }, 'Training image #', this.indexInput),
      h('label', { for: 'edit-upload' }, 'Or upload a picture', this.uploadInput),
      h('span', { class: 'hint' }, 'You can also drop a picture on this page or paste one (Ctrl+V).'),
      h('span', { class: 'hint' }, 'Uploads are centre-cropped and resized to the run\'s size; a link cannot carry an upload (it keeps the damage and steps).'),
    );
    this.damage = new DamageControls({
      // The damage, its settings and the noise seed (which also seeds the restoration's starts) go into the
      // permalink, so a shared link reproduces the damaged image.
      onChange: () => {
        this.context?.permalink.update(this.damage.permalinkState());
        this.guard(() => this.redamage());
      },
      onStrokeStart: () => this.cancel(),
    });
    this.restorePanel = new RestorePanel();
    const download = new DownloadControl('restoration', () => {
      const context = this.context;
      if (!context) return undefined;
      const { damage = 'mask', noise, factor, seed, a } = context.permalink.state;
      const source = this.cleanCaption.startsWith('image ') && a ? `image${formatChoice(a)}` : 'picture';
      return {
        canvases: [this.cleanCanvas, this.damagedCanvas, this.restoredCanvas],
        columns: 3,
        name: downloadName(context.run.manifest.runId, 'edit', [source, damage, noise !== undefined ? `sigma${noise}` : undefined, factor !== undefined ? `x${factor}` : undefined, seed !== undefined ? `seed${seed}` : undefined]),
      };
    }, (e) => this.context?.reportError(e));
    this.restorePanel.onStepsChange((iters) => this.context?.permalink.update({ iters }));

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
      h('div', { class: 'toolbar' }, this.summary, download.element, (this.exploreButton = h('button', { type: 'button', 'data-action': 'explore-code', disabled: true }, 'Explore this code'))),
      h('div', { class: 'edit-controls' }, source, this.damage.element, this.restorePanel.element),
      this.picker.element,
    );

    this.indexInput.addEventListener('change', () => this.guard(() => this.chooseImage(Number(this.indexInput.value))));
    this.uploadInput.addEventListener('change', () => this.guard(() => this.upload(this.uploadInput.files?.[0])));
    // Drop a picture anywhere on the view, or paste one while it is open.
    this.addEventListener('dragover', (event) => {
      if (!event.dataTransfer?.types.includes('Files')) return;
      event.preventDefault();
      this.classList.add('dropping');
    });
    this.addEventListener('dragleave', () => this.classList.remove('dropping'));
    this.addEventListener('drop', (event) => {
      this.classList.remove('dropping');
      const file = imageFile(event.dataTransfer?.files);
      if (!file) return;
      event.preventDefault();
      this.guard(() => this.upload(file));
    });
    document.addEventListener('paste', (event) => {
      if (this.closest('[hidden]') || !this.context) return;
      const file = imageFile(event.clipboardData?.files);
      if (!file) return;
      event.preventDefault();
      this.guard(() => this.upload(file));
    });
    this.damage.attachPainting(this.damagedCanvas, () => (this.context ? this.clean : undefined));
    this.restorePanel.restoreButton.addEventListener('click', () => this.guard(() => this.runRestore()));
    // The fitted code (an uploaded picture's, say) as Explore's start: its sliders then move from it.
    this.exploreButton.addEventListener('click', () => {
      if (this.fittedCode && this.context) this.handOver('explore', { a: { code: this.fittedCode }, from: 'image', x: undefined });
    });
    this.restorePanel.cancelButton.addEventListener('click', () => this.cancel(true));
  }

  private get size(): number {
    return this.context?.run.shape.size ?? 32;
  }

  protected async render(context: ViewContext, signal: AbortSignal): Promise<void> {
    const { run } = context;
    this.cancel();
    this.indexInput.max = String(run.tileCount - 1);
    this.picker.setRun(run);
    this.damage.setRun(run.shape, context.permalink.state);
    if (context.permalink.state.iters !== undefined) this.restorePanel.requestedSteps = context.permalink.state.iters;
    const a = context.permalink.state.a;
    const start = a && 'image' in a && a.image < run.tileCount ? a.image : 0;
    if (signal.aborted) return;
    const handed = this.handedOver;
    this.handedOver = undefined;
    if (handed) await this.usePicture(handed.values, handed.caption);
    else await this.chooseImage(start, false);
  }

  /** Another view's image (e.g. Explore's) as the picture to damage and restore, like an upload. */
  useImage(values: Float32Array, caption: string): void {
    if (!this.context || this.dataset.state === 'idle') {
      this.handedOver = { values, caption };
      return;
    }
    this.guard(() => this.usePicture(values, caption));
  }

  private async usePicture(values: Float32Array, caption: string): Promise<void> {
    this.clean = values;
    this.cleanCaption = caption;
    this.cleanCaptionElement.textContent = `Original: ${caption}`;
    this.picker.setChosen({});
    await this.newImage();
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
    this.indexInput.value = String(i);
    this.clean = run.tileValues(i);
    this.cleanCaption = describeChoice(run, { image: i });
    this.cleanCaptionElement.textContent = `Original: ${this.cleanCaption}`;
    if (record) context.permalink.update({ a: { image: i } });
    this.picker.setChosen({ a: { image: i } });
    await this.newImage();
  }

  private async upload(file: File | undefined): Promise<void> {
    const context = this.context;
    if (!file || !context) return;
    await this.usePicture(await imageFileToValues(file, context.run.shape), `upload: ${file.name}`);
  }

  private async newImage(): Promise<void> {
    this.cancel();
    paint(this.cleanCanvas, valuesToRgba(this.clean!, this.context!.run.shape), this.size);
    this.clearRestored();
    await this.redamage();
  }

  /** Recomputes the damaged image from the clean one and the controls; the latest request wins. */
  private async redamage(): Promise<void> {
    const context = this.context;
    if (!context || !this.clean) return;
    this.cancel();
    const token = ++this.damageToken;
    this.dataset.state = 'damaging';
    const damaged = await applyDamage(this.clean, context.run.shape, this.damage.current());
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
    if (!this.context) return;
    this.fittedCode = undefined;
    this.exploreButton.disabled = true;
    const blank = new Uint8ClampedArray(new ArrayBuffer(this.size * this.size * 4)).fill(0);
    paint(this.restoredCanvas, blank, this.size);
    this.restoredPsnr.textContent = '';
    delete this.restoredPsnr.dataset.value;
    this.summary.textContent = '';
  }

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
    const { run } = context;
    this.dataset.state = 'restoring';
    const steps = this.restorePanel.begin();
    this.clearRestored();
    this.summary.textContent = 'Restoring…';
    try {
      const result = await restore(damaged, {
        model: run.model,
        shape: run.shape,
        latentDim: run.dim,
        prior: run.prior.global,
        lossConfig: run.manifest.config,
        steps,
        seed: this.damage.seed || 1,
        signal: controller.signal,
        onStep: ({ step, loss }) => this.restorePanel.step(step, loss),
      }).catch((e: unknown) => {
        // A restoration stopped because the run went away may fail on the disposed generator: nothing to report.
        if (controller.signal.aborted && !this.cancelledByUser.has(controller)) return undefined;
        throw e;
      });
      const seconds = this.restorePanel.seconds;
      // Stopped because the image, the damage or the run changed: that newer state owns the panels now.
      if (!result || (result.aborted && !this.cancelledByUser.has(controller))) {
        if (!this.restoring && this.dataset.state === 'restoring') this.dataset.state = 'ready';
        return;
      }
      const scores = scoreEdit(clean, damaged, result);
      paint(this.restoredCanvas, valuesToRgba(result.restored, run.shape), this.size);
      this.restorePanel.finish(result.steps);
      this.restoredPsnr.textContent = `${scores.restored.toFixed(2)} dB`;
      this.restoredPsnr.dataset.value = String(scores.restored);
      const gain = scores.restored - scores.damaged;
      const what = damaged.damage.kind === 'mask' ? ` (known pixels kept; g(z) alone ${scores.generated.toFixed(2)} dB)` : '';
      this.summary.textContent = result.aborted
        ? `Cancelled at step ${result.steps}: ${scores.restored.toFixed(2)} dB so far against ${scores.damaged.toFixed(2)} dB damaged.`
        : `Restored in ${result.steps} steps (${seconds.toFixed(1)} s): ${scores.restored.toFixed(2)} dB${what} against ${scores.damaged.toFixed(2)} dB damaged, ${gain >= 0 ? '+' : ''}${gain.toFixed(2)} dB.`;
      this.dataset.state = result.aborted ? 'cancelled' : 'done';
      if (!result.aborted) {
        context.showNearest(result.restored, `restored ${this.cleanCaption}`);
        this.fittedCode = result.code;
        this.exploreButton.disabled = false;
      }
    } finally {
      if (this.restoring === controller) this.restoring = undefined;
      this.restorePanel.end();
    }
  }
}

/** The first image among dropped or pasted files. */
function imageFile(files: FileList | undefined | null): File | undefined {
  return Array.from(files ?? []).find((f) => f.type.startsWith('image/'));
}

customElements.define('glo-edit', GloEdit);
