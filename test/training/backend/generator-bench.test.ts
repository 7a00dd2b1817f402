// training/bench/kernels.ts: its FLOP count (which turns timings into GFLOP/s) against a hand count,
// its generator against the DCGAN shapes, and one real step on wasm.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../training/backend/backend.ts';
import { benchGeneratorStep, buildBenchGenerator, generatorStepFlopsPerImage } from '../../../training/bench/kernels.ts';

describe('generator bench', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('counts 3 convs (forward, d input, d filter) of 2 FLOPs per multiply-add for every layer', () => {
    // 64 px, ngf 64: 1x1x100 -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64x3, 4x4 taps.
    const macs64 = 1 * 16 * 100 * 512 + 16 * 16 * 512 * 256 + 64 * 16 * 256 * 128 + 256 * 16 * 128 * 64 + 1024 * 16 * 64 * 3;
    expect(generatorStepFlopsPerImage(64)).toBe(6 * macs64);
    const macs32 = 16 * 100 * 256 + 16 * 16 * 256 * 128 + 64 * 16 * 128 * 64 + 256 * 16 * 64 * 3;
    expect(generatorStepFlopsPerImage(32)).toBe(6 * macs32);
  });

  it('builds the DCGAN generator: 100-d latent, doubling up from 4x4, tanh RGB out', () => {
    const model = buildBenchGenerator(32);
    expect(model.inputs[0].shape).toEqual([null, 100]);
    expect(model.outputs[0].shape).toEqual([null, 32, 32, 3]);
    const convs = model.layers.filter((layer) => layer.getClassName() === 'Conv2DTranspose');
    expect(convs.map((layer) => (layer.getConfig() as { filters: number }).filters)).toEqual([256, 128, 64, 3]);
    expect(model.layers.at(-1)!.getConfig()).toMatchObject({ activation: 'tanh' });
    model.dispose();
    expect(() => buildBenchGenerator(48)).toThrow(/imageSize/);
  });

  it('times a real step on wasm and leaves no tensors behind', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const result = await benchGeneratorStep({ backend: 'wasm', imageSize: 32, batchSize: 2, steps: 1 });
    expect(result).toMatchObject({ imageSize: 32, batchSize: 2, fastKernels: true, backend: { name: 'wasm' } });
    expect(result.imagesPerSecond).toBeGreaterThan(0);
    expect(result.gflops).toBeCloseTo((result.imagesPerSecond * generatorStepFlopsPerImage(32)) / 1e9, 6);
    await benchGeneratorStep({ backend: 'wasm', imageSize: 32, batchSize: 2, steps: 1, fastKernels: false });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});
