import * as tf from '@tensorflow/tfjs-core';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../training/backend/backend.ts';
import { loadDataset, type Dataset } from '../../../training/data/dataset.ts';
import { batchTargetValues, reconstruct } from '../../../training/trainer/evaluate.ts';
import { resolveConfig } from '../../../training/glo/config.ts';
import { decodeLatents } from '../../../training/glo/latent-codec.ts';
import type { RunManifest } from '../../../training/glo/manifest.ts';
import { meanImageMetrics } from '../../../training/glo/metrics.ts';
import { outputGradientScale } from '../../../training/glo/step.ts';
import { loadModel } from '../../../training/trainer/model-io.ts';
import { openStorage } from '../../../training/storage/open-storage.ts';
import { train } from '../../../training/trainer/train.ts';
import { tempDir } from '../training-fixtures.ts';

// Regression: with plain SGD at the paper's lr 1, a 1-channel (MNIST) generator collapsed to one
// constant black image within its first two steps (eval PSNR 10.06 dB, every reconstruction the same),
// because its single output kernel got 3x the gradient of an RGB generator's (see outputGradientScale).
// The DCGAN width must be the paper's 64 for this: at width 8 the output layer's fan-in is small
// enough that lr 1 did not blow it up. 128 digits, 6 epochs of 8 steps: about 20 s of CPU.
const config = resolveConfig({
  imageSize: 32,
  channels: 1,
  limit: 128,
  epochs: 6,
  batchSize: 16,
  latentDim: 16,
  generatorWidth: 64,
  evalImages: 64,
  seed: 1,
});
const count = 128;
const pixelsPerImage = 32 * 32;

let out: string;
let manifest: RunManifest;
let dataset: Dataset;
let targets: Float32Array;
let reconstructions: Float32Array;

beforeAll(async () => {
  await initBackend('wasm');
  out = path.join(await tempDir(), 'mnist-gray');
  manifest = await train({ data: 'mnist', out, config, backend: 'wasm' });
  dataset = await loadDataset('mnist', { imageSize: 32, channels: 1, limit: count });
  const rows = Array.from({ length: count }, (_, i) => i);
  targets = batchTargetValues(dataset, rows);
  // What the published run regenerates: the saved generator on the saved codes.
  const storage = openStorage(out);
  const generator = await loadModel(storage, 'model');
  const latents = decodeLatents(await storage.read('latents.bin'), manifest.latents.count, manifest.latents.dim);
  reconstructions = await reconstruct(generator, latents, config.latentDim, rows, 'inference');
}, 300_000);

/** Mean over pixels of the variance across images: 0 when every image is the same. */
function acrossImageVariance(images: Float32Array): number {
  let total = 0;
  for (let i = 0; i < pixelsPerImage; i++) {
    let s = 0;
    let s2 = 0;
    for (let n = 0; n < count; n++) {
      const v = images[n * pixelsPerImage + i];
      s += v;
      s2 += v * v;
    }
    total += s2 / count - (s / count) ** 2;
  }
  return total / pixelsPerImage;
}

describe('GLO on 1-channel MNIST with the paper\'s SGD', () => {
  it('scales only a grayscale SGD generator\'s output-layer gradient', () => {
    expect(outputGradientScale(tf.train.sgd(1), 3)).toBe(1);
    expect(outputGradientScale(tf.train.sgd(1), 1)).toBeCloseTo(1 / 3, 12);
    expect(outputGradientScale(tf.train.adam(0.001), 1)).toBe(1);
  });

  it('learns the digits instead of collapsing to one constant image', () => {
    // The best any constant image can do is the per-pixel mean of the digits.
    const mean = new Float32Array(pixelsPerImage);
    for (let n = 0; n < count; n++) for (let i = 0; i < pixelsPerImage; i++) mean[i] += targets[n * pixelsPerImage + i] / count;
    const constant = new Float32Array(count * pixelsPerImage);
    for (let n = 0; n < count; n++) constant.set(mean, n * pixelsPerImage);
    const constantPsnr = meanImageMetrics(constant, targets, pixelsPerImage).psnr;
    const final = manifest.metrics.final.reconstructionPsnr;
    // Collapsed: 10.06 dB (black), below the mean image's 12.37 dB. Fixed: 15.36 dB (15.2-16.8 over seeds).
    expect(final, `final PSNR ${final.toFixed(2)} dB vs constant ${constantPsnr.toFixed(2)} dB`).toBeGreaterThan(constantPsnr + 2);
    expect(meanImageMetrics(reconstructions, targets, pixelsPerImage).psnr).toBeCloseTo(final, 3);
  });

  it('reconstructs different digits differently', () => {
    // Relative to the digits' own across-image variance (0.24): collapsed 3e-7, fixed 0.24.
    const ratio = acrossImageVariance(reconstructions) / acrossImageVariance(targets);
    expect(ratio).toBeGreaterThan(0.05);
  });
});
