import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { fitGaussian, sampleGaussian } from '../../training/glo/gaussian.ts';
import { buildGenerator, recalibrateBatchNorm } from '../../training/glo/generator.ts';
import {
  downsampleOperator,
  identityOperator,
  invert,
  inversionBatchSize,
  lowerTriangularInverse,
  maskOperator,
  noiseOperator,
  type InvertOptions,
} from '../../training/glo/inversion.ts';
import { perImageLoss, reconstructionLoss } from '../../training/glo/laplacian.ts';
import { norm, projectToUnitBall } from '../../training/glo/latent.ts';
import { psnrFromMse } from '../../training/glo/metrics.ts';
import { Random } from '../../training/glo/random.ts';

const SIZE = 32;
const DIM = 16;
let generator: tfl.LayersModel;

/**
 * A tiny DCGAN generator whose BatchNorm statistics are calibrated on random codes: untrained, but its
 * inference-mode outputs vary with z like a trained one's, so the truth g(z*) is in range and the
 * inverse problems are well posed.
 */
beforeAll(async () => {
  await tf.setBackend('cpu');
  generator = buildGenerator({ imageSize: SIZE, channels: 3, latentDim: DIM, generatorWidth: 8 }, 3);
  const codes = new Random(9).normalArray(64 * DIM, 1 / Math.sqrt(DIM));
  projectToUnitBall(codes, DIM);
  const batch = tf.tensor2d(codes, [64, DIM]);
  await recalibrateBatchNorm(generator, [batch]);
  batch.dispose();
  // Louder last layer: DCGAN's N(0, 0.02) init makes near-grey images; this spreads them over [-1, 1].
  const last = generator.layers[generator.layers.length - 1];
  const [kernel] = last.getWeights();
  last.setWeights([tf.tidy(() => tf.mul(kernel, 4))]);
});

/** A code the generator can reproduce exactly: a random code of norm 0.9. */
function trueCode(seed: number, n = 1): Float32Array {
  const z = new Random(seed).normalArray(n * DIM);
  for (let i = 0; i < n; i++) {
    const s = norm(z, i * DIM, DIM);
    for (let j = 0; j < DIM; j++) z[i * DIM + j] *= 0.9 / s;
  }
  return z;
}

function generate(codes: Float32Array): tf.Tensor4D {
  return tf.tidy(() => generator.apply(tf.tensor2d(codes, [codes.length / DIM, DIM]), { training: false }) as tf.Tensor4D);
}

/** MSE in [0, 1] pixel units, optionally only where `weight` (per pixel, broadcast over channels) is 1. */
function mse(a: ArrayLike<number>, b: ArrayLike<number>, weight?: Float32Array): number {
  let s = 0;
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    const w = weight ? weight[Math.floor(i / 3) % (SIZE * SIZE)] : 1;
    s += w * ((a[i] - b[i]) / 2) ** 2;
    count += w;
  }
  return s / count;
}

function baseOptions(target: tf.Tensor4D, rest: Partial<InvertOptions> = {}): InvertOptions {
  return { generator, target, operator: identityOperator(), latentDim: DIM, steps: 60, learningRate: 0.05, priorWeight: 0, ...rest };
}

