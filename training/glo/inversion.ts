import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { sampleGaussian, type GaussianPrior } from './gaussian.ts';
import { perImageLoss, type LossConfig } from './laplacian.ts';
import { project, type LatentProjection } from './latent.ts';
import { yieldToEventLoop } from './interrupt.ts';
import { Random } from './random.ts';

/**
 * Inverse problems with a trained GLO generator (the paper's "z loss", docs/architecture.md section 1):
 *
 *     min_z  loss(A g(z), y) + R(z),   z in the unit ball, g FROZEN
 *
 * where y is a damaged observation of an unknown clean image x (y = A x, plus noise for denoising) and
 * A is a known degradation: identity (fit a new image), a keep-mask (inpainting), additive noise
 * (denoising: A is the identity, the noise is in y) or an average-pooling downsample (super-resolution).
 * R(z) pulls the code towards the codes the generator was trained on (the Gaussian prior).
 */

/**
 * Images per invert() call when many images are fitted one batch after another (glo eval's held-out fits,
 * the trainer's final code pass): 256 at 32 px, 64 from 64 px on. Each image's code moves as if fitted
 * alone, so the batch only sets the speed: at 32 px the generator's first layers are tiny and a batch of
 * 256 runs them far better (measured on all emoji at 32 px: 125 ms per image and fit against 173 ms in
 * batches of 64, the same PSNR within 0.02 dB). The bound keeps a fit's largest activation set (with eval's
 * 8 prior starts scored at once, 9 x 256 images at 32 px) near 300 MB whatever the image size.
 */
export function inversionBatchSize(imageSize: number): number {
  return Math.max(64, Math.floor((256 * 32 * 32) / (imageSize * imageSize)));
}

/** A known degradation A. All images are NHWC in the generator's [-1, 1] range. */
export interface DegradationOperator {
  readonly kind: 'identity' | 'mask' | 'noise' | 'downsample';
  /** The noise-free forward model A, differentiable: applied to g(z) inside the optimization. */
  forward(images: tf.Tensor4D): tf.Tensor4D;
  /** The damaged observation y of clean images (A x, plus the seeded noise for `noise`). */
  degrade(images: tf.Tensor4D): tf.Tensor4D;
  /** An observation shown at the clean image's size (for display and for PSNR against the clean image). */
  toImage(observation: tf.Tensor4D): tf.Tensor4D;
  /** A keeps the image size, so the Laplacian-pyramid loss applies to A g(z). */
  readonly fullSize: boolean;
}

/** A = I: fit a code to a new (e.g. uploaded) image. */
export function identityOperator(): DegradationOperator {
  return {
    kind: 'identity',
    fullSize: true,
    forward: (images) => tf.clone(images),
    degrade: (images) => tf.clone(images),
    toImage: (observation) => tf.clone(observation),
  };
}

/**
 * Inpainting: A x = keep * x, with `keep` 1 where a pixel is known and 0 where it was removed (painted
 * over), shaped [h, w] (one mask for every image and channel) as h*w values. Removed pixels read 0, the
 * middle grey of [-1, 1], which is also how the damaged image is shown.
 */
export function maskOperator(keep: Float32Array, height: number, width: number): DegradationOperator {
  if (keep.length !== height * width) {
    throw new Error(`maskOperator: the mask has ${keep.length} values, expected height * width = ${height * width}.`);
  }
  const apply = (images: tf.Tensor4D) =>
    tf.tidy(() => {
      const [, h, w] = images.shape;
      if (h !== height || w !== width) throw new Error(`maskOperator: mask is ${height}x${width}, images are ${h}x${w}.`);
      return tf.mul(images, tf.tensor4d(keep, [1, height, width, 1])) as tf.Tensor4D;
    });
  return { kind: 'mask', fullSize: true, forward: apply, degrade: apply, toImage: (o) => tf.clone(o) };
}

/**
 * Denoising: y = clip(x + sigma * eps), eps ~ N(0, I) drawn from the seeded PRNG (the same damage on every
 * backend). sigma is in [-1, 1] units (0.2 = 10% of the pixel range). A itself is the identity.
 */
