import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { fitGaussian, principalDirections, priorCovariance, sampleGaussian } from '../../training/glo/gaussian.ts';
import { cholesky, symmetricEigen } from '../../training/glo/linalg.ts';
import { fitPca, pcaDecode, pcaEncode, type PcaModel } from '../../training/glo/pca.ts';
import { Random } from '../../training/glo/random.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('symmetricEigen and cholesky', () => {
  it('reconstruct the matrix', () => {
    const n = 6;
    const r = new Random(1);
    const b = Float64Array.from(r.normalArray(n * n));
    const a = new Float64Array(n * n); // B B^T + I: symmetric positive definite
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      for (let k = 0; k < n; k++) a[i * n + j] += b[i * n + k] * b[j * n + k];
      if (i === j) a[i * n + j] += 1;
    }
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 1; i < n; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1]);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[i * n + k] * values[k] * vectors[j * n + k];
      expect(s).toBeCloseTo(a[i * n + j], 8);
    }
    const { factor, jitter } = cholesky(a, n);
    expect(jitter).toBe(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += factor[i * n + k] * factor[j * n + k];
      expect(s).toBeCloseTo(a[i * n + j], 8);
    }
  });
});

describe('cholesky of a zero matrix (a prior fitted to identical codes)', () => {
  it('adds a small absolute jitter instead of failing', () => {
    const { factor, jitter } = cholesky(new Float64Array(9), 3);
    expect(jitter).toBeGreaterThan(0);
    expect(jitter).toBeLessThan(1e-6);
    expect(factor[0]).toBeCloseTo(Math.sqrt(jitter), 12);
  });
});

