import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { TrainingBatchNormalization } from '../../training/glo/batch-norm.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** The same weights in tfjs-layers' BatchNormalization and in ours, both built for [n, h, w, c]. */
function pair(channels: number) {
  const args = { momentum: 0.9, epsilon: 1e-5, gammaInitializer: tfl.initializers.randomNormal({ mean: 1, stddev: 0.3, seed: 4 }), betaInitializer: tfl.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: 5 }) };
  const reference = tfl.layers.batchNormalization(args);
  const ours = new TrainingBatchNormalization(args);
  reference.build([null, 4, 4, channels]);
  ours.build([null, 4, 4, channels]);
  ours.setWeights(reference.getWeights());
  return { reference, ours };
}

describe('TrainingBatchNormalization', () => {
  it('matches tfjs-layers BatchNormalization in training mode: output, gradients of x, gamma, beta, moving statistics', () => {
    const { reference, ours } = pair(5);
    const x = tf.add(tf.mul(tf.randomNormal([6, 4, 4, 5], 0, 1, 'float32', 1), 3), 2); // mean far from 0
    const upstream = tf.randomNormal([6, 4, 4, 5], 0, 1, 'float32', 2);
    const run = (layer: tfl.layers.Layer) => {
      const [gamma, beta] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const input = tf.variable(x);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, upstream)) as tf.Scalar, [input, gamma, beta]);
      const output = layer.apply(x, { training: false }) as tf.Tensor; // after the moving-average update
      return { value, dx: grads[input.name], dgamma: grads[gamma.name], dbeta: grads[beta.name], output, moving: layer.getWeights().slice(2) };
    };
    const a = run(reference);
    const b = run(ours);
    expect(Math.abs(a.value.dataSync()[0] - b.value.dataSync()[0])).toBeLessThan(1e-3);
    expect(maxAbsDifference(a.dx, b.dx)).toBeLessThan(1e-4);
    expect(maxAbsDifference(a.dgamma, b.dgamma)).toBeLessThan(1e-3);
    expect(maxAbsDifference(a.dbeta, b.dbeta)).toBeLessThan(1e-4);
    a.moving.forEach((m, i) => expect(maxAbsDifference(m, b.moving[i])).toBeLessThan(1e-5));
    expect(maxAbsDifference(a.output, b.output)).toBeLessThan(1e-4);
    // Not vacuous: the gradients are far from zero.
    expect(tf.max(tf.abs(a.dx)).dataSync()[0]).toBeGreaterThan(0.1);
  });

  it('matches tfjs-layers BatchNormalization in inference mode: output and the gradient of x (what frozen-generator code fits take)', () => {
    const { reference, ours } = pair(5);
    // Moving statistics far from the initial 0 and 1, so the test sees them used.
    const moving = [tf.randomNormal([5], 2, 1, 'float32', 6), tf.add(tf.square(tf.randomNormal([5], 0, 2, 'float32', 7)), 0.5)];
    for (const layer of [reference, ours]) layer.setWeights([...layer.getWeights().slice(0, 2), ...moving]);
    const x = tf.add(tf.mul(tf.randomNormal([6, 4, 4, 5], 0, 1, 'float32', 1), 3), 2);
    const upstream = tf.randomNormal([6, 4, 4, 5], 0, 1, 'float32', 2);
    const run = (layer: tfl.layers.Layer) => {
      const input = tf.variable(x);
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(input, { training: false }) as tf.Tensor, upstream)) as tf.Scalar, [input]);
      return { output: layer.apply(x) as tf.Tensor, dx: grads[input.name] };
    };
    const a = run(reference);
    const b = run(ours);
    expect(maxAbsDifference(a.output, b.output)).toBeLessThan(1e-5);
    expect(maxAbsDifference(a.dx, b.dx)).toBeLessThan(1e-5);
    // Not vacuous: the moving statistics moved the output far from the training-mode normalization.
    expect(maxAbsDifference(a.output, ours.apply(x, { training: true }) as tf.Tensor)).toBeGreaterThan(0.5);
  });

  it('serializes as plain BatchNormalization and deserializes as itself', () => {
    const model = tfl.sequential({ layers: [new TrainingBatchNormalization({ inputShape: [2, 2, 3] })] });
    const json = model.toJSON(null, false) as unknown as { config: { layers: { class_name: string }[] } };
    expect(json.config.layers.map((l) => l.class_name)).toEqual(['BatchNormalization']);
    const restored = tf.serialization.SerializationMap.getMap().classNameMap.BatchNormalization[0];
    expect(restored).toBe(TrainingBatchNormalization);
  });
});
