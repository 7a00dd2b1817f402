import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// Registers tfjs' gradient functions (the reference pyramid is differentiated by tfjs' autodiff).
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { lapLevelWeights, resolveConfig } from '../../training/glo/config.ts';
import { binomialKernel2d, expandMatrix, lap1Loss, laplacianPyramid, reconstructionLoss, reduceMatrix } from '../../training/glo/laplacian.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * The pyramid as Burt & Adelson define it, written the direct way: 2-D reflect padding, a 5x5 conv with
 * the outer-product kernel, decimation by stride 2; EXPAND by zero insertion then the blur times 4. The
 * trainer's separable matrix form must equal this.
 */
function referencePyramid(images: tf.Tensor4D, levels: number): tf.Tensor4D[] {
  return tf.tidy(() => {
    const [n, h, w, c] = images.shape;
    const kernel = tf.tensor4d(binomialKernel2d().flat(), [5, 5, 1, 1]);
    // Reflect padding by gather, not tf.mirrorPad: tfjs' MirrorPad gradient only slices dy and drops what
    // the reflected border samples contribute, while gather's gradient is exact.
    const reflectPad = (x: tf.Tensor4D) => {
      const side = x.shape[1];
      const index = tf.tensor1d(Array.from({ length: side + 4 }, (_, i) => Math.abs(side - 1 - Math.abs(i - 2 - (side - 1)))), 'int32');
      return tf.gather(tf.gather(x, index, 1), index, 2) as tf.Tensor4D;
    };
    const blur = (x: tf.Tensor4D, stride: 1 | 2) => tf.conv2d(reflectPad(x), kernel, stride, 'valid');
    const expand = (x: tf.Tensor4D) => {
      const [p, hh, ww] = x.shape;
      const cols = tf.reshape(tf.stack([x, tf.zerosLike(x)], 3), [p, hh, 2 * ww, 1]);
      const rows = tf.reshape(tf.stack([cols, tf.zerosLike(cols)], 2), [p, 2 * hh, 2 * ww, 1]) as tf.Tensor4D;
      return tf.mul(blur(rows, 1), 4) as tf.Tensor4D;
    };
    let current = tf.reshape(tf.transpose(images, [0, 3, 1, 2]), [n * c, h, w, 1]) as tf.Tensor4D;
    const out: tf.Tensor4D[] = [];
    for (let j = 0; j < levels - 1; j++) {
      const down = blur(current, 2);
      out.push(tf.sub(current, expand(down)));
      current = down;
    }
    out.push(current);
    return out;
  });
}

function referenceLap1(a: tf.Tensor4D, b: tf.Tensor4D, weights: number[]): tf.Scalar {
  const pa = referencePyramid(a, weights.length);
  const pb = referencePyramid(b, weights.length);
  return tf.addN(weights.map((w, j) => tf.mul(tf.mean(tf.abs(tf.sub(pa[j], pb[j]))), w))) as tf.Scalar;
}

