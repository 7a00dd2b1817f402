import { cholesky, multiplyMatrices, orthonormalizeColumns, symmetricEigen } from './linalg.ts';
import { project, type LatentProjection } from './latent.ts';
import { Random } from './random.ts';

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

/** The prior's covariance L L^T, row-major [dim, dim], in float64. */
export function priorCovariance(prior: GaussianPrior): Float64Array {
  const { dim, choleskyFactor: l } = prior;
  const cov = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k <= j; k++) s += l[i * dim + k] * l[j * dim + k];
      cov[i * dim + j] = s;
      cov[j * dim + i] = s;
    }
  }
  return cov;
}

/**
 * The `k` principal directions of the codes (unit vectors, largest variance first) and the standard deviation
 * along each: the axes of the site's Explore sliders. Subspace iteration on the prior's covariance, then a
 * Rayleigh-Ritz step: k d^2 work per iteration, so it stays fast in a browser for d = 512, where a full
 * eigendecomposition would take seconds.
 */
export function principalDirections(prior: GaussianPrior, k: number, iterations = 150): { directions: Float64Array[]; sigmas: number[] } {
  const { dim } = prior;
  const kk = Math.min(k, dim);
  const cov = priorCovariance(prior);
  const random = new Random(12345); // deterministic: the same run gives the same sliders
  let v = Float64Array.from({ length: dim * kk }, () => random.normal());
  orthonormalizeColumns(v, dim, kk);
  const multiply = (x: Float64Array) => multiplyMatrices(cov, x, dim, dim, kk);
  for (let t = 0; t < iterations; t++) {
    v = multiply(v);
    orthonormalizeColumns(v, dim, kk);
  }
  // Rayleigh-Ritz: the k x k projection of the covariance, diagonalized, orders and refines the basis.
  const sv = multiply(v);
  const small = new Float64Array(kk * kk);
  for (let a = 0; a < kk; a++) for (let b = 0; b < kk; b++) for (let i = 0; i < dim; i++) small[a * kk + b] += v[i * kk + a] * sv[i * kk + b];
  const { values, vectors } = symmetricEigen(small, kk);
  const directions = Array.from({ length: kk }, (_, c) => {
    const d = new Float64Array(dim);
    for (let i = 0; i < dim; i++) for (let a = 0; a < kk; a++) d[i] += v[i * kk + a] * vectors[a * kk + c];
    return d;
  });
  return { directions, sigmas: Array.from(values, (x) => Math.sqrt(Math.max(x, 0))) };
}
