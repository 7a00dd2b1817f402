import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Dataset } from '../data/dataset.ts';
import { batchTargets } from './evaluate.ts';
import type { GloConfig } from '../glo/config.ts';
import { gatherRows, project } from '../glo/latent.ts';
import type { LatentOptimizer } from '../glo/latent-optimizer.ts';
import { gloStep } from '../glo/step.ts';

/** What one training step reads and updates: the generator and its optimizer, the codes and theirs. */
export interface TrainingStepState {
  generator: tfl.LayersModel;
  optimizer: tf.Optimizer;
  latents: Float32Array;
  latentOptimizer: LatentOptimizer;
  dataset: Dataset;
  config: GloConfig;
}

/**
 * One step of `glo train` on the images `rows` (paper, section 3): their targets, one backward pass for
 * the generator and the batch's codes, SGD (or Adam) on the generator, the latent rows' update and their
 * projection back into Z. Returns the batch loss, unread: the caller reads it (the one host sync left)
 * and disposes it. The benchmark times exactly this function.
 */
export function trainingStep(state: TrainingStepState, rows: Int32Array): tf.Scalar {
  const { generator, optimizer, latents, latentOptimizer, dataset, config } = state;
  const dim = config.latentDim;
  const targets = batchTargets(dataset, rows);
  try {
    const { loss, codeGradient } = gloStep(generator, optimizer, gatherRows(latents, dim, rows), targets, config);
    latentOptimizer.update(latents, dim, rows, codeGradient);
    project(latents, dim, config.latentProjection, rows);
    return loss;
  } finally {
    targets.dispose();
  }
}
