/**
 * Chosen images (training images or class means) as codes, labels and search results. Works on the plain parts of
 * a LoadedRun, so Node tests can call it with a hand-made run.
 */
import { meanCode, stackRows } from '../../../training/glo/latent.ts';
import type { Choice } from './permalink.ts';

export interface ChoiceSource {
  latents: Float32Array;
  dim: number;
  count: number;
  tileCount: number;
  labels?: Int32Array;
  classes?: string[];
}

const classMeans = new WeakMap<Float32Array, Map<number, Float32Array>>();

/** Members (image indices) of class `c`. */
export function classMembers(run: ChoiceSource, c: number): number[] {
  const members: number[] = [];
  run.labels?.forEach((label, i) => {
    if (label === c) members.push(i);
  });
  return members;
}

/** Is the choice possible in this run (index in range, class exists)? */
export function validChoice(run: ChoiceSource, choice: Choice | undefined): choice is Choice {
  if (!choice) return false;
  if ('image' in choice) return choice.image >= 0 && choice.image < run.tileCount;
  if ('code' in choice) return choice.code.length === run.dim;
  return !!run.classes && choice.classMean >= 0 && choice.classMean < run.classes.length && classMembers(run, choice.classMean).length > 0;
}

/** The code of a choice: the image's row, or the mean code of its class (cached per run). */
export function codeOf(run: ChoiceSource, choice: Choice): Float32Array {
  if ('image' in choice) return run.latents.slice(choice.image * run.dim, (choice.image + 1) * run.dim);
  if ('code' in choice) return Float32Array.from(choice.code);
  let cache = classMeans.get(run.latents);
  if (!cache) classMeans.set(run.latents, (cache = new Map()));
  let mean = cache.get(choice.classMean);
  if (!mean) cache.set(choice.classMean, (mean = meanCode(run.latents, run.dim, classMembers(run, choice.classMean))));
  return mean;
}

export function labelOf(run: ChoiceSource, image: number): string | undefined {
  return run.labels && run.classes ? run.classes[run.labels[image]] : undefined;
}

/** "image 12 (Smileys & Emotion)" or "mean of Animals & Nature". */
export function describeChoice(run: ChoiceSource, choice: Choice): string {
  if ('code' in choice) return 'a code from another view';
  if ('classMean' in choice) return `mean of ${run.classes?.[choice.classMean] ?? `class ${choice.classMean}`}`;
  const label = labelOf(run, choice.image);
  return label ? `image ${choice.image} (${label})` : `image ${choice.image}`;
}

/**
 * Images whose index or class name matches `query` (case-insensitive substring; "12" also finds image 12).
 * An empty query matches every image.
 */
export function searchImages(run: ChoiceSource, query: string): number[] {
  const q = query.trim().toLowerCase();
  const all = Array.from({ length: run.tileCount }, (_, i) => i);
  if (!q) return all;
  const classHits = new Set((run.classes ?? []).flatMap((name, c) => (name.toLowerCase().includes(q) ? [c] : [])));
  return all.filter((i) => String(i) === q || (run.labels !== undefined && classHits.has(run.labels[i])));
}

export type ChoiceSlot = 'a' | 'b' | 'c' | 'd';

/**
 * The choices a view works on: those in the permalink when valid for this run, otherwise images spread over the
 * run (slot k of n gets image floor(k * tileCount / n)), so every view shows something at first load.
 */
export function choicesFor(run: ChoiceSource, state: Partial<Record<ChoiceSlot, Choice>>, slots: ChoiceSlot[]): Record<ChoiceSlot, Choice> {
  const out = {} as Record<ChoiceSlot, Choice>;
  slots.forEach((slot, k) => {
    const wanted = state[slot];
    out[slot] = validChoice(run, wanted) ? wanted : { image: Math.floor((k * run.tileCount) / slots.length) };
  });
  return out;
}

/** Distinct random images for the slots (fewer images than slots: repeats). */
export function randomChoices(run: ChoiceSource, slots: ChoiceSlot[], random: () => number = Math.random): Record<ChoiceSlot, Choice> {
  const out = {} as Record<ChoiceSlot, Choice>;
  const used = new Set<number>();
  for (const slot of slots) {
    let i = Math.floor(random() * run.tileCount);
    for (let tries = 0; used.has(i) && tries < 20; tries++) i = Math.floor(random() * run.tileCount);
    used.add(i);
    out[slot] = { image: i };
  }
  return out;
}

/** Codes stacked into one [n, dim] array (what generate() takes). */
export const concatCodes = (codes: Float32Array[]): Float32Array => stackRows(codes);

/**
 * The images of page `page` when `count` images are shown `size` a page: every P-th image (P the number of
 * pages), starting at `page`. The first page thus spans the whole dataset (datasets are often sorted by class,
 * and the first 24 emoji are all keycaps), and the pages together show every image once.
 */
export function pageImages(count: number, size: number, page: number): number[] {
  const pages = Math.max(1, Math.ceil(count / size));
  return Array.from({ length: size }, (_, k) => k * pages + page).filter((i) => i < count);
}
