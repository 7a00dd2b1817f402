// training/bench: its FLOP count (which turns timings into GFLOP/s) against a hand count, one timed step of
// the trainer's own code on wasm, and the CLI's --json output.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../training/backend/backend.ts';
import { benchTrainingStep, stepFlopsPerImage } from '../../../training/bench/step-bench.ts';
import { resolveConfig } from '../../../training/glo/config.ts';

describe('training step bench', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('counts 3 convs (forward, d input, d filter) of 2 FLOPs per multiply-add for every generator layer', () => {
    // 64 px, ngf 64: 1x1x100 -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64x3, 4x4 taps.
    const macs64 = 1 * 16 * 100 * 512 + 16 * 16 * 512 * 256 + 64 * 16 * 256 * 128 + 256 * 16 * 128 * 64 + 1024 * 16 * 64 * 3;
    expect(stepFlopsPerImage(resolveConfig({ imageSize: 64 }))).toBe(6 * macs64);
    const macs32 = 16 * 100 * 256 + 16 * 16 * 256 * 128 + 64 * 16 * 128 * 64 + 256 * 16 * 64 * 3;
    expect(stepFlopsPerImage(resolveConfig({ imageSize: 32 }))).toBe(6 * macs32);
  });

  it('times the trainer step, the generator alone and each part, and leaves no tensors behind', () => {
    const tensorsBefore = tf.memory().numTensors;
    const result = benchTrainingStep({ config: { imageSize: 32, batchSize: 4, latentDim: 16, generatorWidth: 8 }, steps: 1 });
    expect(result.config).toMatchObject({ imageSize: 32, batchSize: 4, loss: 'lap1+l2', optimizer: 'sgd' });
    expect(result.stepImagesPerSecond).toBeCloseTo((4 * 1000) / result.stepMs, 6);
    expect(result.stepGflops).toBeCloseTo((stepFlopsPerImage(result.config) * result.stepImagesPerSecond) / 1e9, 6);
    const { breakdown } = result;
    for (const part of Object.values(breakdown)) expect(part).toBeGreaterThanOrEqual(0);
    expect(breakdown.generatorForwardMs).toBeGreaterThan(0);
    expect(breakdown.lossForwardBackwardMs).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('writes the --json results the issue tracker and the README read', () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'glo-bench-')), 'bench.json');
    execFileSync(process.execPath, ['--import', 'tsx', 'training/bench/bench.ts', '--sizes', '32', '--batch', '4', '--steps', '1',
      '--backends', 'wasm', '--threads', '1', '--no-pytorch', '--json', out], { encoding: 'utf8', timeout: 120_000 });
    const json = JSON.parse(readFileSync(out, 'utf8')) as { results: Record<string, unknown>[] };
    expect(json.results).toHaveLength(1);
    expect(Object.keys(json.results[0]).sort()).toEqual(
      ['backend', 'batchSize', 'generatorImagesPerSecond', 'imageSize', 'pytorchImagesPerSecond', 'stepImagesPerSecond', 'threads']);
    expect(json.results[0]).toMatchObject({ backend: 'wasm', imageSize: 32, batchSize: 4, threads: 1, pytorchImagesPerSecond: null });
    expect(json.results[0].stepImagesPerSecond).toBeGreaterThan(0);
  });
});