export function noiseOperator(sigma: number, seed = 1): DegradationOperator {
  return {
    kind: 'noise',
    fullSize: true,
    forward: (images) => tf.clone(images),
    degrade: (images) =>
      tf.tidy(() => {
        const noise = new Random(seed).normalArray(images.size, sigma);
        return tf.clipByValue(tf.add(images, tf.tensor(noise, images.shape)), -1, 1) as tf.Tensor4D;
      }),
    toImage: (observation) => tf.clone(observation),
  };
}

/**
 * Super-resolution: A = average pooling by `factor` (each low-resolution pixel is the mean of a
 * factor x factor block, a box-filter camera model). Shown at full size by nearest-neighbour upsampling.
 */
export function downsampleOperator(factor: number): DegradationOperator {
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`downsampleOperator: factor must be a positive integer, got ${factor}.`);
  const forward = (images: tf.Tensor4D) => {
    const [, h, w] = images.shape;
    if (h % factor !== 0 || w % factor !== 0) {
      throw new Error(`downsampleOperator: image size ${h}x${w} is not divisible by the factor ${factor}.`);
    }
    return factor === 1 ? tf.clone(images) : tf.avgPool(images, factor, factor, 'valid');
  };
  return {
    kind: 'downsample',
    fullSize: false,
    forward,
    degrade: forward,
    toImage: (observation) => {
      const [, h, w] = observation.shape;
      return tf.image.resizeNearestNeighbor(observation, [h * factor, w * factor]);
    },
  };
}

/** How to start the codes: the prior mean (zero without a prior), the best of a few prior samples, or given codes. */
export type InversionInit = 'mean' | { multiStart: number } | Float32Array;

export interface InvertOptions {
  /** The trained generator; it is only read (inference-mode BatchNorm), never updated. */
  generator: tfl.LayersModel;
  /** The observation y, [n, h', w', c] in [-1, 1] (h', w' = A's output size). The caller keeps ownership. */
  target: tf.Tensor4D;
  operator: DegradationOperator;
  latentDim: number;
  steps: number;
  /** Adam step size on z (default 0.05), or SGD's (the paper uses 10 on its summed loss). */
  learningRate?: number;
  optimizer?: 'adam' | 'sgd';
  /**
   * 'constant' (default), or 'cosine': step k of K uses learningRate * (1 + cos(pi k / K)) / 2, large
   * moves first and small ones at the end, for a fixed step budget (glo eval's fits).
   */
  schedule?: 'constant' | 'cosine';
  /** Weight of R(z); 0 turns the prior term off. Default 0.01. */
  priorWeight?: number;
  /** The run's Gaussian prior: R(z) = priorWeight * |L^-1 (z - mean)|^2 / d (squared Mahalanobis per dimension). */
  prior?: GaussianPrior;
  /** 'mahalanobis' (default with a prior) or 'euclidean': |z - mean|^2 / d (mean = 0 without a prior). */
  priorDistance?: 'mahalanobis' | 'euclidean';
  /** 'l2' (default), or the run's loss config (lap1, lap1+l2) for operators that keep the image size. */
  loss?: 'l2' | LossConfig;
  init?: InversionInit;
  projection?: LatentProjection;
  /** Seeds the multi-start samples. */
  seed?: number;
  signal?: AbortSignal;
  /** Called every `reportEvery` steps (and after the last); awaited, so a UI can render between steps. */
  onStep?: (progress: InversionProgress) => void | Promise<void>;
  reportEvery?: number;
  /** Yields to the event loop every this many steps so a page stays responsive (default 1). */
  yieldEvery?: number;
}

export interface InversionProgress {
  step: number;
  steps: number;
  /** Objective per image (data term + prior term) at this step. */
  loss: number;
}

export interface InversionResult {
  /** The optimized codes [n, latentDim]. */
  codes: Float32Array;
  /** g(codes), [n, h, w, c] values in [-1, 1]: the restored images. */
  restored: Float32Array;
  restoredShape: [number, number, number, number];
  /** Objective per image before each step (index 0 = at the initial codes) and after the last. */
  lossHistory: number[];
  /** Steps taken (fewer than asked when aborted). */
  steps: number;
  aborted: boolean;
}

/**
 * Optimizes codes so that A g(z) matches the observation, with the generator frozen: gradients are
 * taken with respect to z only (tf.variableGrads over [z]), the generator runs in inference mode, and
 * after every step z is projected into the latent set the generator was trained on (unit ball). The
 * objective sums over images, so each image's code moves as if it were inverted alone.
 * On abort the codes reached so far are returned with `aborted: true`. Leaves no tensors behind.
 */
