import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { generateTraining } from './generator.ts';
import { reconstructionLoss, type LossConfig } from './laplacian.ts';

/** The generator's trainable tf.Variables (tfjs-layers keeps them behind LayerVariable.val). */
export function trainableVariables(generator: tfl.LayersModel): tf.Variable[] {
  return generator.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
}

export interface GloStepResult {
  /** The batch loss (a scalar tensor: read it asynchronously to avoid stalling the backend). */
  loss: tf.Scalar;
  /** d loss / d z for the batch's codes, [batch, latentDim]. */
  codeGradient: Float32Array;
}

/**
 * One GLO step (paper, section 3): a single backward pass gives the gradients of the loss with respect
 * to the generator's weights AND the batch's codes; the generator is updated by `optimizer`, and the
 * code gradient is returned for the caller to apply to its latent table (then project). BatchNorm runs
 * in training mode. The codes enter as a temporary variable of just the batch rows.
 */
export function gloStep(
  generator: tfl.LayersModel,
  optimizer: tf.Optimizer,
  codes: Float32Array,
  targets: tf.Tensor4D,
  lossConfig: LossConfig,
): GloStepResult {
  const batch = targets.shape[0];
  const dim = codes.length / batch;
  const initial = tf.tensor2d(codes, [batch, dim]);
  const z = tf.variable(initial, true);
  initial.dispose(); // the variable holds its own reference to the data
  try {
    const { value, grads } = tf.variableGrads(
      () => reconstructionLoss(generateTraining(generator, z), targets, lossConfig),
      [...trainableVariables(generator), z],
    );
    const zGrad = grads[z.name];
    delete grads[z.name];
    optimizer.applyGradients(grads);
    const codeGradient = zGrad.dataSync() as Float32Array;
    tf.dispose([zGrad, ...Object.values(grads)]);
    return { loss: value, codeGradient };
  } finally {
    z.dispose();
  }
}
