// Times the trainer's own GLO step (training/trainer/training-step.ts, what `glo train` runs per batch), the
// generator alone, and the parts of one step, on the active tfjs backend. Everything here is built with
// the trainer's code (resolveConfig, buildGenerator, the optimizers, the loss): no copy of the model.
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data/dataset.ts';
import { batchTargets } from '../trainer/evaluate.ts';
import { resolveConfig, type GloConfig, type GloConfigInput } from '../glo/config.ts';
import { buildGenerator, generateTraining, generatorMacsPerImage } from '../glo/generator.ts';
import { reconstructionLoss } from '../glo/laplacian.ts';
import { gatherRows, project } from '../glo/latent.ts';
import { latentLazyAdam, latentSgd } from '../glo/latent-optimizer.ts';
import { Random } from '../glo/random.ts';
import { trainableVariables } from '../glo/step.ts';
import { trainingStep, type TrainingStepState } from '../trainer/training-step.ts';
import { valuesPerImage } from '../glo/pixels.ts';

/**
 * FLOPs of the generator's share of one step per image: the forward transposed convolutions and the two
 * backward convolutions of each (input and filter gradients), each as many multiply-adds as the forward,
 * at 2 FLOP per multiply-add. The loss, BatchNorm and the updates are not counted: the figure says how
 * close the convolutions come to the machine's peak.
 */
export function stepFlopsPerImage(config: GloConfig): number {
  return 3 * 2 * generatorMacsPerImage(config);
}

/** A dataset of random pixels with the config's shape: the step's cost does not depend on content. */
export function syntheticDataset(config: GloConfig, count: number, seed = 1): Dataset {
  const random = new Random(seed);
  const pixels = Uint8Array.from({ length: count * valuesPerImage(config) }, () => random.int(256));
  return {
    source: 'synthetic', imageSize: config.imageSize, channels: config.channels, count, pixels,
    names: Array.from({ length: count }, (_, i) => `synthetic-${i}`), skipped: [],
  };
}

export interface StepBreakdown {
  /** Milliseconds per step, each timed alone on the same batch (wasm and cpu run synchronously). */
  dataMs: number;
  generatorForwardMs: number;
  lossForwardBackwardMs: number;
  latentUpdateMs: number;
  hostSyncMs: number;
  /** The rest of the whole step: the generator's backward pass and the generator's optimizer update. */
  generatorBackwardAndUpdateMs: number;
}

export interface StepBenchResult {
  config: GloConfig;
  steps: number;
  stepImagesPerSecond: number;
  /** Forward + backward of the generator alone (a linear loss, no update, no data): the step's ceiling. */
  generatorImagesPerSecond: number;
  stepGflops: number;
  generatorGflops: number;
  stepMs: number;
  breakdown: StepBreakdown;
}

export interface StepBenchOptions {
  /** Training options on top of the paper preset (imageSize, batchSize, ...). */
  config: GloConfigInput;
  /** Timed steps, after one untimed warm-up (XNNPACK operator creation, heap growth). */
  steps: number;
}

/** Median of the times `run` takes over `repeats` calls, in ms, after one warm-up call. */
function timeMs(run: () => void): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