export async function invert(options: InvertOptions): Promise<InversionResult> {
  const { generator, target, operator, latentDim, steps, signal, onStep } = options;
  const n = target.shape[0];
  const loss = options.loss ?? 'l2';
  if (loss !== 'l2' && !operator.fullSize) {
    throw new Error(`invert: the ${loss.loss} loss needs a full-size observation; use loss 'l2' with the ${operator.kind} operator.`);
  }
  const reportEvery = Math.max(1, options.reportEvery ?? 1);
  const yieldEvery = Math.max(1, options.yieldEvery ?? 1);
  const objective = makeObjective(options);

  const initial = await initialCodes(options, objective);
  const start = tf.tensor2d(initial, [n, latentDim]);
  const z = tf.variable(start, true);
  start.dispose(); // the variable keeps its own reference to the data
  const learningRate = options.learningRate ?? 0.05;
  const optimizer = options.optimizer === 'sgd' ? tf.train.sgd(learningRate) : tf.train.adam(learningRate);
  const projection = options.projection ?? 'ball';
  const lossHistory: number[] = [];
  let step = 0;
  let aborted = false;
  try {
    for (; step < steps; step++) {
      if (signal?.aborted) {
        aborted = true;
        break;
      }
      if (options.schedule === 'cosine') setLearningRate(optimizer, learningRate * (1 + Math.cos((Math.PI * step) / steps)) / 2);
      const value = optimizer.minimize(() => tf.div(tf.sum(objective(z)), n) as tf.Scalar, true, [z]);
      const lossValue = (await value!.data())[0];
      value!.dispose();
      lossHistory.push(lossValue);
      tf.tidy(() => z.assign(projectCodes(z, projection)));
      if (onStep && ((step + 1) % reportEvery === 0 || step + 1 === steps)) {
        await onStep({ step: step + 1, steps, loss: lossValue });
      }
      if ((step + 1) % yieldEvery === 0) await yieldToEventLoop();
    }
    // The objective at the final codes completes the history (lossHistory[k] = before step k).
    const final = tf.tidy(() => tf.sum(objective(z)));
    lossHistory.push((await final.data())[0] / n);
    final.dispose();
    const codes = (await z.data()) as Float32Array;
    const image = tf.tidy(() => generator.apply(z, { training: false }) as tf.Tensor4D);
    const restored = (await image.data()) as Float32Array;
    const restoredShape = image.shape as [number, number, number, number];
    image.dispose();
    return { codes: Float32Array.from(codes), restored, restoredShape, lossHistory, steps: step, aborted };
  } finally {
    optimizer.dispose();
    z.dispose();
  }
}

/**
 * tfjs's Adam reads its step size from this (protected) field at every step; SGD caches it, behind
 * setLearningRate. (Told apart by the method: tfjs's optimizer classes answer `instanceof` by duck typing.)
 */
function setLearningRate(optimizer: tf.Optimizer, value: number): void {
  const sgd = optimizer as unknown as { setLearningRate?: (rate: number) => void; learningRate: number };
  if (typeof sgd.setLearningRate === 'function') sgd.setLearningRate(value);
  else sgd.learningRate = value;
}

/** z / max(|z|, 1) (or z / |z|) row by row, as tensors (the same set as projectToUnitBall). */
function projectCodes(z: tf.Tensor2D, projection: LatentProjection): tf.Tensor2D {
  const norms = tf.norm(z, 'euclidean', 1, true);
  const divisor = projection === 'ball' ? tf.maximum(norms, 1) : tf.maximum(norms, 1e-12);
  return tf.div(z, divisor);
}

/** Per-image objective [n]: data term on A g(z) plus the prior term. */
type Objective = (z: tf.Tensor2D) => tf.Tensor1D;

function makeObjective(options: InvertOptions): Objective {
  const { generator, target, operator, latentDim } = options;
  const loss = options.loss ?? 'l2';
  const priorWeight = options.priorWeight ?? 0.01;
  const prior = priorTerm(options.prior, options.priorDistance, latentDim);
  return (z) =>
    tf.tidy(() => {
      const observed = operator.forward(generator.apply(z, { training: false }) as tf.Tensor4D);
      const targets = z.shape[0] === target.shape[0] ? target : tf.tile(target, [z.shape[0] / target.shape[0], 1, 1, 1]);
      const data = perImageLoss(observed, targets as tf.Tensor4D, loss);
      return priorWeight > 0 ? (tf.add(data, tf.mul(prior(z), priorWeight)) as tf.Tensor1D) : data;
    });
}

