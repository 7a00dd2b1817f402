import * as tf from '@tensorflow/tfjs-core';
import { laplacianPyramid } from '../glo/laplacian.ts';
import { sharedFloat32, sortColumns } from './column-sort.ts';
import { Random } from '../glo/random.ts';

/**
 * Sliced Wasserstein distance between two image sets on Laplacian-pyramid patches: the sample-quality
 * measure of ProGAN (Karras et al. 2018, section 5 and appendix D; their `metrics/sliced_wasserstein.py`),
 * which needs no pretrained network. Per pyramid level: 7x7 patches at random positions of every image,
 * each set's descriptors normalized per channel by that set's own mean and std, then the mean over random
 * unit directions of the 1-D Wasserstein-1 distance between the projected sets (sort both, mean |a - b|).
 * Reported x1e3, as ProGAN prints it. Lower is better; compare with the real-vs-real floor.
 */
export interface SwdOptions {
  /** Patches drawn per image and level (ProGAN: 128). */
  patchesPerImage: number;
  /** Patch side (ProGAN: 7). */
  patchSize: number;
  /** Random unit directions per repeat (ProGAN: 128). */
  directions: number;
  /** Independent direction sets averaged (ProGAN: 4). */
  repeats: number;
  /** The coarsest level, the low-pass residual, has this side (ProGAN: 16). */
  minResolution: number;
  /** Seeds patch positions and directions: the same seed gives the same positions for every set. */
  seed: number;
}

export const defaultSwdOptions: SwdOptions = { patchesPerImage: 128, patchSize: 7, directions: 128, repeats: 4, minResolution: 16, seed: 1 };

/** The descriptors of one image set: one [count * patchesPerImage, channels * patchSize^2] matrix per level, normalized. */
export interface SwdDescriptors {
  /** Side of each level, finest first. */
  resolutions: number[];
  levels: Float32Array[];
  rows: number;
  dim: number;
}

export interface SwdResult {
  resolutions: number[];
  /** x1e3 per level, finest first. */
  levels: number[];
  /** x1e3, the mean over levels. */
  mean: number;
}

/** Pyramid levels for an image side: down to minResolution (at least one level). */
export function swdResolutions(imageSize: number, minResolution = defaultSwdOptions.minResolution): number[] {
  const out = [imageSize];
  while (out.at(-1)! / 2 >= minResolution) out.push(out.at(-1)! / 2);
  return out;
}

/**
 * Descriptors of `count` NHWC images in [-1, 1] (any range works: each set is normalized). Images go
 * through the pyramid in chunks to bound memory.
 */
export function swdDescriptors(
  images: Float32Array,
  count: number,
  imageSize: number,
  channels: number,
  options: Partial<SwdOptions> = {},
): SwdDescriptors {
  const o = { ...defaultSwdOptions, ...options };
  const resolutions = swdResolutions(imageSize, o.minResolution);
  const p = o.patchSize;
  if (resolutions.at(-1)! < p) throw new Error(`SWD patches of ${p} px do not fit the ${resolutions.at(-1)} px level.`);
  const dim = channels * p * p;
  const rows = count * o.patchesPerImage;
  const levels = resolutions.map(() => new Float32Array(rows * dim));
  const random = new Random(o.seed);
  // Positions depend only on the seed and image index: identical sets give identical descriptors.
  const positions = resolutions.map((side) => Int32Array.from({ length: rows * 2 }, () => random.int(side - p + 1)));
  const ppi = imageSize * imageSize * channels;
  const chunk = 64;
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const pyramid = tf.tidy(() => laplacianPyramid(tf.tensor4d(images.subarray(start * ppi, (start + n) * ppi), [n, imageSize, imageSize, channels]), resolutions.length));
    pyramid.forEach((level, j) => {
      const side = resolutions[j];
      const planes = level.dataSync(); // [n * channels, side, side]: image-major, then channel
      const out = levels[j];
      const pos = positions[j];
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < o.patchesPerImage; k++) {
          const row = (start + i) * o.patchesPerImage + k;
          const y0 = pos[row * 2];
          const x0 = pos[row * 2 + 1];
          let d = row * dim;
          for (let c = 0; c < channels; c++) {
            const plane = (i * channels + c) * side * side;
            for (let dy = 0; dy < p; dy++) {
              const base = plane + (y0 + dy) * side + x0;
              for (let dx = 0; dx < p; dx++) out[d++] = planes[base + dx];
            }
          }
        }
      }
    });
    tf.dispose(pyramid);
  }
  for (const level of levels) normalizePerChannel(level, rows, channels, p * p);
  return { resolutions, levels, rows, dim };
}

/**
 * ProGAN's finalize_descriptors: subtract each channel's mean and divide by its std, over the whole set.
 * Two sequential passes over the rows (sums, then the shift and scale): reading one channel across all
 * rows at a time, as a first version did, took 3x as long on a 1,024-image set.
 */
export function normalizePerChannel(descriptors: Float32Array, rows: number, channels: number, perChannel: number): void {
  const dim = channels * perChannel;
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  for (let r = 0; r < rows; r++) {
    for (let c = 0, k = r * dim; c < channels; c++) {
      let s = 0;
      let q = 0;
      for (const end = k + perChannel; k < end; k++) {
        const v = descriptors[k];
        s += v;
        q += v * v;
      }
      sum[c] += s;
      sumSq[c] += q;
    }
  }
  const n = rows * perChannel;
  const mean = Float64Array.from(sum, (s) => s / n);
  const scale = Float64Array.from(sumSq, (q, c) => {
    const std = Math.sqrt(Math.max(q / n - mean[c] * mean[c], 0));
    return std > 1e-12 ? 1 / std : 1;
  });
  for (let r = 0; r < rows; r++) {
    for (let c = 0, k = r * dim; c < channels; c++) {
      const m = mean[c];
      const f = scale[c];
      for (const end = k + perChannel; k < end; k++) descriptors[k] = (descriptors[k] - m) * f;
    }
  }
}

