/**
 * <glo-morph>: walk from one image's code to another's. A slider for t, lerp or slerp, play/pause, an N-step strip
 * and its PNG download. g(z(t)) at t = 0 and t = 1 are the two reconstructions (the test checks this).
 */
import { lerp, slerp } from '../../../training/glo/latent.ts';
import { choicesFor, concatCodes, describeChoice, randomChoices } from '../lib/choices.ts';
import { latestOnly } from '../lib/generate.ts';
import { downloadName, paint, valuesToRgba } from '../lib/images.ts';
import { formatChoice } from '../lib/permalink.ts';
import type { ViewContext } from '../lib/view.ts';
import { DownloadControl } from './download.ts';
import { Picker } from './picker.ts';
import { choiceImages, generatedCanvas } from './thumbnails.ts';
import { h, ViewElement } from './view-base.ts';

export class GloMorph extends ViewElement {
  private picker!: Picker;
  private endpoints!: HTMLElement;
  private slider!: HTMLInputElement;
  private tOutput!: HTMLOutputElement;
  private steps!: HTMLInputElement;
  private play!: HTMLButtonElement;
  private frame!: HTMLCanvasElement;
  private strip!: HTMLElement;
  private stripValues: Float32Array | undefined;
  private playing = false;
  private renderFrame!: (t: number) => Promise<void>;

  protected build(): void {
    this.picker = new Picker('morph', {
      slots: [
        { slot: 'a', label: 'A' },
        { slot: 'b', label: 'B' },
      ],
      onPick: (slot, choice) => this.update({ [slot]: choice }),
      onRandom: () => this.context && this.update(randomChoices(this.context.run, ['a', 'b'])),
    });
    this.endpoints = h('div', { class: 'choices' });
    this.slider = h('input', { type: 'range', min: 0, max: 1, step: 0.01, value: 0.5, 'data-morph-t': true });
    this.tOutput = h('output', {});
    this.steps = h('input', { type: 'number', min: 2, max: 32, value: 8, 'data-morph-steps': true });
    this.play = h('button', { type: 'button', 'aria-pressed': 'false', 'data-action': 'play' }, 'Play');
    const download = new DownloadControl('strip', () => this.context && {
      canvases: Array.from(this.strip.querySelectorAll('canvas')),
      columns: this.strip.childElementCount,
      name: downloadName(this.context.run.manifest.runId, 'morph', this.stateParts()),
    }, (e) => this.context?.reportError(e));
    download.element.querySelector('button')!.dataset.action = 'download-strip';
    const modes = (['slerp', 'lerp'] as const).map((mode) => {
      const radio = h('input', { type: 'radio', name: 'morph-mode', value: mode, checked: mode === 'slerp' });
      radio.addEventListener('change', () => this.update({ mode }));
      return h('label', {}, radio, mode === 'slerp' ? 'slerp (spherical)' : 'lerp (linear)');
    });
    this.frame = h('canvas', { class: 'image', role: 'img', 'aria-label': 'Morph frame', 'data-morph-frame': true });
    this.strip = h('div', { class: 'strip', role: 'group', 'aria-label': 'Morph strip' });

    this.slider.addEventListener('input', () => {
      this.stop();
      this.tOutput.value = Number(this.slider.value).toFixed(2);
      void this.renderFrame(Number(this.slider.value));
    });
    this.slider.addEventListener('change', () => this.context?.permalink.update({ t: Number(this.slider.value) }));
    this.steps.addEventListener('change', () => this.update({ steps: Math.min(32, Math.max(2, Math.round(Number(this.steps.value)) || 8)) }));
    this.play.addEventListener('click', () => (this.playing ? this.stop() : this.start()));
    this.renderFrame = latestOnly((t) => this.paintFrame(t), (e) => this.context?.reportError(e));

    this.append(
      this.picker.element,
      this.endpoints,
      h('fieldset', {}, h('legend', {}, 'Interpolation'), ...modes),
      h('div', { class: 'toolbar' }, h('label', {}, 'Position t', this.slider), this.tOutput, this.play),
      h('div', { class: 'big' }, this.frame),
      h('div', { class: 'toolbar' }, h('label', {}, 'Strip steps', this.steps), download.element),
      this.strip,
    );
  }


  private codes(context: ViewContext): { a: Float32Array; b: Float32Array; mode: 'lerp' | 'slerp' } {
    const { a, b } = choicesFor(context.run, context.permalink.state, ['a', 'b']);
    return { a: context.codeOf(a), b: context.codeOf(b), mode: context.permalink.state.mode ?? 'slerp' };
  }

