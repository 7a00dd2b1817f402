/**
 * Step 2 of <glo-edit>: which damage to apply (a painted mask, seeded noise, downsampling) and its settings,
 * and painting the mask on the damaged image with the mouse, pen or finger. It owns the controls and the mask;
 * the view asks it for the current Damage and hears `onChange` whenever the damaged image must be recomputed.
 */
import { downsampleFactors, emptyMask, paintStroke, squareHole, type Damage, type DamageKind } from '../../lib/edit.ts';
import { paint, valuesToRgba, type ImageShape } from '../../lib/images.ts';
import { decodeMask, encodeMask, type PermalinkState } from '../../lib/permalink.ts';
import { h } from '../view-base.ts';

const KINDS = ['mask', 'noise', 'downsample'] as const;
const KIND_LABELS: Record<DamageKind, string> = {
  mask: 'Paint a mask (inpainting)',
  noise: 'Add noise (denoising)',
  downsample: 'Downsample (super-resolution)',
};

export interface DamageControlsHooks {
  /** The damage changed (kind, settings, a finished stroke): recompute the damaged image. */
  onChange: () => void;
  /** A stroke began: a restoration in flight is now stale. */
  onStrokeStart: () => void;
}

export class DamageControls {
  readonly element: HTMLFieldSetElement;
  kind: DamageKind = 'mask';
  private shape: ImageShape = { size: 32, channels: 3 };
  /** 1 where a pixel is known, 0 where the mask hides it; [size * size]. */
  private keep: Float32Array | undefined;
  private painting: { x: number; y: number } | undefined;
  private readonly kindInputs: HTMLInputElement[];
  private readonly brushInput: HTMLInputElement;
  private readonly noiseInput: HTMLInputElement;
  private readonly seedInput: HTMLInputElement;
  private readonly factorSelect: HTMLSelectElement;
  private readonly panels: Record<DamageKind, HTMLElement>;

  constructor(private readonly hooks: DamageControlsHooks) {
    const id = (name: string) => `edit-${name}`;
    this.kindInputs = KINDS.map((kind) => h('input', { type: 'radio', name: 'edit-damage', value: kind, id: id(`kind-${kind}`), checked: kind === this.kind }));
    this.brushInput = h('input', { type: 'range', id: id('brush'), min: 1, max: 8, step: 0.5, value: 2.5 });
    const hole = h('button', { type: 'button', 'data-hole': true }, 'Square hole');
    const clear = h('button', { type: 'button', 'data-clear-mask': true }, 'Clear mask');
    this.noiseInput = h('input', { type: 'range', id: id('noise'), min: 0.05, max: 1, step: 0.05, value: 0.4, 'data-noise': true });
    this.seedInput = h('input', { type: 'number', id: id('seed'), min: 0, value: 1, style: 'width: 5em' });
    this.factorSelect = h('select', { id: id('factor'), 'data-factor': true });
    this.panels = {
      mask: h('div', { class: 'toolbar' }, h('label', { for: id('brush') }, 'Brush', this.brushInput), hole, clear, h('span', { class: 'hint' }, 'Paint on the damaged image.')),
      noise: h('div', { class: 'toolbar' }, h('label', { for: id('noise') }, 'Noise σ', this.noiseInput), h('label', { for: id('seed') }, 'Seed', this.seedInput)),
      downsample: h('div', { class: 'toolbar' }, h('label', { for: id('factor') }, 'Factor', this.factorSelect)),
    };
    this.element = h(
      'fieldset',
      { role: 'radiogroup', 'aria-label': 'Damage' },
      h('legend', {}, '2. Damage'),
      ...this.kindInputs.map((input) => h('label', { for: input.id, class: 'option' }, input, KIND_LABELS[input.value as DamageKind])),
      this.panels.mask,
      this.panels.noise,
      this.panels.downsample,
    );

    for (const input of this.kindInputs) {
      input.addEventListener('change', () => {
        if (!input.checked) return;
        this.kind = input.value as DamageKind;
        this.updatePanels();
        hooks.onChange();
      });
    }
    hole.addEventListener('click', () => this.setMask(squareHole(this.shape.size, 0.4)));
    clear.addEventListener('click', () => this.setMask(emptyMask(this.shape.size)));
    for (const input of [this.noiseInput, this.seedInput, this.factorSelect]) input.addEventListener('change', () => hooks.onChange());
    this.noiseInput.addEventListener('input', () => hooks.onChange());
    this.updatePanels();
  }