describe('invert (generator frozen)', () => {
  it('leaves every generator weight (BatchNorm statistics included) unchanged', async () => {
    const before = generator.getWeights().map((w) => w.dataSync().slice());
    const clean = generate(trueCode(1));
    await invert(baseOptions(clean, { steps: 5, optimizer: 'sgd', learningRate: 10 }));
    await invert(baseOptions(clean, { steps: 5 }));
    const after = generator.getWeights().map((w) => w.dataSync());
    expect(after).toHaveLength(before.length);
    after.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(before[i])));
    clean.dispose();
  });

  it('fits g(z*) from the mean: the loss falls and the PSNR rises by a clear margin, codes stay in the ball', async () => {
    const clean = generate(trueCode(2, 2));
    const truth = clean.dataSync().slice();
    const start = generate(new Float32Array(2 * DIM));
    const startMse = mse(start.dataSync(), truth);
    start.dispose();
    const result = await invert(baseOptions(clean, { steps: 80 }));
    clean.dispose();
    expect(result.steps).toBe(80);
    expect(result.lossHistory).toHaveLength(81);
    expect(result.lossHistory[80]).toBeLessThan(result.lossHistory[0] * 0.2);
    expect(result.restoredShape).toEqual([2, SIZE, SIZE, 3]);
    const gain = psnrFromMse(mse(result.restored, truth)) - psnrFromMse(startMse);
    expect(gain).toBeGreaterThan(8);
    for (let i = 0; i < 2; i++) expect(norm(result.codes, i * DIM, DIM)).toBeLessThanOrEqual(1 + 1e-5);
  });

  it('the batch sets only the speed: four images fitted together reach the codes they reach two by two', async () => {
    const codes = trueCode(12, 4);
    const clean = generate(codes);
    const init = new Float32Array(4 * DIM).map((_, i) => 0.5 * codes[i]);
    const together = await invert(baseOptions(clean, { steps: 20, init }));
    const halves = await Promise.all([0, 2].map(async (first) => {
      const target = tf.slice(clean, [first, 0, 0, 0], [2, -1, -1, -1]);
      const result = await invert(baseOptions(target, { steps: 20, init: init.slice(first * DIM, (first + 2) * DIM) }));
      target.dispose();
      return result.codes;
    }));
    clean.dispose();
    const apart = new Float32Array([...halves[0], ...halves[1]]);
    // Adam divides each coordinate's step by its own gradient scale, so dividing the summed objective by
    // the batch size changes a code's path only through Adam's epsilon: float-level differences.
    for (let i = 0; i < apart.length; i++) expect(Math.abs(together.codes[i] - apart[i])).toBeLessThan(1e-3);
    expect(inversionBatchSize(32)).toBe(256);
    expect(inversionBatchSize(64)).toBe(64);
    expect(inversionBatchSize(128)).toBe(64);
  });

  it('inpainting: fills the masked region far better than the damaged input, and fits the known pixels', async () => {
    const keep = new Float32Array(SIZE * SIZE).fill(1);
    for (let y = 8; y < 24; y++) for (let x = 8; x < 24; x++) keep[y * SIZE + x] = 0;
    const removed = keep.map((k) => 1 - k);
    const operator = maskOperator(keep, SIZE, SIZE);
    const clean = generate(trueCode(3));
    const truth = clean.dataSync().slice();
    const damaged = operator.degrade(clean);
    const damagedPixels = damaged.dataSync().slice();
    const start = generate(new Float32Array(DIM));
    const startPixels = start.dataSync().slice();
    start.dispose();
    const loss = { loss: 'lap1+l2' as const, lapWeights: [1, 0.25, 0.0625], l2Weight: 1 };
    const result = await invert(baseOptions(damaged, { operator, steps: 50, loss, init: { multiStart: 4 } }));
    tf.dispose([clean, damaged]);
    expect(mse(result.restored, truth, removed)).toBeLessThan(mse(damagedPixels, truth, removed) / 4);
    expect(mse(result.restored, truth, keep)).toBeLessThan(mse(startPixels, truth, keep) / 4);
    expect(psnrFromMse(mse(result.restored, truth))).toBeGreaterThan(psnrFromMse(mse(damagedPixels, truth)) + 6);
  });

  it('denoising: the restored image is closer to the clean truth than the noisy one', async () => {
    const operator = noiseOperator(0.3, 5);
    const clean = generate(trueCode(4));
    const truth = clean.dataSync().slice();
    const noisy = operator.degrade(clean);
    const noisyMse = mse(noisy.dataSync(), truth);
    const result = await invert(baseOptions(noisy, { operator, steps: 80 }));
    tf.dispose([clean, noisy]);
    expect(mse(result.restored, truth)).toBeLessThan(noisyMse / 2);
  });

  it('super-resolution: beats nearest-neighbour upsampling of the low-resolution image', async () => {
    const operator = downsampleOperator(4);
    const clean = generate(trueCode(6));
    const truth = clean.dataSync().slice();
    const low = operator.degrade(clean);
    expect(low.shape).toEqual([1, SIZE / 4, SIZE / 4, 3]);
    const shown = operator.toImage(low);
    expect(shown.shape).toEqual([1, SIZE, SIZE, 3]);
    const nearestMse = mse(shown.dataSync(), truth);
    const result = await invert(baseOptions(low, { operator, steps: 80 }));
    tf.dispose([clean, low, shown]);
    expect(mse(result.restored, truth)).toBeLessThan(nearestMse / 2);
    await expect(invert(baseOptions(low, { operator, loss: { loss: 'lap1', lapWeights: [1], l2Weight: 0 } }))).rejects.toThrow(/l2/);
  });

  it('the prior term pulls the codes towards the prior mean', async () => {
    const table = trueCode(7, 40);
    const prior = fitGaussian(table, DIM);
    const clean = generate(sampleGaussian(prior, 1, new Random(8), { temperature: 2 }));
    const distance = (codes: Float32Array) => Math.hypot(...Array.from(codes, (v, i) => v - prior.mean[i]));
    const free = await invert(baseOptions(clean, { prior, priorWeight: 0, steps: 30 }));
    const held = await invert(baseOptions(clean, { prior, priorWeight: 10, steps: 30 }));
    clean.dispose();
    expect(distance(held.codes)).toBeLessThan(distance(free.codes));
  });

  it("the cosine schedule's step k of K is learningRate * (1 + cos(pi k / K)) / 2, for Adam and SGD", async () => {
    const clean = generate(trueCode(12));
    for (const optimizer of ['sgd', 'adam'] as const) {
      const lr = optimizer === 'sgd' ? 2 : 0.05;
      // Three cosine steps take lr, 0.75 lr and 0.25 lr. For SGD that is three constant runs of one step,
      // each from where the last stopped. Adam's state spans steps, so its check is the first step alone
      // (the full rate) and that the cosine run differs from the constant one after three.
      const cosine = await invert(baseOptions(clean, { steps: 3, learningRate: lr, optimizer, schedule: 'cosine' }));
      const constant = await invert(baseOptions(clean, { steps: 3, learningRate: lr, optimizer }));
      const oneStep = await invert(baseOptions(clean, { steps: 1, learningRate: lr, optimizer, schedule: 'cosine' }));
      const oneConstant = await invert(baseOptions(clean, { steps: 1, learningRate: lr, optimizer }));
      expect(Array.from(oneStep.codes)).toEqual(Array.from(oneConstant.codes));
      const distance = Math.max(...cosine.codes.map((v, i) => Math.abs(v - constant.codes[i])));
      expect(distance).toBeGreaterThan(1e-4);
      if (optimizer === 'sgd') {
        let codes = oneConstant.codes;
        for (const factor of [0.75, 0.25]) codes = (await invert(baseOptions(clean, { steps: 1, learningRate: lr * factor, optimizer, init: codes }))).codes;
        cosine.codes.forEach((v, i) => expect(v).toBeCloseTo(codes[i], 5));
      }
    }
    clean.dispose();
  });

  it('an abort stops at the next step and returns the codes reached so far', async () => {
    const clean = generate(trueCode(10));
    const controller = new AbortController();
    const seen: number[] = [];
    const result = await invert(
      baseOptions(clean, {
        steps: 50,
        signal: controller.signal,
        onStep: ({ step }) => {
          seen.push(step);
          if (step === 3) controller.abort();
        },
      }),
    );
    clean.dispose();
    expect(result.aborted).toBe(true);
    expect(result.steps).toBe(3);
    expect(seen).toEqual([1, 2, 3]);
    expect(result.codes).toHaveLength(DIM);
  });

  it('reports progress every `reportEvery` steps and after the last, awaiting the callback', async () => {
    const clean = generate(trueCode(11));
    const seen: number[] = [];
    await invert(
      baseOptions(clean, {
        steps: 7,
        reportEvery: 3,
        onStep: async ({ step, steps, loss }) => {
          await new Promise((r) => setTimeout(r, 1));
          expect(steps).toBe(7);
          expect(Number.isFinite(loss)).toBe(true);
          seen.push(step);
        },
      }),
    );
    clean.dispose();
    expect(seen).toEqual([3, 6, 7]);
  });

  it('leaks no tensors (every operator, both optimizers, multi-start, prior, Lap1)', async () => {
    const clean = generate(trueCode(12, 2));
    const prior = fitGaussian(trueCode(13, 40), DIM);
    const keep = new Float32Array(SIZE * SIZE).fill(1).fill(0, 0, 100);
    const loss = { loss: 'lap1+l2' as const, lapWeights: [1, 0.25], l2Weight: 1 };
    const before = tf.memory().numTensors;
    for (const [operator, extra] of [
      [identityOperator(), { loss, init: { multiStart: 3 }, prior, priorWeight: 0.1 }],
      [maskOperator(keep, SIZE, SIZE), { optimizer: 'sgd', learningRate: 1, loss }],
      [noiseOperator(0.2), { init: trueCode(14, 2), prior, priorDistance: 'euclidean', priorWeight: 0.1 }],
      [downsampleOperator(2), { init: { multiStart: 2 } }],
    ] as const) {
      const observation = operator.degrade(clean);
      await invert(baseOptions(observation, { operator, steps: 3, ...extra }));
      observation.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    clean.dispose();
  });
});

