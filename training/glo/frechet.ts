import { multiplyMatrices, symmetricEigen } from './linalg.ts';

/**
 * The Fréchet distance between two sets of feature vectors, each summarized by a Gaussian (Heusel et
 * al. 2017, "FID" when the features are Inception's): |mu_a - mu_b|^2 + tr(C_a) + tr(C_b) -
 * 2 tr((C_a^1/2 C_b C_a^1/2)^1/2). It is 0 for identical sets and grows with any shift of the mean or
 * change of the spread. Browser-safe: plain typed arrays, no tfjs.
 */
export interface FeatureStatistics {
  dim: number;
  count: number;
  mean: Float64Array;
  /** Row-major [dim, dim], normalized by count - 1. */
  covariance: Float64Array;
}

/** Mean and covariance of `count` rows of `dim` features (row-major). */
export function featureStatistics(features: ArrayLike<number>, dim: number): FeatureStatistics {
  const count = features.length / dim;
  if (!Number.isInteger(count) || count < 2) throw new Error(`featureStatistics: need at least 2 rows of ${dim} features, got ${features.length} values`);
  const mean = new Float64Array(dim);
  for (let r = 0; r < count; r++) for (let i = 0; i < dim; i++) mean[i] += features[r * dim + i] / count;
  const covariance = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < dim; i++) centred[i] = features[r * dim + i] - mean[i];
    for (let i = 0; i < dim; i++) {
      const ci = centred[i];
      if (ci === 0) continue;
      for (let j = i; j < dim; j++) covariance[i * dim + j] += ci * centred[j];
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = covariance[i * dim + j] / (count - 1);
      covariance[i * dim + j] = v;
      covariance[j * dim + i] = v;
    }
  }
  return { dim, count, mean, covariance };
}

/** The symmetric square root of a symmetric positive semi-definite matrix (negative rounding clipped to 0). */
function sqrtSymmetric(matrix: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, n);
  const root = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(values[k], 0));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k] * s;
      for (let j = 0; j < n; j++) root[i * n + j] += vik * vectors[j * n + k];
    }
  }
  return root;
}

export function frechetDistance(a: FeatureStatistics, b: FeatureStatistics): number {
  if (a.dim !== b.dim) throw new Error(`frechetDistance: ${a.dim}-d features against ${b.dim}-d`);
  const n = a.dim;
  let meanTerm = 0;
  let traces = 0;
  for (let i = 0; i < n; i++) {
    meanTerm += (a.mean[i] - b.mean[i]) ** 2;
    traces += a.covariance[i * n + i] + b.covariance[i * n + i];
  }
  // tr((C_a C_b)^1/2) = tr((C_a^1/2 C_b C_a^1/2)^1/2): the inner matrix is symmetric PSD, so its
  // eigenvalues are real and >= 0 and the trace of the root is the sum of their square roots.
  const rootA = sqrtSymmetric(a.covariance, n);
  const inner = multiplyMatrices(multiplyMatrices(rootA, b.covariance, n, n, n), rootA, n, n, n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = (inner[i * n + j] + inner[j * n + i]) / 2;
      inner[i * n + j] = v;
      inner[j * n + i] = v;
    }
  }
  const cross = symmetricEigen(inner, n).values.reduce((s, v) => s + Math.sqrt(Math.max(v, 0)), 0);
  return Math.max(0, meanTerm + traces - 2 * cross);
}
