import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Dataset } from '../data/dataset.ts';
import { Random } from '../glo/random.ts';
import { batchTargetValues } from '../trainer/evaluate.ts';

/**
 * A small image classifier that `glo eval` trains on a labelled run's own training images, for the
 * Fréchet distance of samples in its feature space (training/glo/frechet.ts). Inception features, the
 * usual choice, describe photographs; on MNIST-like data the practice is a small classifier trained on
 * the data itself, whose features separate exactly what the dataset's classes differ by.
 *
 * Net: larger images are first averaged down to 32 px (classes differ in shape and colour, which 32 px
 * keeps; it makes training cost the same at every size), then stride-2 3x3 convolutions (32, 64, 128
 * channels) down to 4x4, a 64-unit ReLU layer (the features) and the class logits. No BatchNorm: inference equals training, so
 * features of samples and of real images are computed the same way. Seeded init and shuffle: the same
 * seed on a backend gives the same classifier and the same distances.
 */
export interface ClassifierOptions {
  seed: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Share of the labelled images kept out of training, to measure the classifier's accuracy. */
  validationFraction: number;
}

export const defaultClassifierOptions: ClassifierOptions = { seed: 1, epochs: 8, batchSize: 64, learningRate: 1e-3, validationFraction: 0.1 };

export const FEATURE_DIM = 64;
const CLASSIFIER_SIDE = 32;

export interface FeatureClassifier {
  /** images [n, s, s, c] in [-1, 1] -> [features [n, FEATURE_DIM], class probabilities [n, classes]]. */
  model: tfl.LayersModel;
  classes: string[];
  trainImages: number;
  validationImages: number;
  /** Top-1 accuracy on the validation images (never trained on). */
  accuracy: number;
  /** Mean top-class probability on the validation images: what a sample's confidence is compared with. */
  validationConfidence: number;
}

function buildClassifier(size: number, channels: number, classes: number, seed: number): { model: tfl.LayersModel; logits: tfl.LayersModel } {
  let next = seed * 1000 + 7;
  const init = () => tfl.initializers.glorotUniform({ seed: next++ });
  const input = tfl.input({ shape: [size, size, channels] });
  let x = input as tfl.SymbolicTensor;
  if (size > CLASSIFIER_SIDE) x = tfl.layers.averagePooling2d({ poolSize: size / CLASSIFIER_SIDE, strides: size / CLASSIFIER_SIDE }).apply(x) as tfl.SymbolicTensor;
  for (let side = Math.min(size, CLASSIFIER_SIDE), width = 32; side > 4; side /= 2, width = Math.min(width * 2, 128)) {
    x = tfl.layers.conv2d({ filters: width, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() }).apply(x) as tfl.SymbolicTensor;
  }
  x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
  const features = tfl.layers.dense({ units: FEATURE_DIM, activation: 'relu', kernelInitializer: init(), name: 'features' }).apply(x) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ units: classes, kernelInitializer: init(), name: 'logits' }).apply(features) as tfl.SymbolicTensor;
  const probabilities = tfl.layers.softmax().apply(logits) as tfl.SymbolicTensor;
  return {
    model: tfl.model({ inputs: input, outputs: [features, probabilities] }),
    logits: tfl.model({ inputs: input, outputs: logits }),
  };
}

/** Features and top-class probability of `count` images (row-major values in [-1, 1]), in chunks. */
export function classifierFeatures(classifier: Pick<FeatureClassifier, 'model'>, images: Float32Array, count: number, chunk = 256): { features: Float32Array; confidence: Float32Array; predicted: Int32Array } {
  const [, size, , channels] = classifier.model.inputs[0].shape as number[];
  const ppi = size * size * channels;
  const features = new Float32Array(count * FEATURE_DIM);
  const confidence = new Float32Array(count);
  const predicted = new Int32Array(count);
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const [f, top, arg] = tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(start * ppi, (start + n) * ppi), [n, size, size, channels]);
      const [feat, probs] = classifier.model.predict(x) as tf.Tensor[];
      return [feat, tf.max(probs, 1), tf.argMax(probs, 1)];
    });
    features.set(f.dataSync(), start * FEATURE_DIM);
    confidence.set(top.dataSync(), start);
    predicted.set(arg.dataSync(), start);
    tf.dispose([f, top, arg]);
  }
  return { features, confidence, predicted };
}

/** Trains the classifier on a labelled dataset's images (Adam, softmax cross-entropy), keeping a seeded validation share out. */
export async function trainFeatureClassifier(dataset: Dataset, partial: Partial<ClassifierOptions> = {}): Promise<FeatureClassifier> {
  const options = { ...defaultClassifierOptions, ...partial };
  const labels = dataset.labels;
  if (!labels) throw new Error('trainFeatureClassifier: the dataset has no labels');
  const { imageSize: size, channels, count } = dataset;
  const random = new Random(options.seed + 61);
  const order = random.permutation(count);
  const validationCount = Math.max(1, Math.round(options.validationFraction * count));
  const validationRows = order.subarray(0, validationCount);
  const trainRows = order.subarray(validationCount);
  if (trainRows.length < 2) throw new Error(`trainFeatureClassifier: ${count} labelled images are too few`);
  const { model, logits } = buildClassifier(size, channels, labels.classes.length, options.seed);
  const optimizer = tf.train.adam(options.learningRate);
  const weights = logits.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const batchSize = Math.min(options.batchSize, trainRows.length);
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const shuffled = random.permutation(trainRows.length).map((k) => trainRows[k]);
      for (let start = 0; start + batchSize <= shuffled.length; start += batchSize) {
        const rows = shuffled.subarray(start, start + batchSize);
        const x = batchTargetValues(dataset, rows);
        const y = Int32Array.from(rows, (r) => labels.index[r]);
        tf.tidy(() => {
          const xs = tf.tensor4d(x, [rows.length, size, size, channels]);
          const ys = tf.oneHot(tf.tensor1d(y, 'int32'), labels.classes.length);
          optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, logits.apply(xs) as tf.Tensor) as tf.Scalar, false, weights);
        });
        await new Promise((resolve) => setImmediate(resolve)); // lets a SIGINT handler run between steps
      }
    }
  } finally {
    // `logits` shares every layer (and so every weight) with `model`, which the caller disposes.
    optimizer.dispose();
  }
  const validation = classifierFeatures({ model }, batchTargetValues(dataset, validationRows), validationCount);
  let correct = 0;
  validationRows.forEach((r, k) => { if (validation.predicted[k] === labels.index[r]) correct++; });
  return {
    model,
    classes: labels.classes,
    trainImages: trainRows.length,
    validationImages: validationCount,
    accuracy: correct / validationCount,
    validationConfidence: validation.confidence.reduce((s, v) => s + v, 0) / validationCount,
  };
}
