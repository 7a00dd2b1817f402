/**
 * The image chooser the morph, grid and arithmetic views share: a gallery of training images (click one to put it
 * in the active slot), search by label or number, random picks, and (labelled runs) class means. The view owns the
 * choices; the picker reports clicks through `onPick`.
 */
import { describeChoice, searchImages } from '../lib/choices.ts';
import type { Choice } from '../lib/permalink.ts';
import type { LoadedRun } from '../lib/run-loader.ts';
import { sprite } from './thumbnails.ts';
import { h } from './view-base.ts';

export type Slot = 'a' | 'b' | 'c' | 'd';

export interface PickerOptions {
  slots: { slot: Slot; label: string }[];
  /** Offer class means (labelled runs only). */
  classMeans?: boolean;
  onPick: (slot: Slot, choice: Choice) => void;
  /** Random choices for every slot at once. */
  onRandom: () => void;
}

const perPage = 48;

export class Picker {
  readonly element: HTMLFieldSetElement;
  private active: Slot;
  private page = 0;
  private matches: number[] = [];
  private readonly gallery: HTMLElement;
  private readonly search: HTMLInputElement;
  private readonly pageLabel: HTMLElement;
  private readonly previous: HTMLButtonElement;
  private readonly next: HTMLButtonElement;
  private readonly classRow: HTMLElement;
  private run: LoadedRun | undefined;
  private chosen: Partial<Record<Slot, Choice>> = {};

  constructor(private readonly id: string, private readonly options: PickerOptions) {
    this.active = options.slots[0].slot;
    const slotRadios = options.slots.map(({ slot, label }) => {
      const radio = h('input', { type: 'radio', name: `${id}-slot`, value: slot, checked: slot === this.active });
      radio.addEventListener('change', () => (this.active = slot));
      return h('label', {}, radio, label);
    });
    this.search = h('input', { type: 'search', placeholder: 'e.g. animals, 12', 'data-search': true });
    this.search.addEventListener('input', () => {
      this.page = 0;
      this.refresh();
    });
    const random = h('button', { type: 'button', 'data-action': 'random' }, 'Random');
    random.addEventListener('click', () => options.onRandom());
    this.previous = h('button', { type: 'button', 'aria-label': 'Previous gallery page' }, '←');
    this.next = h('button', { type: 'button', 'aria-label': 'Next gallery page' }, '→');
    this.previous.addEventListener('click', () => this.turn(-1));
    this.next.addEventListener('click', () => this.turn(1));
    this.pageLabel = h('span', { class: 'hint', 'aria-live': 'polite' });
    this.gallery = h('div', { class: 'gallery', role: 'group', 'aria-label': 'Training images' });
    this.classRow = h('div', { class: 'toolbar', hidden: true });
    this.element = h(
      'fieldset',
      { class: 'picker' },
      h('legend', {}, 'Choose images'),
      h('div', { class: 'toolbar', role: 'radiogroup', 'aria-label': 'Clicking an image sets' }, h('span', {}, 'Clicking an image sets:'), ...slotRadios),
      h('div', { class: 'toolbar' }, h('label', {}, 'Search by label or number', this.search), random),
      this.classRow,
      h('div', { class: 'toolbar' }, this.previous, this.pageLabel, this.next),
      this.gallery,
    );
  }

  /**
   * The view calls this on every render; only a new run resets the search and the page (a pick re-renders the
   * view, and the gallery must stay where the user was).
   */
  setRun(run: LoadedRun): void {
    if (run === this.run) {
      this.refresh();
      return;
    }
    this.run = run;
    this.page = 0;
    this.search.value = '';
    this.classRow.replaceChildren();
    this.classRow.hidden = !(this.options.classMeans && run.classes);
    if (this.options.classMeans && run.classes) {
      const select = h('select', { 'data-class-select': true }, ...run.classes.map((name, c) => new Option(name, String(c))));
      const buttons = this.options.slots.map(({ slot, label }) => {
        const button = h('button', { type: 'button', 'data-class-to': slot }, `Class mean as ${label}`);
        button.addEventListener('click', () => this.options.onPick(slot, { classMean: Number(select.value) }));
        return button;
      });
      this.classRow.append(h('label', {}, 'Class', select), ...buttons);
    }
    this.refresh();
  }

  /** Marks the chosen images in the gallery (aria-pressed). */
  setChosen(chosen: Partial<Record<Slot, Choice>>): void {
    this.chosen = chosen;
    this.gallery.querySelectorAll<HTMLButtonElement>('button[data-image]').forEach((b) => this.mark(b));
  }

  private mark(button: HTMLButtonElement): void {
    const index = Number(button.dataset.image);
    const slots = Object.entries(this.chosen).filter(([, c]) => c && 'image' in c && c.image === index).map(([s]) => s.toUpperCase());
    button.setAttribute('aria-pressed', String(slots.length > 0));
    button.title = slots.length ? `chosen as ${slots.join(', ')}` : '';
  }

  /** After a pick the next slot becomes active (A, then B, ...), so choosing a pair is two clicks. */
  private advance(): void {
    const slots = this.options.slots.map((s) => s.slot);
    this.active = slots[(slots.indexOf(this.active) + 1) % slots.length];
    const radio = this.element.querySelector<HTMLInputElement>(`input[name="${this.id}-slot"][value="${this.active}"]`);
    if (radio) radio.checked = true;
  }

  private turn(delta: number): void {
    const pages = Math.max(1, Math.ceil(this.matches.length / perPage));
    this.page = Math.min(pages - 1, Math.max(0, this.page + delta));
    this.refresh();
  }

  private refresh(): void {
    const run = this.run;
    if (!run) return;
    this.matches = searchImages(run, this.search.value);
    const pages = Math.max(1, Math.ceil(this.matches.length / perPage));
    this.page = Math.min(this.page, pages - 1);
    const shown = this.matches.slice(this.page * perPage, (this.page + 1) * perPage);
    this.pageLabel.textContent = this.matches.length ? `${this.matches.length} images, page ${this.page + 1} of ${pages}` : 'No image matches.';
    this.previous.disabled = this.page === 0;
    this.next.disabled = this.page >= pages - 1;
    this.gallery.replaceChildren(
      ...shown.map((i) => {
        const button = h('button', { type: 'button', 'data-image': i, 'aria-label': `Choose ${describeChoice(run, { image: i })}` }, sprite(run, i, 40));
        button.addEventListener('click', () => {
          this.options.onPick(this.active, { image: i });
          this.advance();
        });
        this.mark(button);
        return button;
      }),
    );
  }
}