describe('inversion pieces', () => {
  it('perImageLoss averages to reconstructionLoss over the batch (l2, lap1, lap1+l2)', () => {
    const a = tf.randomUniform([3, 16, 16, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const b = tf.randomUniform([3, 16, 16, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
    for (const loss of ['l2', 'lap1', 'lap1+l2'] as const) {
      const config = { loss, lapWeights: [1, 0.25, 0.0625], l2Weight: 0.5 };
      const perImage = tf.tidy(() => tf.mean(perImageLoss(a, b, config)).dataSync()[0]);
      const batch = tf.tidy(() => reconstructionLoss(a, b, config).dataSync()[0]);
      expect(perImage).toBeCloseTo(batch, 5);
    }
    tf.dispose([a, b]);
  });

  it('perImageLoss of an image against itself is 0 and does not depend on the other images', () => {
    const a = tf.randomUniform([2, 16, 16, 1], -1, 1, 'float32', 3) as tf.Tensor4D;
    const b = tf.tidy(() => tf.concat([tf.slice(a, [0], [1]), tf.zeros([1, 16, 16, 1])]) as tf.Tensor4D);
    const config = { loss: 'lap1+l2' as const, lapWeights: [1, 0.25], l2Weight: 1 };
    const losses = tf.tidy(() => perImageLoss(a, b, config).dataSync());
    expect(losses[0]).toBeCloseTo(0, 6);
    expect(losses[1]).toBeGreaterThan(0.1);
    tf.dispose([a, b]);
  });

  it('lowerTriangularInverse inverts the Cholesky factor', () => {
    const prior = fitGaussian(trueCode(15, 50), DIM);
    const inv = lowerTriangularInverse(prior.choleskyFactor, DIM);
    for (let i = 0; i < DIM; i++) {
      for (let j = 0; j < DIM; j++) {
        let s = 0;
        for (let k = 0; k < DIM; k++) s += prior.choleskyFactor[i * DIM + k] * inv[k * DIM + j];
        expect(s).toBeCloseTo(i === j ? 1 : 0, 3);
      }
    }
  });

  it('operators: the mask zeroes removed pixels, noise is seeded and clipped, downsample averages blocks', () => {
    const image = tf.fill([1, 4, 4, 1], 0.9) as tf.Tensor4D;
    const keep = new Float32Array(16).fill(1);
    keep[5] = 0;
    const masked = maskOperator(keep, 4, 4).degrade(image).dataSync();
    expect(masked[5]).toBe(0);
    expect(masked[4]).toBeCloseTo(0.9, 6);
    const n1 = noiseOperator(0.5, 3).degrade(image).dataSync();
    const n2 = noiseOperator(0.5, 3).degrade(image).dataSync();
    expect(Array.from(n1)).toEqual(Array.from(n2));
    expect(Math.max(...n1)).toBeLessThanOrEqual(1);
    const ramp = tf.tensor4d([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [1, 4, 4, 1]);
    expect(Array.from(downsampleOperator(2).degrade(ramp).dataSync())).toEqual([2.5, 4.5, 10.5, 12.5]);
    expect(() => downsampleOperator(3).degrade(ramp)).toThrow(/divisible/);
    expect(() => maskOperator(new Float32Array(3), 4, 4)).toThrow(/expected/);
    tf.dispose([image, ramp]);
  });
});
