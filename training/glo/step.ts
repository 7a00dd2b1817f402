import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { generateTraining } from './generator.ts';
import { reconstructionLoss, type LossConfig } from './laplacian.ts';

/** The generator's trainable tf.Variables (tfjs-layers keeps them behind LayerVariable.val). */
export function trainableVariables(generator: tfl.LayersModel): tf.Variable[] {
  return generator.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
}

/**
 * The factor the generator's output-layer gradient is multiplied by under plain SGD: channels / 3.
 *
 * Why: the loss is a mean over every pixel AND channel, so each of an RGB generator's three output
 * kernels gets 1/3 of its channel's loss gradient; the paper's lr 1 (like minimal_glo's, on LSUN) is
 * an RGB setting. A 1-channel generator is the same network with one output kernel, which therefore
 * gets the full gradient and steps 3x further at the same lr. That layer is already past the edge of
 * SGD stability at lr 1: its inputs are ReLUs (all >= 0, mean ~0.4), so the direction "all weights
 * move together" has a curvature of about 2 * 0.4^2 * (4 * ngf) / C, and a target mean far from 0
 * pushes along it. RGB emoji survive the first step (pre-tanh mean +2.9, from which they recover);
 * grayscale gets 3x that push. On MNIST (targets mostly -1) the first step moved the output kernel by
 * 6.5x its norm and the pre-tanh activations to mean -11 (99% beyond |3|), where tanh' ~ 1e-9: from
 * step 2 on the generator was one constant black image (eval PSNR 10.06 dB, loss flat at 0.62). The
 * same 512 digits as R=G=B RGB images trained to 20.4 dB in 10 epochs.
 *
 * Scaling the output kernel's gradient by C / 3 makes a grayscale generator train exactly like an RGB
 * generator with three equal output kernels on R=G=B targets (same loss, code gradients and hidden-
 * layer gradients; only the output step is 1/3), i.e. the paper's setting; RGB training is unchanged.
 * Adam is (up to its epsilon) invariant to a constant gradient scale, so it is left alone.
 */
export function outputGradientScale(optimizer: tf.Optimizer, channels: number): number {
  // By class name: tfjs' Optimizer duck-types `instanceof` (any optimizer is an "SGDOptimizer").
  return ['SGD', 'Momentum'].includes(optimizer.getClassName()) ? channels / 3 : 1;
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
    const scale = outputGradientScale(optimizer, targets.shape[3]);
    if (scale !== 1) {
      // The output layer's kernel is the generator's last trainable weight (see outputGradientScale).
      const outputKernel = trainableVariables(generator).at(-1) as tf.Variable;
      const raw = grads[outputKernel.name];
      grads[outputKernel.name] = tf.mul(raw, scale);
      raw.dispose();
    }
    optimizer.applyGradients(grads);
    const codeGradient = zGrad.dataSync() as Float32Array;
    tf.dispose([zGrad, ...Object.values(grads)]);
    return { loss: value, codeGradient };
  } finally {
    z.dispose();
  }
}