/**
 * R(z) per code, [n], before its weight. With the full-covariance prior, the squared Mahalanobis
 * distance |L^-1 (z - mean)|^2 (the Gaussian's negative log-likelihood up to constants) divided by d,
 * so a typical code of the prior costs about 1 whatever the latent size.
 */
function priorTerm(prior: GaussianPrior | undefined, distance: InvertOptions['priorDistance'], dim: number) {
  const mean = prior ? Float32Array.from(prior.mean) : new Float32Array(dim);
  if (prior && prior.dim !== dim) throw new Error(`invert: the prior has dimension ${prior.dim}, the generator takes ${dim}.`);
  const whitening = prior && (distance ?? 'mahalanobis') === 'mahalanobis' ? lowerTriangularInverse(prior.choleskyFactor, dim) : undefined;
  return (z: tf.Tensor2D) =>
    tf.tidy(() => {
      let centred: tf.Tensor2D = tf.sub(z, tf.tensor2d(mean, [1, dim]));
      // Rows of z are row vectors: (L^-1 c)^T = c^T L^-T.
      if (whitening) centred = tf.matMul(centred, tf.transpose(tf.tensor2d(whitening, [dim, dim])));
      return tf.div(tf.sum(tf.square(centred), 1), dim) as tf.Tensor1D;
    });
}

/** L^-1 of a row-major lower-triangular [dim, dim] factor, by forward substitution in float64. */
export function lowerTriangularInverse(factor: ArrayLike<number>, dim: number): Float32Array {
  const inv = new Float64Array(dim * dim);
  for (let col = 0; col < dim; col++) {
    for (let i = col; i < dim; i++) {
      let s = i === col ? 1 : 0;
      for (let k = col; k < i; k++) s -= factor[i * dim + k] * inv[k * dim + col];
      inv[i * dim + col] = s / factor[i * dim + i];
    }
  }
  return Float32Array.from(inv);
}

/**
 * The starting codes [n, d]. Multi-start draws `multiStart` codes per image from the prior (or
 * N(0, I/d) without one), adds the mean, and keeps each image's candidate with the lowest objective:
 * gradient descent through a generator is non-convex, and a good start matters more than more steps.
 */
async function initialCodes(options: InvertOptions, objective: Objective): Promise<Float32Array> {
  const { init = 'mean', latentDim: dim, target, prior } = options;
  const n = target.shape[0];
  const projection = options.projection ?? 'ball';
  const mean = prior ? Float32Array.from(prior.mean) : new Float32Array(dim);
  if (init instanceof Float32Array) {
    if (init.length !== n * dim) throw new Error(`invert: init has ${init.length} values, expected ${n} x ${dim}.`);
    const codes = init.slice();
    project(codes, dim, projection);
    return codes;
  }
  const means = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) means.set(mean, i * dim);
  if (init === 'mean') {
    if (projection === 'sphere') project(means, dim, projection);
    return means;
  }
  const k = Math.max(0, Math.floor(init.multiStart));
  const random = new Random(options.seed ?? 1);
  // Candidate block c (0 = the mean) holds one code per image: rows c*n .. c*n + n - 1.
  const candidates = new Float32Array((k + 1) * n * dim);
  candidates.set(means);
  if (k > 0) {
    const samples = prior ? sampleGaussian(prior, k * n, random, { projection }) : random.normalArray(k * n * dim, 1 / Math.sqrt(dim));
    if (!prior) project(samples, dim, projection);
    candidates.set(samples, n * dim);
  }
  if (projection === 'sphere') project(candidates, dim, projection);
  const scoresTensor = tf.tidy(() => objective(tf.tensor2d(candidates, [(k + 1) * n, dim])));
  // Asynchronous read-back: on webgl/webgpu a synchronous one would block the page.
  const scores = await scoresTensor.data();
  scoresTensor.dispose();
  const codes = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c <= k; c++) if (scores[c * n + i] < scores[best * n + i]) best = c;
    codes.set(candidates.subarray((best * n + i) * dim, (best * n + i + 1) * dim), i * dim);
  }
  return codes;
}
