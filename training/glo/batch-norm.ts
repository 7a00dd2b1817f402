import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * y = x * s + t with per-channel s = gamma / sigma and t = beta - mean * s: two passes over the activation
 * (wasm's own FusedBatchNorm kernel is a scalar loop, 5x slower than these two XNNPACK operations).
 */
function scaleAndShift(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, mean: tf.Tensor, invStd: tf.Tensor): tf.Tensor {
  const s = tf.mul(gamma, invStd);
  const t = tf.sub(beta, tf.mul(mean, s));
  return tf.add(tf.mul(x, s), t);
}

/**
 * Training-mode batch normalization as one operation with a written-out gradient. tfjs-layers normalizes
 * in training through tf.moments and tf.batchNorm, and autodiff of that chain costs about thirty passes
 * over the activation (copies, broadcasts, casts, five sums): on a 64 px DCGAN step, a fifth of the time
 * outside the convolutions. Here the forward pass is three passes (squared differences for the variance,
 * a multiply and an add) and the backward seven, with the classic BatchNorm gradient (Ioffe & Szegedy
 * 2015):
 *   dbeta = sum dy, dgamma = sum dy * xhat,
 *   dx = gamma / sigma * (dy - dbeta / M - xhat * dgamma / M), over the M = N*H*W values of a channel.
 * NHWC, per last axis. Returns the batch mean and (biased) variance for the moving statistics.
 */
export function batchNormInTraining(
  x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number,
): { y: tf.Tensor; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / x.shape[x.shape.length - 1];
  let mean!: tf.Tensor1D;
  let variance!: tf.Tensor1D;
  const normalize = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, scale, offset, save] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    mean = tf.keep(tf.mean(input, axes));
    variance = tf.keep(tf.mean(tf.squaredDifference(input, mean), axes));
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    // Saved (as kept clones) for the backward pass; the caller disposes its own mean and variance.
    save([input, scale, mean, invStd]);
    return {
      value: scaleAndShift(input, scale, offset, mean, invStd),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, g, m, inv] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        return tf.tidy(() => {
          const xhat = tf.mul(tf.sub(xs, m), inv);
          const dbeta = tf.sum(dy, axes) as tf.Tensor1D;
          const dgamma = tf.sum(tf.mul(dy, xhat), axes) as tf.Tensor1D;
          const a = tf.mul(g, inv) as tf.Tensor1D; // gamma / sigma
          const b = tf.mul(a, tf.div(dgamma, -count));
          const c = tf.mul(a, tf.div(dbeta, -count));
          const dx = tf.add(tf.add(tf.mul(dy, a), tf.mul(xhat, b)), c);
          return [dx, dgamma, dbeta];
        });
      },
    };
  });
  const y = normalize(x, gamma, beta);
  return { y, mean, variance };
}

// tfjs-layers exports the factory, not the class: take the class from an instance (a deep import would
// load a second copy of tfjs-layers in Node).
type BatchNormalization = ReturnType<typeof tfl.layers.batchNormalization>;
type BatchNormalizationArgs = Parameters<typeof tfl.layers.batchNormalization>[0];
const BatchNormalizationBase = Object.getPrototypeOf(tfl.layers.batchNormalization({})).constructor as
  (new (args?: BatchNormalizationArgs) => BatchNormalization) & { className: string };

interface BatchNormalizationInternals {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tfl.LayerVariable;
  beta: tfl.LayerVariable;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
}

/**
 * tfjs-layers' BatchNormalization with the training-mode pass above and the cheaper inference pass below;
 * weights and the saved format are the base class's (its className stays 'BatchNormalization', so saved
 * models load anywhere with tf.loadLayersModel as plain BatchNormalization). Moving statistics are updated
 * as the base class does: moving <- moving - (moving - batch) * (1 - momentum).
 */
export class TrainingBatchNormalization extends BatchNormalizationBase {
  static override className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as BatchNormalizationInternals;
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const lastAxis = self.axis === -1 || self.axis === input.shape.length - 1;
    if (!lastAxis || !self.center || !self.scale || (Array.isArray(inputs) && inputs.length !== 1)) {
      return super.call(inputs, kwargs);
    }
    if (!kwargs.training) return tf.tidy(() => batchNormInInference(input, self));
    return tf.tidy(() => {
      const { y, mean, variance } = batchNormInTraining(input, self.gamma.read() as tf.Tensor1D, self.beta.read() as tf.Tensor1D, self.epsilon);
      const decay = 1 - self.momentum;
      for (const [moving, batch] of [[self.movingMean, mean], [self.movingVariance, variance]] as const) {
        const value = moving.read();
        moving.write(tf.sub(value, tf.mul(tf.sub(value, batch), decay)));
      }
      tf.dispose([mean, variance]);
      return y;
    });
  }
}

/**
 * Inference with the moving statistics through scaleAndShift: the base class's tf.batchNorm runs wasm's
 * FusedBatchNorm, a scalar loop, and its gradient tiles the scale to the activation's full size before two
 * multiplies. Here it is two XNNPACK passes forward and one (dy * s) back, which the frozen-generator code
 * fits (the final code pass, glo eval's held-out fits) take at every step. Same values up to float
 * rounding (tested).
 */
function batchNormInInference(x: tf.Tensor, layer: BatchNormalizationInternals): tf.Tensor {
  const invStd = tf.rsqrt(tf.add(layer.movingVariance.read(), layer.epsilon));
  return scaleAndShift(x, layer.gamma.read(), layer.beta.read(), layer.movingMean.read(), invStd);
}

// Deserialization by class name: a generator reloaded from a checkpoint gets this class too, so a
// resumed run computes exactly what an uninterrupted one does. Serialization is unchanged.
tf.serialization.SerializationMap.register(TrainingBatchNormalization as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