  /** A new run: its downsampling factors, then the damage the permalink holds (else a square hole). */
  setRun(shape: ImageShape, state: PermalinkState): void {
    this.shape = shape;
    const factors = downsampleFactors(shape.size);
    this.factorSelect.replaceChildren(...factors.map((f) => new Option(`${f}x (${shape.size / f} px)`, String(f))));
    this.factorSelect.value = String(state.factor !== undefined && factors.includes(state.factor) ? state.factor : (factors[1] ?? factors[0]));
    this.keep = (state.mask !== undefined ? decodeMask(state.mask, shape.size * shape.size) : undefined) ?? squareHole(shape.size, 0.4);
    if (state.seed !== undefined) this.seedInput.value = String(state.seed);
    if (state.noise !== undefined) this.noiseInput.value = String(state.noise);
    this.kind = state.damage ?? 'mask';
    for (const input of this.kindInputs) input.checked = input.value === this.kind;
    this.updatePanels();
  }

  /** What the permalink keeps of the damage: its kind and settings (the mask only when it is the damage). */
  permalinkState(): Pick<PermalinkState, 'damage' | 'noise' | 'factor' | 'mask' | 'seed'> {
    return {
      damage: this.kind,
      noise: this.kind === 'noise' ? Number(this.noiseInput.value) : undefined,
      factor: this.kind === 'downsample' ? Number(this.factorSelect.value) : undefined,
      mask: this.kind === 'mask' && this.keep ? encodeMask(this.keep) : undefined,
      seed: this.seed,
    };
  }

  get seed(): number {
    return Math.max(0, Math.floor(Number(this.seedInput.value) || 0));
  }

  current(): Damage {
    switch (this.kind) {
      case 'mask':
        return { kind: 'mask', keep: (this.keep ??= squareHole(this.shape.size, 0.4)).slice() };
      case 'noise':
        return { kind: 'noise', sigma: Number(this.noiseInput.value), seed: this.seed };
      case 'downsample':
        return { kind: 'downsample', factor: Number(this.factorSelect.value) || 2 };
    }
  }

  /** Lets the mask be painted on `canvas` (the damaged image) over `clean()`, the image being damaged. */
  attachPainting(canvas: HTMLCanvasElement, clean: () => Float32Array | undefined): void {
    const toImage = (event: PointerEvent) => {
      const rect = canvas.getBoundingClientRect();
      return { x: ((event.clientX - rect.left) / rect.width) * this.shape.size, y: ((event.clientY - rect.top) / rect.height) * this.shape.size };
    };
    const onPointer = (event: PointerEvent, phase: 'down' | 'move') => {
      const image = clean();
      if (this.kind !== 'mask' || !image) return;
      if (phase === 'move' && !this.painting) return;
      event.preventDefault();
      const at = toImage(event);
      if (phase === 'down') {
        canvas.setPointerCapture?.(event.pointerId);
        this.hooks.onStrokeStart();
      }
      const { size, channels } = this.shape;
      this.keep ??= emptyMask(size);
      paintStroke(this.keep, size, this.painting ?? at, at, Number(this.brushInput.value));
      this.painting = at;
      // Immediate feedback without tfjs: the painted pixels turn grey, as the mask operator makes them.
      const shown = new Float32Array(image.length);
      for (let i = 0; i < shown.length; i++) shown[i] = this.keep[Math.floor(i / channels)] > 0.5 ? image[i] : 0;
      paint(canvas, valuesToRgba(shown, this.shape), size);
    };
    canvas.addEventListener('pointerdown', (e) => onPointer(e, 'down'));
    canvas.addEventListener('pointermove', (e) => onPointer(e, 'move'));
    for (const type of ['pointerup', 'pointercancel', 'pointerleave'] as const) {
      canvas.addEventListener(type, () => {
        if (!this.painting) return;
        this.painting = undefined;
        this.hooks.onChange();
      });
    }
  }

  private setMask(keep: Float32Array): void {
    this.keep = keep;
    this.hooks.onChange();
  }

  private updatePanels(): void {
    for (const kind of KINDS) this.panels[kind].hidden = kind !== this.kind;
  }
}