  protected async render(context: ViewContext, signal: AbortSignal): Promise<void> {
    const { run, permalink } = context;
    const state = permalink.state;
    const choices = choicesFor(run, state, ['a', 'b']);
    this.picker.setRun(run);
    this.picker.setChosen(choices);
    const t = state.t ?? 0.5;
    this.slider.value = String(t);
    this.tOutput.value = t.toFixed(2);
    this.steps.value = String(state.steps ?? 8);
    this.querySelectorAll<HTMLInputElement>('input[name=morph-mode]').forEach((r) => (r.checked = r.value === (state.mode ?? 'slerp')));
    this.dataset.state = 'rendering';

    const { a, b, mode } = this.codes(context);
    const ends = await context.generate(concatCodes([a, b]), { signal });
    this.endpoints.replaceChildren(
      ...(['a', 'b'] as const).map((slot, k) =>
        h('figure', { class: 'choice', 'data-endpoint': slot }, choiceImages(run, ends, k, choices[slot], `${slot.toUpperCase()}: ${describeChoice(run, choices[slot])}`), h('figcaption', {}, `${slot.toUpperCase()}: ${describeChoice(run, choices[slot])}`)),
      ),
    );
    await this.paintFrame(t, signal);

    const steps = state.steps ?? 8;
    const f = mode === 'lerp' ? lerp : slerp;
    const codes = concatCodes(Array.from({ length: steps }, (_, i) => f(a, b, i / (steps - 1))));
    this.stripValues = await context.generate(codes, { signal, batchSize: 8 });
    this.strip.replaceChildren(...Array.from({ length: steps }, (_, i) => generatedCanvas(run, this.stripValues!, i, `step ${i + 1} of ${steps}, t = ${(i / (steps - 1)).toFixed(2)}`)));
    this.dataset.state = 'ready';
  }

  private async paintFrame(t: number, signal?: AbortSignal): Promise<void> {
    const context = this.context;
    if (!context) return;
    const { a, b, mode } = this.codes(context);
    const code = (mode === 'lerp' ? lerp : slerp)(a, b, t);
    const values = await context.generate(code, { signal });
    paint(this.frame, valuesToRgba(values, context.run.shape), context.run.shape.size);
    this.frame.dataset.t = String(t);
    this.frame.setAttribute('aria-label', `Morph frame at t = ${t.toFixed(2)}`);
    if (!this.playing) context.showNearest(values, `morph frame at t = ${t.toFixed(2)}`);
  }

  /** Ping-pong animation of t; each frame waits for the generator, so it runs as fast as the backend allows. */
  private start(): void {
    if (!this.context) return;
    this.playing = true;
    this.play.textContent = 'Pause';
    this.play.setAttribute('aria-pressed', 'true');
    let t = Number(this.slider.value);
    let direction = 1;
    let last = performance.now();
    const tick = async () => {
      while (this.playing && this.context) {
        const now = performance.now();
        t += (direction * (now - last)) / 2500;
        last = now;
        if (t >= 1 || t <= 0) {
          t = Math.min(1, Math.max(0, t));
          direction = -direction;
        }
        this.slider.value = String(t);
        this.tOutput.value = t.toFixed(2);
        await this.paintFrame(t);
        await new Promise(requestAnimationFrame);
      }
    };
    tick().catch((e) => {
      this.stop();
      this.context?.reportError(e);
    });
  }

  private stop(): void {
    if (!this.playing) return;
    this.playing = false;
    this.play.textContent = 'Play';
    this.play.setAttribute('aria-pressed', 'false');
    this.context?.permalink.update({ t: Math.round(Number(this.slider.value) * 1000) / 1000 });
  }

  deactivate(): void {
    this.stop();
  }

  protected override unload(): void {
    this.stop();
  }

  /** The state that reproduces the strip, for the file name: A, B, the interpolation and the steps. */
  private stateParts(): string[] {
    const { run, permalink } = this.context!;
    const choices = choicesFor(run, permalink.state, ['a', 'b']);
    return [`a${formatChoice(choices.a)}`, `b${formatChoice(choices.b)}`, permalink.state.mode ?? 'slerp', `${permalink.state.steps ?? 8}steps`];
  }
}

customElements.define('glo-morph', GloMorph);
