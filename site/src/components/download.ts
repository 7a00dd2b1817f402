/**
 * The PNG download every view offers: a scale (nearest-neighbour, so pixels stay honest) and a button. The view
 * says which canvases make the picture (read back as drawn, so the file is exactly what is on screen), how they
 * are laid out, and the file's name (the run and the state that reproduces it).
 */
import { downloadPng, readCanvas, tileRgba } from '../lib/images.ts';
import { h } from './view-base.ts';

export interface DownloadSpec {
  /** The canvases of the picture, in order; all of one size (the run's image size). */
  canvases: HTMLCanvasElement[];
  /** Tiles per row. */
  columns: number;
  /** File name, from downloadName(). */
  name: string;
}

const SCALES = [1, 2, 4, 8];

export class DownloadControl {
  readonly element: HTMLElement;
  private readonly scale: HTMLSelectElement;

  constructor(what: string, private readonly spec: () => DownloadSpec | undefined, onError: (e: unknown) => void) {
    this.scale = h('select', { 'aria-label': `Scale of the ${what} PNG`, 'data-download-scale': true }, ...SCALES.map((s) => new Option(`${s}x`, String(s))));
    this.scale.value = '4';
    const button = h('button', { type: 'button', 'data-action': 'download' }, `Download ${what} (PNG)`);
    button.addEventListener('click', () => this.download().catch(onError));
    this.element = h('span', { class: 'download' }, button, this.scale);
  }

  private async download(): Promise<void> {
    const spec = this.spec();
    if (!spec || spec.canvases.length === 0) return;
    const size = spec.canvases[0].width;
    const gap = spec.canvases.length > 1 ? 2 : 0;
    const { rgba, width, height } = tileRgba(spec.canvases.map((c) => new Uint8ClampedArray(readCanvas(c))), size, Math.min(spec.columns, spec.canvases.length), gap);
    await downloadPng(rgba, width, height, spec.name, Number(this.scale.value));
  }
}