function medianMs(repeats: number, run: () => void): number {
  run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export function benchTrainingStep(options: StepBenchOptions): StepBenchResult {
  const config = resolveConfig(options.config, 'paper');
  const batch = config.batchSize;
  const dim = config.latentDim;
  const dataset = syntheticDataset(config, Math.max(2 * batch, 256));
  const random = new Random(config.seed);
  const generator = buildGenerator(config, config.seed);
  const optimizer = config.optimizer === 'sgd' ? tf.train.sgd(config.lrGenerator) : tf.train.adam(config.lrGenerator);
  const latents = random.normalArray(dataset.count * dim, 1 / Math.sqrt(dim));
  project(latents, dim, config.latentProjection);
  const state: TrainingStepState = {
    generator, optimizer, latents, dataset, config,
    latentOptimizer: config.optimizer === 'sgd' ? latentSgd(config.lrLatent) : latentLazyAdam(config.lrLatent, dataset.count, dim),
  };
  const permutation = random.permutation(dataset.count);
  let cursor = 0;
  const nextRows = () => {
    if (cursor + batch > dataset.count) cursor = 0;
    return permutation.slice(cursor, (cursor += batch));
  };
  try {
    const rows = nextRows();
    const codes = tf.tensor2d(gatherRows(latents, dim, rows), [batch, dim]);
    const targets = batchTargets(dataset, rows);
    const predicted = tf.tidy(() => generateTraining(generator, codes));
    const weights = [...trainableVariables(generator)];
    const upstream = tf.randomNormal(predicted.shape, 0, 1, 'float32', 7);
    const z = tf.variable(codes, true);
    const timeSync = (f: () => tf.Tensor | tf.Tensor[]) => medianMs(options.steps, () => {
      const out = f();
      for (const t of Array.isArray(out) ? out : [out]) t.dataSync();
      tf.dispose(out);
    });
    // The whole step (read back as the trainer does) and the generator alone, timed in alternation so
    // that a machine whose speed drifts affects both alike; medians of each.
    const step = () => {
      const loss = trainingStep(state, nextRows());
      loss.dataSync();
      loss.dispose();
    };
    const generatorAlone = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(generateTraining(generator, z), upstream)) as tf.Scalar, [...weights, z]);
      for (const t of [value, ...Object.values(grads)]) t.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    generatorAlone();
    const stepTimes: number[] = [];
    const generatorTimes: number[] = [];
    for (let i = 0; i < options.steps; i++) {
      stepTimes.push(timeMs(step));
      generatorTimes.push(timeMs(generatorAlone));
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
    const stepMs = median(stepTimes);
    const generatorMs = median(generatorTimes);
    const breakdown: Omit<StepBreakdown, 'generatorBackwardAndUpdateMs'> = {
      dataMs: medianMs(options.steps, () => batchTargets(dataset, rows).dispose()),
      generatorForwardMs: timeSync(() => generateTraining(generator, codes)),
      lossForwardBackwardMs: timeSync(() => tf.grad((x: tf.Tensor) => reconstructionLoss(x as tf.Tensor4D, targets, config))(predicted)),
      latentUpdateMs: medianMs(options.steps, () => {
        const gradient = new Float32Array(batch * dim).fill(1e-4);
        state.latentOptimizer.update(latents, dim, rows, gradient);
        project(latents, dim, config.latentProjection, rows);
      }),
      // What the trainer reads back per step: the batch's code gradient and the loss.
      hostSyncMs: medianMs(options.steps, () => {
        const g = tf.tidy(() => tf.add(codes, 0));
        const l = tf.tidy(() => tf.sum(codes));
        g.dataSync();
        l.dataSync();
        tf.dispose([g, l]);
      }),
    };
    tf.dispose([codes, targets, predicted, upstream, z]);
    const accounted = breakdown.dataMs + breakdown.generatorForwardMs + breakdown.lossForwardBackwardMs + breakdown.latentUpdateMs + breakdown.hostSyncMs;
    const flops = stepFlopsPerImage(config) * batch;
    return {
      config, steps: options.steps, stepMs,
      stepImagesPerSecond: (1000 * batch) / stepMs,
      generatorImagesPerSecond: (1000 * batch) / generatorMs,
      stepGflops: flops / stepMs / 1e6,
      generatorGflops: flops / generatorMs / 1e6,
      breakdown: { ...breakdown, generatorBackwardAndUpdateMs: Math.max(0, stepMs - accounted) },
    };
  } finally {
    generator.dispose();
    optimizer.dispose();
  }
}

/**
 * The best GFLOP/s this backend reaches on a large square matrix product: the practical ceiling of the
 * machine for this backend and thread count (XNNPACK's SIMD GEMM on wasm), against which the step's
 * convolution GFLOP/s is read.
 */
export function matmulCeilingGflops(side = 1024, repeats = 5, rounds = 3): number {
  const a = tf.randomNormal([side, side], 0, 1, 'float32', 1);
  const b = tf.randomNormal([side, side], 0, 1, 'float32', 2);
  try {
    // The best of a few rounds (each a median): a ceiling is what the machine reaches when it is quiet.
    const ms = Math.min(...Array.from({ length: rounds }, () => medianMs(repeats, () => {
      const product = tf.matMul(a, b);
      product.dataSync();
      product.dispose();
    })));
    return (2 * side ** 3) / ms / 1e6;
  } finally {
    tf.dispose([a, b]);
  }
}