describe('PCA by randomized SVD', () => {
  it('matches an exact eigendecomposition of the covariance on a small matrix', async () => {
    const count = 40;
    const d = 12;
    const k = 4;
    const random = new Random(7);
    // Low-rank structure plus noise, as uint8 pixels.
    const basis = random.normalArray(k * d);
    const pixels = new Uint8Array(count * d);
    for (let n = 0; n < count; n++) {
      const w = random.normalArray(k);
      for (let i = 0; i < d; i++) {
        let v = 0;
        for (let j = 0; j < k; j++) v += w[j] * basis[j * d + i] * (k - j);
        pixels[n * d + i] = Math.max(0, Math.min(255, Math.round(128 + 12 * v + 2 * random.normal())));
      }
    }
    const model = await fitPca(pixels, count, d, k, new Random(8));
    // Exact: eigen of the centred scatter matrix X^T X.
    const x = Float64Array.from(pixels, (p) => p / 127.5 - 1);
    const mean = new Float64Array(d);
    for (let n = 0; n < count; n++) for (let i = 0; i < d; i++) mean[i] += x[n * d + i] / count;
    const scatter = new Float64Array(d * d);
    for (let n = 0; n < count; n++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
      scatter[i * d + j] += (x[n * d + i] - mean[i]) * (x[n * d + j] - mean[j]);
    }
    const exact = symmetricEigen(scatter, d);
    for (let c = 0; c < k; c++) {
      expect(model.singularValues[c]).toBeCloseTo(Math.sqrt(exact.values[c]), 3);
      // Same direction up to sign.
      let dot = 0;
      for (let i = 0; i < d; i++) dot += model.components[c * d + i] * exact.vectors[i * d + c];
      expect(Math.abs(dot)).toBeCloseTo(1, 4);
    }
    // Encoding then decoding equals projecting onto the top-k subspace.
    const codes = pcaEncode(model, pixels, count);
    const recon = pcaDecode(model, codes, count);
    let err = 0;
    let total = 0;
    for (let i = 0; i < recon.length; i++) {
      err += (recon[i] - x[i]) ** 2;
      total += (x[i] - mean[i % d]) ** 2;
    }
    let tail = 0;
    for (let c = k; c < d; c++) tail += exact.values[c];
    expect(err).toBeCloseTo(tail, 2);
    expect(err).toBeLessThan(total);
  });

  it('stops at the first of its interrupt checks that throws, leaving no tensors behind', async () => {
    const pixels = Uint8Array.from({ length: 64 * 48 }, (_, i) => (i * 37) % 256);
    const before = tf.memory().numTensors;
    let checks = 0;
    const stop = new Error('interrupted');
    const interrupt = async () => {
      if (++checks === 3) throw stop;
    };
    await expect(fitPca(pixels, 64, 48, 8, new Random(1), { interrupt })).rejects.toBe(stop);
    expect(checks).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('decodes more than 2^24 distinct values (the paper preset: 3,786 images at 64 px), in chunks', () => {
    // 2,500 images of 64 x 64 x 3 = 30.7 M values, about 25 M of them distinct as float32: tf.tidy walking a
    // returned typed array puts every distinct value in a Set, which V8 caps at 2^24 entries ("Set maximum size
    // exceeded").
    const count = 2500;
    const d = 64 * 64 * 3;
    const k = 2;
    const random = new Random(5);
    const components = Float32Array.from({ length: k * d }, () => random.normal());
    const mean = Float32Array.from({ length: d }, () => random.normal());
    const model: PcaModel = { componentCount: k, pixelsPerImage: d, components, mean, singularValues: new Float64Array(k) };
    const codes = Float32Array.from({ length: count * k }, () => random.normal());
    const recon = pcaDecode(model, codes, count);
    expect(recon.length).toBe(count * d);
    for (const n of [0, 1023, 1024, 2048, count - 1]) {
      for (const i of [0, 1, d - 1]) {
        const expected = mean[i] + codes[n * k] * components[i] + codes[n * k + 1] * components[d + i];
        expect(recon[n * d + i]).toBeCloseTo(expected, 4);
      }
    }
  });
});

describe('Gaussian prior', () => {
  it('samples have the fitted mean and covariance (L L^T)', () => {
    const dim = 3;
    const random = new Random(9);
    // Codes with a known correlation structure, small enough that projection does not clip them.
    const count = 4000;
    const table = new Float32Array(count * dim);
    for (let n = 0; n < count; n++) {
      const a = random.normal();
      const b = random.normal();
      table[n * dim] = 0.1 * a + 0.2;
      table[n * dim + 1] = 0.05 * a + 0.05 * b;
      table[n * dim + 2] = 0.08 * b - 0.1;
    }
    const prior = fitGaussian(table, dim);
    expect(prior.mean[0]).toBeCloseTo(0.2, 2);
    const samples = sampleGaussian(prior, 20000, new Random(10));
    const refit = fitGaussian(samples, dim);
    const cov = (p: typeof prior) => {
      const l = p.choleskyFactor;
      const c = new Float64Array(dim * dim);
      for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) for (let k = 0; k < dim; k++) c[i * dim + j] += l[i * dim + k] * l[j * dim + k];
      return c;
    };
    const fitted = cov(prior);
    const sampled = cov(refit);
    for (let i = 0; i < dim * dim; i++) expect(sampled[i]).toBeCloseTo(fitted[i], 3);
    for (let i = 0; i < dim; i++) expect(refit.mean[i]).toBeCloseTo(prior.mean[i], 2);
    // Fitted covariance equals the analytic one of the construction.
    expect(fitted[0]).toBeCloseTo(0.01, 3);
    expect(fitted[1]).toBeCloseTo(0.005, 3);
  });

  it('same seed, same samples; temperature 0 gives the (projected) mean', () => {
    const table = new Random(11).normalArray(100 * 4, 0.2);
    const prior = fitGaussian(table, 4);
    expect(Array.from(sampleGaussian(prior, 5, new Random(1)))).toEqual(Array.from(sampleGaussian(prior, 5, new Random(1))));
    const atMean = sampleGaussian(prior, 1, new Random(1), { temperature: 0 });
    Array.from(atMean).forEach((v, i) => expect(v).toBeCloseTo(prior.mean[i], 6));
  });
});

describe('principalDirections (the Explore sliders)', () => {
  it('finds the axes of largest variance and their standard deviations, in order, as a full eigendecomposition does', () => {
    const dim = 40;
    const count = 4000;
    const random = new Random(3);
    // Codes with standard deviations 3, 2, 1.5, 1 along four random orthonormal axes, and 0.3 elsewhere.
    const basis = Float64Array.from({ length: dim * dim }, () => random.normal());
    const { vectors: q } = symmetricEigen((() => {
      const s = new Float64Array(dim * dim);
      for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) for (let p = 0; p < dim; p++) s[i * dim + j] += basis[i * dim + p] * basis[j * dim + p];
      return s;
    })(), dim);
    const sigmas = Array.from({ length: dim }, (_, j) => [3, 2, 1.5, 1][j] ?? 0.3);
    const table = new Float32Array(count * dim);
    for (let r = 0; r < count; r++) {
      for (let j = 0; j < dim; j++) {
        const a = random.normal() * sigmas[j];
        for (let i = 0; i < dim; i++) table[r * dim + i] += a * q[i * dim + j];
      }
    }
    const prior = fitGaussian(table, dim);
    const found = principalDirections(prior, 4);
    expect(found.directions).toHaveLength(4);
    for (let c = 0; c < 4; c++) {
      let dot = 0;
      let norm = 0;
      for (let i = 0; i < dim; i++) {
        dot += found.directions[c][i] * q[i * dim + c];
        norm += found.directions[c][i] ** 2;
      }
      expect(norm).toBeCloseTo(1, 6);
      expect(Math.abs(dot), `axis ${c}`).toBeGreaterThan(0.99);
      expect(found.sigmas[c] / sigmas[c], `sigma ${c}`).toBeGreaterThan(0.95);
      expect(found.sigmas[c] / sigmas[c], `sigma ${c}`).toBeLessThan(1.05);
    }
    // The same as the full eigendecomposition of the same covariance.
    const full = symmetricEigen(priorCovariance(prior), dim);
    for (let c = 0; c < 4; c++) expect(found.sigmas[c]).toBeCloseTo(Math.sqrt(full.values[c]), 4);
  });
});
