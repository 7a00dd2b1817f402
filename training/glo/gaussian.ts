import { cholesky } from './linalg.ts';
import { project, type LatentProjection } from './latent.ts';
import type { Random } from './random.ts';

/** A full-covariance Gaussian over codes: the paper's way to sample new images from a trained GLO. */
export interface GaussianPrior {
  mean: number[];
  /** Lower-triangular Cholesky factor of the covariance, row-major [dim, dim]. */
  choleskyFactor: number[];
  dim: number;
  count: number;
  /** Diagonal jitter added to make the covariance factorizable (0 when it already was). */
  jitter: number;
}

/** Fits mean and covariance (unbiased, float64) of the given rows of a latent table. */
export function fitGaussian(table: Float32Array, dim: number, rows?: ArrayLike<number>): GaussianPrior {
  const indices = rows ?? Array.from({ length: table.length / dim }, (_, i) => i);
  const count = indices.length;
  if (count < 1) throw new Error('fitGaussian needs at least one code.');
  const mean = new Float64Array(dim);
  for (let r = 0; r < count; r++) for (let i = 0; i < dim; i++) mean[i] += table[indices[r] * dim + i] / count;
  const cov = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < dim; i++) centred[i] = table[indices[r] * dim + i] - mean[i];
    for (let i = 0; i < dim; i++) {
      const ci = centred[i];
      for (let j = 0; j <= i; j++) cov[i * dim + j] += ci * centred[j];
    }
  }
  const denominator = Math.max(count - 1, 1);
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j <= i; j++) {
      cov[i * dim + j] /= denominator;
      cov[j * dim + i] = cov[i * dim + j];
    }
  }
  const { factor, jitter } = cholesky(cov, dim);
  return { mean: Array.from(mean), choleskyFactor: Array.from(factor), dim, count, jitter };
}

/**
 * `n` codes mean + temperature * L eps with eps ~ N(0, I), projected into the latent set. Temperature
 * below 1 trades diversity for typicality (as in the site's sampler).
 */
export function sampleGaussian(
  prior: GaussianPrior,
  n: number,
  random: Random,
  options: { temperature?: number; projection?: LatentProjection } = {},
): Float32Array {
  const { dim, mean, choleskyFactor: l } = prior;
  const temperature = options.temperature ?? 1;
  const out = new Float32Array(n * dim);
  const eps = new Float64Array(dim);
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < dim; i++) eps[i] = random.normal();
    for (let i = 0; i < dim; i++) {
      let v = 0;
      for (let k = 0; k <= i; k++) v += l[i * dim + k] * eps[k];
      out[s * dim + i] = mean[i] + temperature * v;
    }
  }
  project(out, dim, options.projection ?? 'ball');
  return out;
}
