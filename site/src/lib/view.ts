/**
 * The contract between the app shell (glo-app) and the views (glo-reconstructions, glo-morph, glo-grid,
 * glo-sample, glo-arithmetic, glo-edit): the shell loads tfjs and a run, then sets `context` on the visible view;
 * a view renders from it and keeps its own state in the permalink. The shell also dispatches a
 * `glo-run-loaded` event (detail: LoadedRun) on document whenever a run finishes loading.
 */
import type { Choice, PermalinkStore } from './permalink.ts';
import type { LoadedRun } from './run-loader.ts';
import type { BackendName, Tf } from './tf.ts';

export interface GenerateOptions {
  /** Codes per predict() call; the page gets a frame between batches. */
  batchSize?: number;
  signal?: AbortSignal;
  /** After each batch: how many images are done, of how many, and the output so far (images [0, done) are filled). */
  onBatch?: (done: number, total: number, images: Float32Array) => void;
}

export interface ViewContext {
  run: LoadedRun;
  tf: Tf;
  backend: BackendName;
  permalink: PermalinkStore;
  /** g(codes) for codes [n, dim]: NHWC values in [-1, 1], in batches that keep the page responsive. */
  generate(codes: Float32Array, options?: GenerateOptions): Promise<Float32Array>;
  /** The code of a chosen image: the training image's row, or a class's mean code. */
  codeOf(choice: Choice): Float32Array;
  /** Feeds the "nearest training images" panel with the image in focus (values [size, size, channels] in [-1, 1]). */
  showNearest(values: Float32Array, caption: string): void;
  /** Shows an error in the page (and never leaves it unhandled). */
  reportError(error: unknown): void;
}

/** A view element: the shell sets `context` when the view becomes visible with a run, undefined when unloaded. */
export interface GloView extends HTMLElement {
  context: ViewContext | undefined;
}

export const runLoadedEvent = 'glo-run-loaded';
/** A view asks the shell to open another (detail: the view's name), after writing what it hands over to the permalink. */
export const showViewEvent = 'glo-show-view';
/** A view hands an image to Edit (detail: { values, caption }). */
export const editImageEvent = 'glo-edit-image';

/** Thrown (and ignored by reportError) when a newer request superseded the one in flight. */
export class Superseded extends Error {
  override name = 'Superseded';
}
