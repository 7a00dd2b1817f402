/** Small image widgets shared by the views: atlas sprites for training images, canvases for generated ones. */
import { paint, valuesToRgba } from '../lib/images.ts';
import type { Choice } from '../lib/permalink.ts';
import type { LoadedRun } from '../lib/run-loader.ts';
import { h } from './view-base.ts';

/** Training image `index` as a CSS sprite of the atlas (no decoding per thumbnail), `px` on screen. */
export function sprite(run: LoadedRun, index: number, px: number): HTMLSpanElement {
  const { tileSize, columns } = run.manifest.atlas;
  const scale = px / tileSize;
  const span = h('span', { class: 'sprite', 'data-image': index });
  span.style.width = span.style.height = `${px}px`;
  span.style.backgroundImage = `url("${run.atlasUrl}")`;
  span.style.backgroundSize = `${run.atlas.width * scale}px ${run.atlas.height * scale}px`;
  span.style.backgroundPosition = `-${(index % columns) * px}px -${Math.floor(index / columns) * px}px`;
  return span;
}

/** A canvas showing image `index` of a generated batch (values in [-1, 1]). */
export function generatedCanvas(run: LoadedRun, values: ArrayLike<number>, index: number, label: string): HTMLCanvasElement {
  const canvas = h('canvas', { class: 'image', role: 'img', 'aria-label': label });
  paint(canvas, valuesToRgba(values, run.shape, index), run.shape.size);
  return canvas;
}

/** A canvas showing training image `index` from the atlas. */
export function trainingCanvas(run: LoadedRun, index: number, label: string): HTMLCanvasElement {
  const canvas = h('canvas', { class: 'image', role: 'img', 'aria-label': label });
  paint(canvas, run.tile(index), run.shape.size);
  return canvas;
}

/**
 * A chosen image as a view shows it: g(z) of its code and, when it is a training image, the training image
 * itself beside it (what the code was fitted to), so a user sees both at once.
 */
export function choiceImages(run: LoadedRun, images: ArrayLike<number>, index: number, choice: Choice, caption: string): HTMLElement {
  const generated = generatedCanvas(run, images, index, `g(z) of ${caption}`);
  if (!('image' in choice)) return h('span', { class: 'pair' }, generated);
  const training = trainingCanvas(run, choice.image, `training image ${caption}`);
  training.classList.add('training');
  return h('span', { class: 'pair', title: 'left: the training image; right: g(z), its reconstruction' }, training, generated);
}
