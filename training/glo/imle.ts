import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { project, type LatentProjection } from './latent.ts';
import { uninterrupted, type InterruptCheck } from './interrupt.ts';
import { Random } from './random.ts';

/**
 * A learned sampler for GLO codes, as in GLANN (Hoshen, Li & Malik, "Non-Adversarial Image Synthesis with
 * Generative Latent Nearest Neighbors", CVPR 2019): a small MLP T maps noise e ~ N(0, I) to codes, trained
 * by Implicit Maximum Likelihood Estimation (Li & Malik 2018). Each round draws many more noise vectors
 * than there are codes, finds for every training code z_i its nearest generated candidate T(e_j), and
 * regresses T(e_j) onto z_i for a few epochs. Every code thus gets a nearby sample (no mode dropping),
 * which a single Gaussian over the codes cannot promise for multi-modal code distributions.
 */
export interface ImleOptions {
  /** Noise size: small noise keeps samples on the codes' manifold (default min(latentDim, 8)). */
  noiseDim: number;
  /** Width of each of the two hidden layers. */
  hidden: number;
  /** Matching rounds (each: draw candidates, nearest neighbours, regression epochs). */
  rounds: number;
  /** Candidates per training code in each round (IMLE's m/n; more = closer matches, slower rounds). */
  candidatesPerCode: number;
  /** Regression passes over the matched pairs per round. */
  epochsPerRound: number;
  /** ... but at least this many regression steps per round, so small tables converge too. */
  minStepsPerRound: number;
  batchSize: number;
  /** Adam learning rate of the regression. */
  learningRate: number;
  seed: number;
}

export function defaultImleOptions(latentDim: number, seed = 1): ImleOptions {
  // Measured on a 4-mode toy run (docs/quality.md): low-dimensional noise and few candidates per code leave
  // less of the noise space untrained, so fewer samples land between modes (blends); 10 candidates and
  // d-dimensional noise matched every code but sampled blends far more often.
  return { noiseDim: Math.min(latentDim, 8), hidden: 128, rounds: 40, candidatesPerCode: 3, epochsPerRound: 4, minStepsPerRound: 50, batchSize: 64, learningRate: 1e-3, seed };
}

/** The mapper noise [n, noiseDim] -> codes [n, latentDim]: Dense-ReLU-Dense-ReLU-Dense, seeded init. */
export function buildImleSampler(latentDim: number, options: Pick<ImleOptions, 'noiseDim' | 'hidden' | 'seed'>): tfl.Sequential {
  let seed = options.seed * 1000 + 17;
  const init = () => tfl.initializers.glorotUniform({ seed: seed++ });
  const model = tfl.sequential({ name: 'glo_imle_sampler' });
  model.add(tfl.layers.dense({ units: options.hidden, activation: 'relu', inputShape: [options.noiseDim], kernelInitializer: init() }));
  model.add(tfl.layers.dense({ units: options.hidden, activation: 'relu', kernelInitializer: init() }));
  model.add(tfl.layers.dense({ units: latentDim, kernelInitializer: init() }));
  return model;
}

function noiseDimOf(model: tfl.LayersModel): number {
  return model.inputs[0].shape[1] as number;
}

/** T(e) for given noise rows [n, noiseDim], in chunks; not projected. */
export function mapNoise(model: tfl.LayersModel, noise: Float32Array, n: number, chunk = 4096): Float32Array {
  const noiseDim = noiseDimOf(model);
  const latentDim = model.outputs[0].shape[1] as number;
  const out = new Float32Array(n * latentDim);
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const y = tf.tidy(() => model.predict(tf.tensor2d(noise.subarray(start * noiseDim, (start + rows) * noiseDim), [rows, noiseDim])) as tf.Tensor);
    out.set(y.dataSync(), start * latentDim);
    y.dispose();
  }
  return out;
}

/** `n` codes from the sampler: T(e), e ~ N(0, I), projected into the latent set (what the site does too). */
export function sampleImle(model: tfl.LayersModel, n: number, random: Random, projection: LatentProjection = 'ball'): Float32Array {
  const codes = mapNoise(model, random.normalArray(n * noiseDimOf(model)), n);
  project(codes, codes.length / n, projection);
  return codes;
}

