import { describe, expect, it } from 'vitest';
import { featureStatistics, frechetDistance } from '../../training/glo/frechet.ts';
import { Random } from '../../training/glo/random.ts';

/** `count` rows of `dim` correlated Gaussian features: x = A e with a fixed random mixing A. */
function correlatedFeatures(count: number, dim: number, seed: number): Float32Array {
  const random = new Random(seed);
  const mixing = new Random(99).normalArray(dim * dim, 1 / Math.sqrt(dim));
  const out = new Float32Array(count * dim);
  for (let r = 0; r < count; r++) {
    const e = random.normalArray(dim);
    for (let i = 0; i < dim; i++) {
      let v = 0;
      for (let k = 0; k < dim; k++) v += mixing[i * dim + k] * e[k];
      out[r * dim + i] = v;
    }
  }
  return out;
}

describe('frechetDistance', () => {
  const dim = 16;
  const base = correlatedFeatures(2000, dim, 1);
  const stats = featureStatistics(base, dim);

  it('is 0 for identical sets', () => {
    expect(frechetDistance(stats, stats)).toBeLessThan(1e-9);
  });

  it('of a shifted copy is the squared shift (same covariance)', () => {
    const shift = Float32Array.from({ length: dim }, (_, i) => (i % 3) * 0.1);
    const shifted = base.map((v, k) => v + shift[k % dim]);
    const expected = shift.reduce((s, v) => s + v * v, 0);
    expect(frechetDistance(stats, featureStatistics(shifted, dim))).toBeCloseTo(expected, 6);
  });

  it('of a scaled copy is (1 - s)^2 tr(C): the closed form when covariances commute', () => {
    let trace = 0;
    for (let i = 0; i < dim; i++) trace += stats.covariance[i * dim + i];
    // Scaling about the mean: same mean, covariance s^2 C, so the distance is tr(C) + s^2 tr(C) - 2 s tr(C).
    const scaled = (s: number) => base.map((v, k) => stats.mean[k % dim] + s * (v - stats.mean[k % dim]));
    for (const s of [0.5, 0.9, 1.5]) {
      expect(frechetDistance(stats, featureStatistics(scaled(s), dim))).toBeCloseTo((1 - s) ** 2 * trace, 5);
    }
  });

  it('grows with a controlled perturbation, from about 0 for two draws of one distribution', () => {
    const other = featureStatistics(correlatedFeatures(2000, dim, 2), dim);
    const sameDistribution = frechetDistance(stats, other);
    // Mixing in more and more of an independent noise vector moves the covariance further away.
    const noise = new Random(5).normalArray(base.length);
    const distances = [0.25, 0.5, 1, 2].map((a) => frechetDistance(stats, featureStatistics(base.map((v, k) => v + a * noise[k]), dim)));
    expect(sameDistribution).toBeLessThan(distances[0]);
    for (let k = 1; k < distances.length; k++) expect(distances[k]).toBeGreaterThan(distances[k - 1]);
  });

  it('of two 1-D Gaussians is (mu1 - mu2)^2 + (sigma1 - sigma2)^2', () => {
    const a = featureStatistics([0, 2, 4, 6], 1); // mean 3, variance 20/3
    const b = featureStatistics([1, 2, 3, 4], 1); // mean 2.5, variance 5/3
    expect(frechetDistance(a, b)).toBeCloseTo(0.25 + (Math.sqrt(20 / 3) - Math.sqrt(5 / 3)) ** 2, 9);
  });
});
