import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { TrainingBatchNormalization } from './batch-norm.ts';
import { uninterrupted, type InterruptCheck } from './interrupt.ts';

export interface GeneratorShape {
  imageSize: 32 | 64 | 128;
  channels: 1 | 3;
  latentDim: number;
  generatorWidth: number;
}

/** Channels of each block from 4x4 up to the last hidden block: ngf * 2^k, halving as resolution doubles. */
export function generatorBlockWidths(shape: GeneratorShape): number[] {
  const upsamplings = Math.log2(shape.imageSize) - 2;
  return Array.from({ length: upsamplings }, (_, i) => shape.generatorWidth * 2 ** (upsamplings - 1 - i));
}

/**
 * The DCGAN generator (Radford et al. 2016) the paper uses: the code is a 1x1 "image" that a valid
 * 4x4 transposed convolution turns into 4x4, then each block doubles the side (kernel 4, stride 2) with
 * BatchNorm + ReLU, and a final transposed convolution to the image channels with tanh, so outputs are
 * in [-1, 1] like the training targets. Weights start from N(0, 0.02) as in DCGAN; `seed` makes that
 * deterministic. A plain tf.Sequential so that the saved model loads with tf.loadLayersModel anywhere.
 */
export function buildGenerator(shape: GeneratorShape, seed = 1): tfl.Sequential {
  const widths = generatorBlockWidths(shape);
  const model = tfl.sequential({ name: 'glo_generator' });
  let layerSeed = seed * 1000;
  const init = () => tfl.initializers.randomNormal({ mean: 0, stddev: 0.02, seed: layerSeed++ });
  const batchNorm = () =>
    new TrainingBatchNormalization({
      // PyTorch's DCGAN uses momentum 0.1 (= Keras 0.9): moving statistics must keep up with a
      // generator that SGD at lr 1 moves quickly; the trainer also recalibrates them at the end.
      momentum: 0.9,
      epsilon: 1e-5,
      gammaInitializer: tfl.initializers.randomNormal({ mean: 1, stddev: 0.02, seed: layerSeed++ }),
    });
  model.add(tfl.layers.reshape({ targetShape: [1, 1, shape.latentDim], inputShape: [shape.latentDim] }));
  widths.forEach((filters, i) => {
    model.add(
      tfl.layers.conv2dTranspose({
        filters,
        kernelSize: 4,
        strides: i === 0 ? 1 : 2,
        padding: i === 0 ? 'valid' : 'same',
        useBias: false,
        kernelInitializer: init(),
      }),
    );
    model.add(batchNorm());
    model.add(tfl.layers.reLU());
  });
  model.add(
    tfl.layers.conv2dTranspose({
      filters: shape.channels,
      kernelSize: 4,
      strides: 2,
      padding: 'same',
      useBias: false,
      kernelInitializer: init(),
      activation: 'tanh',
    }),
  );
  return model;
}

/** Training-mode forward pass (batch statistics in BatchNorm), as the GLO step uses it. */
export function generateTraining(generator: tfl.LayersModel, codes: tf.Tensor2D): tf.Tensor4D {
  return generator.apply(codes, { training: true }) as tf.Tensor4D;
}

/**
 * Sets every BatchNorm layer's moving statistics to the average over the given code batches, with the
 * weights frozen. The momentum-averaged statistics lag behind a generator that moved a lot in the last
 * steps; recalibrating makes `predict` (inference mode) reproduce the training-mode reconstructions.
 */
export async function recalibrateBatchNorm(
  generator: tfl.LayersModel,
  codeBatches: Iterable<tf.Tensor2D>,
  interrupt: InterruptCheck = uninterrupted,
): Promise<void> {
  const norms = generator.layers.filter((l) => l.getClassName() === 'BatchNormalization') as unknown as {
    momentum: number;
  }[];
  const saved = norms.map((l) => l.momentum);
  let k = 0;
  try {
    for (const codes of codeBatches) {
      await interrupt();
      k++;
      // momentum 1 - 1/k turns the exponential moving average into the running mean over batches.
      for (const layer of norms) layer.momentum = 1 - 1 / k;
      tf.dispose(generator.apply(codes, { training: true }) as tf.Tensor);
    }
  } finally {
    norms.forEach((l, i) => (l.momentum = saved[i]));
  }
}

/** Multiply-accumulates of one forward pass for one image, for the benchmark's GFLOP/s figure. */
export function generatorMacsPerImage(shape: GeneratorShape): number {
  const widths = [...generatorBlockWidths(shape), shape.channels];
  let macs = 0;
  let inChannels = shape.latentDim;
  let side = 4;
  for (const out of widths) {
    // A transposed conv does kernel^2 * in * out MACs per INPUT pixel.
    const inputPixels = side === 4 ? 1 : (side / 2) ** 2;
    macs += inputPixels * 16 * inChannels * out;
    inChannels = out;
    side *= 2;
  }
  return macs;
}