function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

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

  it('equals the direct definition (2-D reflect-padded 5x5 blur, zero-insertion EXPAND) at every level', () => {
    for (const [size, channels, levels] of [[32, 3, 4], [64, 1, 5], [16, 3, 3]]) {
      const images = randomImages(2, size, channels, size + channels);
      const ours = laplacianPyramid(images, levels);
      const reference = referencePyramid(images, levels);
      expect(ours.map((l) => l.shape)).toEqual(reference.map((l) => l.shape));
      ours.forEach((level, j) => expect(maxAbsDifference(level, reference[j])).toBeLessThan(1e-5));
    }
  });

  it('reconstructs the image: expanding the residual and adding each band gives it back', () => {
    const image = randomImages(2, 32, 3, 11);
    const levels = laplacianPyramid(image, 4);
    const up = (x: tf.Tensor4D) => tf.tidy(() => {
      const [p, m] = x.shape;
      const e = tf.tensor2d(expandMatrix(m), [2 * m, m]);
      // E X E^T on each plane.
      return tf.reshape(tf.matMul(tf.matMul(e, tf.reshape(x, [p, m, m])), e, false, true), [p, 2 * m, 2 * m, 1]) as tf.Tensor4D;
    });
    let current = levels[3];
    for (let j = 2; j >= 0; j--) current = tf.add(levels[j], up(current));
    const planes = tf.reshape(tf.transpose(image, [0, 3, 1, 2]), [6, 32, 32, 1]);
    expect(maxAbsDifference(current, planes)).toBeLessThan(1e-5);
  });

  it('REDUCE and EXPAND rows each sum to 1 (no energy lost at the reflected borders)', () => {
    for (const n of [4, 8, 64]) {
      const reduce = reduceMatrix(n);
      for (let o = 0; o < n / 2; o++) expect(reduce.subarray(o * n, (o + 1) * n).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      const expand = expandMatrix(n / 2);
      // Each output sample sees 2 or 3 of the 5 taps on an even sample: 2*(1+6+1)/16 = 1 or 2*(4+4)/16 = 1.
      for (let o = 0; o < n; o++) expect(expand.subarray((o * n) / 2, ((o + 1) * n) / 2).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    }
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

  it('equals Lap1 on two pyramids of the direct definition, and so does its gradient', () => {
    const a = randomImages(3, 32, 3, 21);
    const b = randomImages(3, 32, 3, 22);
    expect(lap1Loss(a, b, weights).dataSync()[0]).toBeCloseTo(referenceLap1(a, b, weights).dataSync()[0], 5);
    // The custom gradient against tfjs' autodiff through the reference pyramid.
    const ours = tf.grad((x: tf.Tensor) => lap1Loss(x as tf.Tensor4D, b, weights))(a);
    const reference = tf.grad((x: tf.Tensor) => referenceLap1(x as tf.Tensor4D, b, weights))(a);
    expect(maxAbsDifference(ours, reference)).toBeLessThan(1e-7);
    expect(tf.max(tf.abs(reference)).dataSync()[0]).toBeGreaterThan(1e-5);
  });

  it('has the gradient of lap1+l2 that finite differences give', () => {
    const a = randomImages(2, 16, 3, 31);
    const b = randomImages(2, 16, 3, 32);
    const config = { loss: 'lap1+l2' as const, lapWeights: [1, 0.25, 0.0625], l2Weight: 1 };
    const gradient = tf.grad((x: tf.Tensor) => reconstructionLoss(x as tf.Tensor4D, b, config))(a).dataSync();
    const values = a.dataSync().slice() as Float32Array;
    const lossAt = (v: Float32Array) => tf.tidy(() => reconstructionLoss(tf.tensor4d(v, a.shape), b, config).dataSync()[0]);
    for (const i of [0, 100, 767, 1535]) {
      const h = 1e-3;
      const plus = values.slice(); plus[i] += h;
      const minus = values.slice(); minus[i] -= h;
      expect((lossAt(plus) - lossAt(minus)) / (2 * h)).toBeCloseTo(gradient[i], 4);
    }
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

describe('Lap1 level normalizations', () => {
  it('weighs the per-level means 4^-j ("sums") or equally ("means")', () => {
    expect(lapLevelWeights('sums', 4)).toEqual([1, 0.25, 0.0625, 0.015625]);
    expect(lapLevelWeights('means', 4)).toEqual([1, 1, 1, 1]);
  });

  it('defaults as measured: "sums" beside l2 and for lap1 alone on grayscale, "means" for lap1 alone on colour; an explicit choice wins', () => {
    expect(resolveConfig({}).lapNormalization).toBe('sums');
    expect(resolveConfig({}).lapWeights).toEqual([1, 0.25, 0.0625, 0.015625]);
    expect(resolveConfig({ channels: 1 }).lapNormalization).toBe('sums');
    expect(resolveConfig({ loss: 'lap1' }).lapNormalization).toBe('means');
    expect(resolveConfig({ loss: 'lap1' }).lapWeights).toEqual([1, 1, 1, 1]);
    expect(resolveConfig({ loss: 'lap1', channels: 1 }).lapNormalization).toBe('sums');
    expect(resolveConfig({ loss: 'lap1', channels: 1, lapNormalization: 'means' }).lapWeights).toEqual([1, 1, 1, 1]);
    expect(resolveConfig({ loss: 'lap1', lapNormalization: 'sums' }).lapWeights).toEqual([1, 0.25, 0.0625, 0.015625]);
    expect(resolveConfig({ lapNormalization: 'means', lapWeights: [2, 1, 1, 1] }).lapWeights).toEqual([2, 1, 1, 1]);
  });

  it('"sums" is the equally weighted sum of every level\'s |difference| over the image\'s pixel count', () => {
    const a = randomImages(2, 32, 3, 41);
    const b = randomImages(2, 32, 3, 42);
    const pyramid = laplacianPyramid(tf.sub(a, b) as tf.Tensor4D, 4);
    // Per image: sum over levels of the summed |L^j|, divided by the image's 32 * 32 * 3 values.
    const bySums = pyramid.reduce((total, level) => total + tf.sum(tf.abs(level)).dataSync()[0], 0) / (2 * 32 * 32 * 3);
    const byMeans = pyramid.reduce((total, level) => total + tf.mean(tf.abs(level)).dataSync()[0], 0);
    expect(lap1Loss(a, b, lapLevelWeights('sums', 4)).dataSync()[0]).toBeCloseTo(bySums, 5);
    expect(lap1Loss(a, b, lapLevelWeights('means', 4)).dataSync()[0]).toBeCloseTo(byMeans, 5);
  });

  it('a colour shift moves only the residual term, by the weight the normalization gives it', () => {
    const image = randomImages(2, 32, 3, 43);
    const shift = 0.2;
    const shifted = tf.add(image, shift) as tf.Tensor4D;
    for (const normalization of ['sums', 'means'] as const) {
      const w = lapLevelWeights(normalization, 4);
      // Every band of the shifted image equals the original's; the residual differs by the shift everywhere.
      expect(lap1Loss(shifted, image, w).dataSync()[0]).toBeCloseTo(w[3] * shift, 5);
    }
    // So Lap1 by "means" charges a colour error 64 times what "sums" charges, at 4 levels.
    expect(lapLevelWeights('means', 4)[3] / lapLevelWeights('sums', 4)[3]).toBe(64);
  });
});
