import type { Dataset } from './dataset.ts';
import { Random } from '../glo/random.ts';
import type { HoldoutFile } from '../glo/run-files.ts';
import { valuesPerImage } from '../glo/pixels.ts';

/** Images set aside before PCA and training, and where they were in the loaded dataset. */
export interface HoldoutSet {
  fraction: number;
  dataset: Dataset;
  /** Position of each held-out image in the dataset as loaded (before the split), ascending. */
  sourceIndices: Int32Array;
}


/** round(fraction * count), at least 1 when the fraction is positive, always leaving 2 to train on. */
export function holdoutCount(count: number, fraction: number): number {
  if (!(fraction > 0)) return 0;
  const wanted = Math.max(1, Math.round(fraction * count));
  if (count - wanted < 2) throw new Error(`--holdout ${fraction} leaves ${count - wanted} of ${count} images to train on: use a smaller fraction or more images.`);
  return wanted;
}

function subset(dataset: Dataset, rows: ArrayLike<number>): Dataset {
  const ppi = valuesPerImage(dataset);
  const pixels = new Uint8Array(rows.length * ppi);
  const names: string[] = [];
  for (let r = 0; r < rows.length; r++) {
    pixels.set(dataset.pixels.subarray(rows[r] * ppi, (rows[r] + 1) * ppi), r * ppi);
    names.push(dataset.names[rows[r]]);
  }
  const out: Dataset = { ...dataset, count: rows.length, pixels, names };
  if (dataset.labels) out.labels = { classes: dataset.labels.classes, index: Int32Array.from(rows, (i) => dataset.labels!.index[i]) };
  return out;
}

/**
 * Splits the loaded images into the training set and a held-out set chosen by seed (its own RNG stream,
 * so the split does not shift the shuffle or the init). Both keep the loaded order; `train` is what
 * PCA, the codes and the generator ever see, so latent row i is train image i as before.
 */
export function splitHoldout(dataset: Dataset, fraction: number | undefined, seed: number): { train: Dataset; holdout?: HoldoutSet } {
  const n = holdoutCount(dataset.count, fraction ?? 0);
  if (n === 0) return { train: dataset };
  const chosen = Array.from(new Random(seed + 5).permutation(dataset.count).subarray(0, n)).sort((a, b) => a - b);
  const isHeld = new Uint8Array(dataset.count);
  for (const i of chosen) isHeld[i] = 1;
  const trainRows = Array.from({ length: dataset.count }, (_, i) => i).filter((i) => !isHeld[i]);
  return {
    train: subset(dataset, trainRows),
    holdout: { fraction: fraction!, dataset: subset(dataset, chosen), sourceIndices: Int32Array.from(chosen) },
  };
}

export function holdoutFile(holdout: HoldoutSet): HoldoutFile {
  const file: HoldoutFile = { names: holdout.dataset.names, sourceIndices: Array.from(holdout.sourceIndices) };
  if (holdout.dataset.labels) file.labels = Array.from(holdout.dataset.labels.index);
  return file;
}
