import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { norm, project, type LatentProjection } from './latent.ts';
import { uninterrupted, type InterruptCheck } from './interrupt.ts';
import { Random } from './random.ts';

/**
 * A learned sampler for GLO codes, as in GLANN (Hoshen, Li & Malik, "Non-Adversarial Image Synthesis with
 * Generative Latent Nearest Neighbors", CVPR 2019): a small MLP T maps noise e ~ N(0, I) to codes, trained
 * by Implicit Maximum Likelihood Estimation (Li & Malik, "Implicit Maximum Likelihood Estimation", 2018).
 * Each round draws more noise vectors than there are codes, finds for every training code z_i its nearest
 * generated candidate T(e_j), and regresses T(e_j) onto z_i. Every code thus gets a nearby sample (no mode
 * dropping), which a single Gaussian over the codes cannot promise for multi-modal code distributions.
 *
 * Following the authors' code (yedidh/glann `icp.py`, and Li & Malik's reference IMLE):
 * - noise of 8 dimensions, by measurement (docs/quality.md), where GLANN uses half the code size (32-d noise
 *   for its 64-d MNIST codes, 60,000 of them). With the few thousand codes of a glo run, half-size noise
 *   left most of the noise space unmatched: fresh samples came out 1.5-1.8x longer than the codes and far
 *   from every one of them (Fréchet distance 44-86 against 34 with 8-d noise on the quick emoji run);
 * - Linear (no bias) - BatchNorm - ReLU twice, 128 units, then Linear (GLANN's netT);
 * - BatchNorm FROZEN while fitting (Li & Malik): before each round its statistics are set to those of a
 *   large batch of fresh noise, and both the candidates and the regression then run in inference mode. So
 *   the function that is regressed is the function that samples; in training mode the regression batches
 *   (selected noise, not N(0, I)) would be normalized by statistics the sampler never sees;
 * - about 10 candidates per code (Li & Malik; GLANN draws 2), the selected noise perturbed by 0.01 N(0, I)
 *   at every regression step, and each assignment reused for a few epochs before the next search;
 * - Adam 1e-3 with beta1 0.5 (GLANN), batch 64;
 * - the scale checked against the codes': the output layer starts scaled so that samples are as long as the
 *   codes on average, and the fit reports the same ratio at the end (ImleFit.scale).
 */
export interface ImleOptions {
  /** Noise size (default 8: measured better than GLANN's half the code size on glo's few-thousand-code runs). */
  noiseDim: number;
  /** Width of each of the two hidden layers. */
  hidden: number;
  /** Matching rounds (each: calibrate BatchNorm, draw candidates, nearest neighbours, regression epochs). */
  rounds: number;
  /** Candidates per training code in each round (IMLE's m/n; more = closer matches, slower rounds). */
  candidatesPerCode: number;
  /** Regression passes over each round's matched pairs (the assignments' reuse). */
  epochsPerRound: number;
  /** ... but at least this many regression steps per round, so small tables converge too. */
  minStepsPerRound: number;
  batchSize: number;
  /** Adam learning rate of the regression. */
  learningRate: number;
  /** Standard deviation of the noise added to the selected noise at each regression step (Li & Malik: 0.01). */
  perturbation: number;
  seed: number;
}

export function defaultImleOptions(latentDim: number, seed = 1): ImleOptions {
  return {
    noiseDim: Math.min(latentDim, 8),
    hidden: 128,
    rounds: 30,
    candidatesPerCode: 10,
    epochsPerRound: 3,
    minStepsPerRound: 50,
    batchSize: 64,
    learningRate: 1e-3,
    perturbation: 0.01,
    seed,
  };
}

/** The mapper noise [n, noiseDim] -> codes [n, latentDim]: (Dense-BatchNorm-ReLU) x 2 - Dense, seeded init. */
export function buildImleSampler(latentDim: number, options: Pick<ImleOptions, 'noiseDim' | 'hidden' | 'seed'>): tfl.Sequential {
  let seed = options.seed * 1000 + 17;
  const init = () => tfl.initializers.glorotUniform({ seed: seed++ });
  const model = tfl.sequential({ name: 'glo_imle_sampler' });
  for (let block = 0; block < 2; block++) {
    model.add(tfl.layers.dense({ units: options.hidden, useBias: false, kernelInitializer: init(), ...(block === 0 ? { inputShape: [options.noiseDim] } : {}) }));
    model.add(tfl.layers.batchNormalization({ axis: -1 }));
    model.add(tfl.layers.reLU());
  }
  model.add(tfl.layers.dense({ units: latentDim, useBias: false, kernelInitializer: init() }));
  return model;
}

