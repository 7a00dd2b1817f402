import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../training/backend/backend.ts';
import { loadDataset, type Dataset } from '../../../training/data/dataset.ts';
import { batchTargets, reconstruct } from '../../../training/trainer/evaluate.ts';
import { resolveConfig } from '../../../training/glo/config.ts';
import { buildGenerator, recalibrateBatchNorm } from '../../../training/glo/generator.ts';
import { gatherRows, norm, project } from '../../../training/glo/latent.ts';
import { latentSgd } from '../../../training/glo/latent-optimizer.ts';
import { Random } from '../../../training/glo/random.ts';
import { gloStep, trainableVariables } from '../../../training/glo/step.ts';
import { makeImageFolder } from '../training-fixtures.ts';

const config = resolveConfig({ imageSize: 32, latentDim: 16, generatorWidth: 8, batchSize: 16 });
let dataset: Dataset;

beforeAll(async () => {
  await initBackend('wasm');
  dataset = await loadDataset(await makeImageFolder(32), { imageSize: 32, channels: 3 });
});

function freshLatents(count: number, seed = 3): Float32Array {
  const table = new Random(seed).normalArray(count * config.latentDim, 0.3);
  project(table, config.latentDim, 'ball');
  return table;
}

describe('the GLO step', () => {
  it('lowers the loss when overfitting 16 images', async () => {
    const generator = buildGenerator(config, 1);
    const optimizer = tf.train.sgd(config.lrGenerator);
    const latents = freshLatents(16);
    const rows = Int32Array.from({ length: 16 }, (_, i) => i);
    const targets = batchTargets(dataset, rows);
    const latentOptimizer = latentSgd(config.lrLatent);
    const losses: number[] = [];
    for (let s = 0; s < 40; s++) {
      const { loss, codeGradient } = gloStep(generator, optimizer, gatherRows(latents, 16, rows), targets, config);
      latentOptimizer.update(latents, 16, rows, codeGradient);
      project(latents, 16, 'ball', rows);
      losses.push((await loss.data())[0]);
      loss.dispose();
    }
    targets.dispose();
    const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
    expect(last).toBeLessThan(0.6 * first);
    for (let r = 0; r < 16; r++) expect(norm(latents, r * 16, 16)).toBeLessThanOrEqual(1 + 1e-6);
  });

  it('moves only the batch rows of the latent table and every generator weight, and leaks no tensor', async () => {
    const generator = buildGenerator(config, 2);
    const optimizer = tf.train.sgd(config.lrGenerator);
    const latents = freshLatents(32);
    const rows = Int32Array.from([1, 4, 5, 9, 10, 11, 12, 13, 17, 20, 21, 22, 25, 28, 30, 31]);
    const latentOptimizer = latentSgd(config.lrLatent);
    const step = () => {
      const targets = batchTargets(dataset, rows);
      const { loss, codeGradient } = gloStep(generator, optimizer, gatherRows(latents, 16, rows), targets, config);
      latentOptimizer.update(latents, 16, rows, codeGradient);
      project(latents, 16, 'ball', rows);
      tf.dispose([loss, targets]);
    };
    step(); // the optimizer creates its state on the first step
    const before = latents.slice();
    const weightsBefore = trainableVariables(generator).map((v) => v.dataSync().slice());
    const tensorsBefore = tf.memory().numTensors;
    step();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const inBatch = new Set(rows);
    for (let r = 0; r < 32; r++) {
      const changed = latents.slice(r * 16, (r + 1) * 16).some((v, i) => v !== before[r * 16 + i]);
      expect(changed, `row ${r}`).toBe(inBatch.has(r));
    }
    trainableVariables(generator).forEach((v, i) => {
      const after = v.dataSync();
      expect(after.some((x, j) => x !== weightsBefore[i][j]), v.name).toBe(true);
    });
  });

  it('after BatchNorm recalibration, predict reproduces the training-mode reconstructions', async () => {
    const generator = buildGenerator(config, 3);
    const optimizer = tf.train.sgd(config.lrGenerator);
    const latents = freshLatents(32);
    const latentOptimizer = latentSgd(config.lrLatent);
    const random = new Random(5);
    for (let s = 0; s < 20; s++) {
      const rows = random.permutation(32).slice(0, 16);
      const targets = batchTargets(dataset, rows);
      const { loss, codeGradient } = gloStep(generator, optimizer, gatherRows(latents, 16, rows), targets, config);
      latentOptimizer.update(latents, 16, rows, codeGradient);
      project(latents, 16, 'ball', rows);
      tf.dispose([loss, targets]);
    }
    const all = Int32Array.from({ length: 32 }, (_, i) => i);
    const training = await reconstruct(generator, latents, 16, all, 'batch-statistics', undefined, 32);
    const stale = await reconstruct(generator, latents, 16, all, 'inference');
    await recalibrateBatchNorm(generator, [tf.tensor2d(gatherRows(latents, 16, all), [32, 16])]);
    const inference = await reconstruct(generator, latents, 16, all, 'inference');
    const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    expect(maxDiff(inference, training)).toBeLessThan(1e-3);
    // and the recalibration is what makes them match (the momentum averages lag behind):
    expect(maxDiff(stale, training)).toBeGreaterThan(maxDiff(inference, training));
  });
});