/** For each query row, the index of and squared L2 distance to its nearest candidate row. */
export function nearestNeighbours(queries: Float32Array, candidates: Float32Array, dim: number, chunk = 256): { index: Int32Array; distance: Float32Array } {
  const n = queries.length / dim;
  const m = candidates.length / dim;
  const index = new Int32Array(n);
  const distance = new Float32Array(n);
  const c = tf.tensor2d(candidates, [m, dim]);
  const cNorms = tf.sum(tf.square(c), 1);
  const cT = tf.transpose(c); // a plain matMul: with transposeB wasm runs a scalar loop
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const [idx, dist] = tf.tidy(() => {
      const q = tf.tensor2d(queries.subarray(start * dim, (start + rows) * dim), [rows, dim]);
      // |q - c|^2 = |q|^2 - 2 q.c + |c|^2; the argmin does not need |q|^2.
      const partial = tf.sub(cNorms, tf.mul(tf.matMul(q, cT), 2));
      return [tf.argMin(partial, 1), tf.add(tf.min(partial, 1), tf.sum(tf.square(q), 1))];
    });
    index.set(idx.dataSync(), start);
    distance.set(Float32Array.from(dist.dataSync() as Float32Array, (v) => Math.max(v, 0)), start);
    tf.dispose([idx, dist]);
  }
  tf.dispose([c, cT, cNorms]);
  return { index, distance };
}

export interface ImleRound {
  round: number;
  /** Mean over codes of the squared distance to the nearest of this round's candidates, before its regression. */
  matchingLoss: number;
  /** Mean squared error of the regression over the round's last epoch. */
  regressionLoss: number;
}

export interface ImleFit {
  rounds: ImleRound[];
  /** Matching loss with fresh candidates after the last round. */
  matchingLoss: number;
}

/**
 * Trains `model` on the latent table by IMLE (see the file comment). Deterministic for options.seed on a
 * given backend. `onRound` reports progress; `interrupt` is awaited before every regression step (a fit
 * takes minutes on large tables, and an interrupt must stop it within seconds).
 */
export async function fitImle(
  model: tfl.LayersModel,
  codes: Float32Array,
  latentDim: number,
  options: ImleOptions,
  projection: LatentProjection = 'ball',
  onRound?: (round: ImleRound) => void,
  interrupt: InterruptCheck = uninterrupted,
): Promise<ImleFit> {
  const count = codes.length / latentDim;
  const noiseDim = options.noiseDim;
  const random = new Random(options.seed + 101);
  const optimizer = tf.train.adam(options.learningRate);
  const weights = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const candidateCount = Math.max(1, Math.round(options.candidatesPerCode * count));
  // At least four batches per epoch, so a small table still gets enough regression steps per round.
  const batchSize = Math.max(1, Math.min(options.batchSize, Math.floor(count / 4)));

  const match = () => {
    const noise = random.normalArray(candidateCount * noiseDim);
    const candidates = mapNoise(model, noise, candidateCount);
    project(candidates, latentDim, projection);
    const { index, distance } = nearestNeighbours(codes, candidates, latentDim);
    const matched = new Float32Array(count * noiseDim);
    for (let i = 0; i < count; i++) matched.set(noise.subarray(index[i] * noiseDim, (index[i] + 1) * noiseDim), i * noiseDim);
    return { matched, loss: distance.reduce((s, v) => s + v, 0) / count };
  };

  const rounds: ImleRound[] = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      await interrupt();
      const { matched, loss } = match();
      let regressionSum = 0;
      let regressionSteps = 0;
      const stepsPerEpoch = Math.floor(count / batchSize);
      const epochs = Math.max(options.epochsPerRound, Math.ceil((options.minStepsPerRound ?? 0) / stepsPerEpoch));
      for (let epoch = 0; epoch < epochs; epoch++) {
        const order = random.permutation(count);
        const last = epoch === epochs - 1;
        for (let start = 0; start + batchSize <= count; start += batchSize) {
          await interrupt();
          const rows = order.subarray(start, start + batchSize);
          const e = new Float32Array(batchSize * noiseDim);
          const z = new Float32Array(batchSize * latentDim);
          rows.forEach((row, r) => {
            e.set(matched.subarray(row * noiseDim, (row + 1) * noiseDim), r * noiseDim);
            z.set(codes.subarray(row * latentDim, (row + 1) * latentDim), r * latentDim);
          });
          const value = tf.tidy(() => {
            const eT = tf.tensor2d(e, [batchSize, noiseDim]);
            const zT = tf.tensor2d(z, [batchSize, latentDim]);
            // Squared L2 per code, averaged over the batch: the same quantity as the matching loss.
            return optimizer.minimize(() => tf.mean(tf.sum(tf.squaredDifference(model.apply(eT, { training: true }) as tf.Tensor2D, zT), 1)) as tf.Scalar, true, weights) as tf.Scalar;
          });
          if (last) {
            regressionSum += value.dataSync()[0];
            regressionSteps++;
          }
          value.dispose();
        }
      }
      const entry = { round, matchingLoss: loss, regressionLoss: regressionSteps ? regressionSum / regressionSteps : NaN };
      rounds.push(entry);
      onRound?.(entry);
    }
    return { rounds, matchingLoss: match().loss };
  } finally {
    optimizer.dispose();
  }
}