/**
 * Sets every BatchNorm layer's moving statistics to the batch statistics of `noise` propagated through
 * the layers before it (inference mode after each one): afterwards inference mode on N(0, I) noise
 * normalizes as training mode on a very large batch would. Used before every round (BatchNorm frozen).
 */
export function calibrateBatchNorm(model: tfl.Sequential, noise: Float32Array, count: number): void {
  tf.tidy(() => {
    let x: tf.Tensor = tf.tensor2d(noise, [count, noise.length / count]);
    for (const layer of model.layers) {
      if (layer.getClassName() === 'BatchNormalization') {
        const { mean, variance } = tf.moments(x, 0);
        const [gamma, beta] = layer.getWeights();
        layer.setWeights([gamma, beta, mean, variance]);
      }
      x = layer.apply(x, { training: false }) as tf.Tensor;
    }
  });
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
  /** Mean norm of fresh samples (before projection) over the codes' mean norm: near 1 when the scale is right. */
  scale: number;
}

const meanNorm = (rows: Float32Array, dim: number) => {
  let total = 0;
  for (let r = 0; r < rows.length / dim; r++) total += norm(rows, r * dim, dim);
  return total / (rows.length / dim);
};

/**
 * Trains `model` on the latent table by IMLE (see the file comment). Deterministic for options.seed on a
 * given backend. `onRound` reports progress; `interrupt` is awaited before every regression step (a fit
 * takes minutes on large tables, and an interrupt must stop it within seconds).
 */
export async function fitImle(
  model: tfl.Sequential,
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
  const optimizer = tf.train.adam(options.learningRate, 0.5, 0.999);
  const weights = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const candidateCount = Math.max(1, Math.round(options.candidatesPerCode * count));
  // At least four batches per epoch, so a small table still gets enough regression steps per round.
  const batchSize = Math.max(1, Math.min(options.batchSize, Math.floor(count / 4)));
  const calibrationCount = Math.max(2048, batchSize);
  const calibrate = () => calibrateBatchNorm(model, random.normalArray(calibrationCount * noiseDim), calibrationCount);

  const match = () => {
    calibrate();
    const noise = random.normalArray(candidateCount * noiseDim);
    const candidates = mapNoise(model, noise, candidateCount);
    project(candidates, latentDim, projection);
    const { index, distance } = nearestNeighbours(codes, candidates, latentDim);
    const matched = new Float32Array(count * noiseDim);
    for (let i = 0; i < count; i++) matched.set(noise.subarray(index[i] * noiseDim, (index[i] + 1) * noiseDim), i * noiseDim);
    return { matched, loss: distance.reduce((s, v) => s + v, 0) / count };
  };

  // Start at the codes' scale. An untrained mapper's outputs can be several times longer than the codes, and
  // then the nearest candidates are the rare short ones: the regression would only ever pull those in.
  calibrate();
  const probe = mapNoise(model, random.normalArray(calibrationCount * noiseDim), calibrationCount);
  const output = model.layers[model.layers.length - 1];
  const [kernel] = output.getWeights();
  tf.tidy(() => output.setWeights([tf.mul(kernel, meanNorm(codes, latentDim) / meanNorm(probe, latentDim))]));

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
          const e = random.normalArray(batchSize * noiseDim, options.perturbation);
          const z = new Float32Array(batchSize * latentDim);
          rows.forEach((row, r) => {
            for (let k = 0; k < noiseDim; k++) e[r * noiseDim + k] += matched[row * noiseDim + k];
            z.set(codes.subarray(row * latentDim, (row + 1) * latentDim), r * latentDim);
          });
          const value = tf.tidy(() => {
            const eT = tf.tensor2d(e, [batchSize, noiseDim]);
            const zT = tf.tensor2d(z, [batchSize, latentDim]);
            // Inference mode: BatchNorm stays frozen at this round's calibration (see the file comment).
            // Squared L2 per code, averaged over the batch: the same quantity as the matching loss.
            return optimizer.minimize(() => tf.mean(tf.sum(tf.squaredDifference(model.apply(eT, { training: false }) as tf.Tensor2D, zT), 1)) as tf.Scalar, true, weights) as tf.Scalar;
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
    const final = match(); // also leaves BatchNorm calibrated to the final weights, as the model is saved
    const samples = mapNoise(model, random.normalArray(Math.min(count, 4096) * noiseDim), Math.min(count, 4096));
    return { rounds, matchingLoss: final.loss, scale: meanNorm(samples, latentDim) / meanNorm(codes, latentDim) };
  } finally {
    optimizer.dispose();
  }
}
