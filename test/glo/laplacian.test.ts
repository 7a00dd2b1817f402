import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { binomialKernel2d, lap1Loss, laplacianPyramid, reconstructionLoss } from '../../training/glo/laplacian.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randomImages(n: number, size: number, channels: number, seed: number): tf.Tensor4D {
  return tf.randomUniform([n, size, size, channels], -1, 1, 'float32', seed) as tf.Tensor4D;
}

describe('binomial kernel', () => {
  it('is the normalized outer product of [1 4 6 4 1] and sums to 1', () => {
    const k = binomialKernel2d();
    const taps = [1, 4, 6, 4, 1];
    let sum = 0;
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 5; x++) {
        expect(k[y][x]).toBeCloseTo((taps[y] * taps[x]) / 256, 12);
        sum += k[y][x];
      }
    }
    expect(sum).toBeCloseTo(1, 12);
  });
});

describe('laplacianPyramid', () => {
  it('of a constant image is zero at every band-pass level and the constant in the residual', () => {
    const image = tf.fill([2, 32, 32, 3], 0.37) as tf.Tensor4D;
    const levels = laplacianPyramid(image, 4);
    expect(levels.map((l) => l.shape)).toEqual([
      [6, 32, 32, 1],
      [6, 16, 16, 1],
      [6, 8, 8, 1],
      [6, 4, 4, 1],
    ]);
    for (const band of levels.slice(0, -1)) expect(tf.max(tf.abs(band)).dataSync()[0]).toBeLessThan(1e-6);
    const residual = levels[3].dataSync();
    for (const v of residual) expect(v).toBeCloseTo(0.37, 5);
  });

  it('keeps energy at the fine level for a checkerboard (high frequencies are not lost)', () => {
    const values = new Float32Array(16 * 16).map((_, i) => (((i % 16) + Math.floor(i / 16)) % 2 ? 1 : -1));
    const image = tf.tensor4d(values, [1, 16, 16, 1]);
    const [fine, , residual] = laplacianPyramid(image, 3);
    expect(tf.mean(tf.abs(fine)).dataSync()[0]).toBeGreaterThan(0.5);
    expect(tf.max(tf.abs(residual)).dataSync()[0]).toBeLessThan(0.1);
  });
});

describe('lap1Loss', () => {
  const weights = [1, 0.25, 0.0625, 0.015625];

  it('is 0 for identical images and positive otherwise', () => {
    const a = randomImages(3, 32, 3, 1);
    const b = randomImages(3, 32, 3, 2);
    expect(lap1Loss(a, a, weights).dataSync()[0]).toBe(0);
    expect(lap1Loss(a, b, weights).dataSync()[0]).toBeGreaterThan(0.1);
  });

  it('matches its definition: sum of weighted per-level mean absolute differences', () => {
    const a = randomImages(2, 16, 3, 3);
    const b = randomImages(2, 16, 3, 4);
    const w = [1, 0.5, 0.25];
    const pa = laplacianPyramid(a, 3);
    const pb = laplacianPyramid(b, 3);
    let expected = 0;
    for (let j = 0; j < 3; j++) {
      const da = pa[j].dataSync();
      const db = pb[j].dataSync();
      let s = 0;
      for (let i = 0; i < da.length; i++) s += Math.abs(da[i] - db[i]);
      expected += (w[j] * s) / da.length;
    }
    expect(lap1Loss(a, b, w).dataSync()[0]).toBeCloseTo(expected, 5);
  });

  it('is less sensitive to a one-pixel shift than L2, relative to a blurred copy', () => {
    // The paper's argument for Lap1 (section 3.2): L2 prefers a blurry prediction to a sharp one that is
    // slightly misaligned, which is why L2-trained generators blur. Sharp piecewise-constant images
    // (random 4x4-pixel blocks); compare the cost of a one-pixel shift with the cost of a blur.
    const sharp = tf.tidy(() => {
      const blocks = tf.sign(randomImages(4, 8, 3, 5));
      return tf.image.resizeNearestNeighbor(blocks, [32, 32]) as tf.Tensor4D;
    });
    const shifted = tf.concat([tf.slice(sharp, [0, 1, 0, 0], [4, 31, 32, 3]), tf.slice(sharp, [0, 31, 0, 0], [4, 1, 32, 3])], 1) as tf.Tensor4D;
    const blurred = tf.avgPool(tf.mirrorPad(sharp, [[0, 0], [2, 2], [2, 2], [0, 0]], 'reflect'), 5, 1, 'valid') as tf.Tensor4D;
    const lap = (x: tf.Tensor4D) => reconstructionLoss(sharp, x, { loss: 'lap1', lapWeights: weights, l2Weight: 0 }).dataSync()[0];
    const l2 = (x: tf.Tensor4D) => reconstructionLoss(sharp, x, { loss: 'l2', lapWeights: weights, l2Weight: 1 }).dataSync()[0];
    const lapRatio = lap(shifted) / lap(blurred);
    const l2Ratio = l2(shifted) / l2(blurred);
    expect(l2Ratio).toBeGreaterThan(1); // L2: the shifted sharp image costs more than the blur
    expect(lapRatio).toBeLessThan(l2Ratio);
  });

  it('lap1+l2 is lap1 plus the weighted MSE', () => {
    const a = randomImages(2, 32, 1, 6);
    const b = randomImages(2, 32, 1, 7);
    const lap = reconstructionLoss(a, b, { loss: 'lap1', lapWeights: weights, l2Weight: 0 }).dataSync()[0];
    const mse = tf.mean(tf.squaredDifference(a, b)).dataSync()[0];
    const both = reconstructionLoss(a, b, { loss: 'lap1+l2', lapWeights: weights, l2Weight: 2 }).dataSync()[0];
    expect(both).toBeCloseTo(lap + 2 * mse, 5);
  });
});