/** `count` random unit vectors of length `dim`, as the columns of a [dim, count] row-major matrix. */
export function randomDirections(dim: number, count: number, random: Random): Float32Array {
  const d = random.normalArray(dim * count);
  for (let j = 0; j < count; j++) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += d[i * count + j] ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < dim; i++) d[i * count + j] *= inv;
  }
  return d;
}

/** Projections of every row onto every direction, sorted per direction: [directions][rows]. */
function sortedProjections(a: Float32Array, rows: number, dim: number, directions: tf.Tensor2D): Float32Array[] {
  const count = directions.shape[1];
  // One shared block, so sortColumns' helper threads can sort some of the columns.
  const block = sharedFloat32(count * rows);
  const columns = Array.from({ length: count }, (_, j) => block.subarray(j * rows, (j + 1) * rows));
  const chunk = 8192;
  for (let start = 0; start < rows; start += chunk) {
    const n = Math.min(chunk, rows - start);
    // Transposed on the backend ([directions, n]), so each direction's values are one contiguous copy.
    const projected = tf.tidy(() => tf.transpose(tf.matMul(tf.tensor2d(a.subarray(start * dim, (start + n) * dim), [n, dim]), directions)));
    const values = projected.dataSync();
    projected.dispose();
    for (let j = 0; j < count; j++) columns[j].set(values.subarray(j * n, (j + 1) * n), start);
  }
  sortColumns(block, rows, count);
  return columns;
}

/**
 * Sliced Wasserstein-1 distance between two descriptor sets with the same number of rows: for each of
 * repeats x directions random unit directions, the mean absolute difference of the sorted projections
 * (the exact 1-D W1 between equal-size empirical distributions); the mean over all directions. Not scaled.
 */
export function slicedWasserstein(a: Float32Array, b: Float32Array, rows: number, dim: number, options: Pick<SwdOptions, 'directions' | 'repeats' | 'seed'>): number {
  return slicedWassersteinAgainst(b, [a], rows, dim, options)[0];
}

/**
 * slicedWasserstein of each of `sets` against one `reference`, with the same directions for all: the
 * reference's projections are sorted once per repeat rather than once per comparison (sorting is most
 * of the cost). Each result equals slicedWasserstein(set, reference) exactly.
 */
export function slicedWassersteinAgainst(
  reference: Float32Array,
  sets: Float32Array[],
  rows: number,
  dim: number,
  options: Pick<SwdOptions, 'directions' | 'repeats' | 'seed'>,
): number[] {
  for (const x of [reference, ...sets]) {
    if (x.length !== rows * dim) throw new Error(`slicedWasserstein needs sets of ${rows} x ${dim} descriptors (got ${x.length / dim} rows).`);
  }
  const random = new Random(options.seed + 7919);
  const totals = sets.map(() => 0);
  for (let r = 0; r < options.repeats; r++) {
    const directions = tf.tensor2d(randomDirections(dim, options.directions, random), [dim, options.directions]);
    const sortedReference = sortedProjections(reference, rows, dim, directions);
    sets.forEach((set, k) => {
      const sorted = sortedProjections(set, rows, dim, directions);
      for (let j = 0; j < options.directions; j++) {
        let s = 0;
        const x = sorted[j];
        const y = sortedReference[j];
        for (let i = 0; i < rows; i++) s += Math.abs(x[i] - y[i]);
        totals[k] += s / rows;
      }
    });
    directions.dispose();
  }
  return totals.map((t) => t / (options.repeats * options.directions));
}

/** SWD x1e3 per level and averaged, between two descriptor sets made with the same options. */
export function swdBetween(a: SwdDescriptors, b: SwdDescriptors, options: Partial<SwdOptions> = {}): SwdResult {
  return swdAgainst(b, [a], options)[0];
}

/**
 * swdBetween(set, reference) for each set, sharing the reference's sorted projections (glo eval compares
 * the floor and every sampler with the same real images).
 */
export function swdAgainst(reference: SwdDescriptors, sets: SwdDescriptors[], options: Partial<SwdOptions> = {}): SwdResult[] {
  const o = { ...defaultSwdOptions, ...options };
  for (const a of sets) {
    if (a.rows !== reference.rows || a.dim !== reference.dim || a.resolutions.join() !== reference.resolutions.join()) {
      throw new Error(`SWD compares sets of the same size and shape (got ${a.rows} and ${reference.rows} patches of ${a.dim} and ${reference.dim} values).`);
    }
  }
  const perLevel = reference.levels.map((lr, j) => slicedWassersteinAgainst(lr, sets.map((a) => a.levels[j]), reference.rows, reference.dim, o));
  return sets.map((_, k) => {
    const levels = perLevel.map((values) => 1e3 * values[k]);
    return { resolutions: reference.resolutions, levels, mean: levels.reduce((s, v) => s + v, 0) / levels.length };
  });
}

/** SWD between two image sets of the same size (NHWC, [-1, 1]); see swdDescriptors and swdBetween. */
export function swd(
  a: Float32Array,
  b: Float32Array,
  count: number,
  imageSize: number,
  channels: number,
  options: Partial<SwdOptions> = {},
): SwdResult {
  return swdBetween(swdDescriptors(a, count, imageSize, channels, options), swdDescriptors(b, count, imageSize, channels, options), options);
}
