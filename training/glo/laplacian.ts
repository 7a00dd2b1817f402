import * as tf from '@tensorflow/tfjs-core';

/** The 5 taps [1 4 6 4 1]/16 of the binomial (Gaussian-like) low-pass of Burt & Adelson's pyramid. */
const BINOMIAL_TAPS = [1, 4, 6, 4, 1].map((v) => v / 16);

/**
 * The 5x5 binomial kernel as a normalized 2-D outer product. (minimal_glo's g(x)^2 + g(y)^2 is not
 * separable and not a blur; tests check this one against its definition.) The pyramid below applies it
 * separably, one axis at a time, which is the same operator.
 */
export function binomialKernel2d(): number[][] {
  return BINOMIAL_TAPS.map((a) => BINOMIAL_TAPS.map((b) => a * b));
}

/** Index i of a signal of length n after reflect padding (edge sample not repeated: ... 2 1 | 0 1 2 ...). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

/**
 * The pyramid's two 1-D operators on a signal of length n, as dense row-major matrices:
 * - REDUCE: blur with the binomial taps (reflect-padded, so borders are not darkened), keep every other
 *   sample: [n/2, n];
 * - EXPAND: insert a zero after every sample, blur, times 2: [2m, m] for a signal of length m.
 * A 2-D REDUCE or EXPAND of a plane X is M X M^T (the 5x5 kernel is the outer product of the taps and
 * reflect padding acts on each axis alone), and EXPAND's factor 2 per axis is Burt & Adelson's 4.
 */
export function reduceMatrix(n: number): Float32Array {
  const m = new Float32Array((n / 2) * n);
  for (let o = 0; o < n / 2; o++) {
    for (let t = 0; t < 5; t++) m[o * n + reflect(2 * o + t - 2, n)] += BINOMIAL_TAPS[t];
  }
  return m;
}

export function expandMatrix(m: number): Float32Array {
  const n = 2 * m;
  const out = new Float32Array(n * m);
  // up[o] = 2 * sum_t taps[t] * zeroInserted[reflect(o + t - 2)], zeroInserted[2i] = x[i], odd samples 0.
  for (let o = 0; o < n; o++) {
    for (let t = 0; t < 5; t++) {
      const k = reflect(o + t - 2, n);
      if (k % 2 === 0) out[o * m + k / 2] += 2 * BINOMIAL_TAPS[t];
    }
  }
  return out;
}

/**
 * A 1-D operator M [k, n] ready for `separable`: M^T as a [n, k] tensor (plain matmuls run on XNNPACK in
 * wasm, transposed ones in a scalar loop, 9x slower at 64 px). Small constants, made per call so that
 * no tensor outlives a backend switch.
 */
function operator(m: Float32Array, k: number, n: number): tf.Tensor2D {
  const transposed = new Float32Array(n * k);
  for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) transposed[c * k + r] = m[r * n + c];
  return tf.tensor2d(transposed, [n, k]);
}

/**
 * M X M^T for every plane X of [p, n, n], given M^T [n, k]: each axis is one 2-D matmul, and the plane's
 * axes are swapped after each, so the second application restores the orientation.
 */
function separable(planes: tf.Tensor3D, mT: tf.Tensor2D): tf.Tensor3D {
  const [p, n] = planes.shape;
  const k = mT.shape[1];
  const alongColumns = tf.reshape(tf.matMul(tf.reshape(planes, [p * n, n]), mT), [p, n, k]);
  const swapped = tf.reshape(tf.transpose(alongColumns, [0, 2, 1]), [p * k, n]);
  return tf.transpose(tf.reshape(tf.matMul(swapped, mT), [p, k, k]), [0, 2, 1]);
}

interface PyramidOperators {
  /** REDUCE of each level's side, finest first (levels - 1 of them), and its adjoint REDUCE^T. */
  reduce: tf.Tensor2D[];
  reduceAdjoint: tf.Tensor2D[];
  /** EXPAND back to each level's side, and its adjoint. */
  expand: tf.Tensor2D[];
  expandAdjoint: tf.Tensor2D[];
}

function pyramidOperators(side: number, levels: number): PyramidOperators {
  const ops: PyramidOperators = { reduce: [], reduceAdjoint: [], expand: [], expandAdjoint: [] };
  for (let j = 0, n = side; j < levels - 1; j++, n /= 2) {
    if (n % 2 !== 0 || n < 2) throw new Error(`laplacianPyramid: ${side} px images have no level ${j + 1} (side ${n} is not even)`);
    const reduce = reduceMatrix(n);
    const expand = expandMatrix(n / 2);
    ops.reduce.push(operator(reduce, n / 2, n));
    ops.reduceAdjoint.push(tf.tensor2d(reduce, [n / 2, n])); // (M^T)^T = M: row-major M is the adjoint's input
    ops.expand.push(operator(expand, n, n / 2));
    ops.expandAdjoint.push(tf.tensor2d(expand, [n, n / 2]));
  }
  return ops;
}

/** [n, h, w, c] images -> [n*c, h, w] planes, image-major then channel (the blur is per channel). */
function toPlanes(images: tf.Tensor4D): tf.Tensor3D {
  const [n, h, w, c] = images.shape;
  if (h !== w) throw new Error(`laplacianPyramid: images must be square, got ${h}x${w}`);
  return c === 1 ? tf.reshape(images, [n, h, w]) : tf.reshape(tf.transpose(images, [0, 3, 1, 2]), [n * c, h, w]);
}

function fromPlanes(planes: tf.Tensor3D, n: number, c: number): tf.Tensor4D {
  const [, h, w] = planes.shape;
  return c === 1 ? tf.reshape(planes, [n, h, w, 1]) : tf.transpose(tf.reshape(planes, [n, c, h, w]), [0, 2, 3, 1]);
}

/** Band-pass levels L^j = G^j - EXPAND(G^{j+1}), finest first, then the residual G^{levels-1}, as planes. */
function pyramidOfPlanes(planes: tf.Tensor3D, ops: PyramidOperators): tf.Tensor3D[] {
  const levels: tf.Tensor3D[] = [];
  let current = planes;
  ops.reduce.forEach((reduce, j) => {
    const down = separable(current, reduce);
    levels.push(tf.sub(current, separable(down, ops.expand[j])));
    current = down;
  });
  levels.push(current);
  return levels;
}

/**
 * Laplacian pyramid with `levels` levels, finest first: levels-1 band-pass images L^j = G^j - up(G^{j+1})
 * and the low-pass residual G^{levels-1} last, each as [n*channels, h_j, w_j, 1] planes (image-major,
 * then channel). Expanding and summing the levels reconstructs the image exactly.
 */
export function laplacianPyramid(images: tf.Tensor4D, levels: number): tf.Tensor4D[] {
  return tf.tidy(() => {
    const ops = pyramidOperators(images.shape[1], levels);
    return pyramidOfPlanes(toPlanes(images), ops).map((l) => tf.expandDims(l, 3) as tf.Tensor4D);
  });
}

export interface LossConfig {
  loss: 'lap1+l2' | 'lap1' | 'l2';
  lapWeights: number[];
  l2Weight: number;
}

/**
 * Each image's reconstruction loss, [n], with what its gradient needs: the difference and its pyramid.
 *
 * Lap1 (paper, section 3.2) = sum_j w_j * mean |L^j(predicted) - L^j(target)|. Convention: the weights act
 * on each level's MEAN absolute difference (not the sum), finest level first; the residual is the last
 * level. The pyramid is linear, so L^j(a) - L^j(b) = L^j(a - b): one pyramid of the difference instead
 * of two. "+ l2" adds l2Weight * mean (predicted - target)^2. Images are in [-1, 1].
 */
function lossTerms(predicted: tf.Tensor4D, target: tf.Tensor4D, config: LossConfig): { perImage: tf.Tensor1D; difference: tf.Tensor4D; levels: tf.Tensor3D[] } {
  const n = predicted.shape[0];
  const difference: tf.Tensor4D = tf.sub(predicted, target);
  const perImageTerms: tf.Tensor1D[] = [];
  let levels: tf.Tensor3D[] = [];
  if (config.loss !== 'l2') {
    const weights = config.lapWeights;
    levels = pyramidOfPlanes(toPlanes(difference), pyramidOperators(predicted.shape[1], weights.length));
    // Per-image means: a level's planes are image-major, so an image's mean is over its c planes.
    levels.forEach((level, j) => perImageTerms.push(tf.mul(tf.mean(tf.reshape(tf.abs(level), [n, -1]), 1), weights[j])));
  }
  if (config.loss !== 'lap1') {
    perImageTerms.push(tf.mul(tf.mean(tf.reshape(tf.square(difference), [n, -1]), 1), l2WeightOf(config)));
  }
  return { perImage: tf.addN(perImageTerms), difference, levels };
}

const l2WeightOf = (config: LossConfig) => (config.loss === 'l2' ? 1 : config.l2Weight);

/**
 * The gradient of the batch MEAN of lossTerms with respect to `predicted`, written out rather than taped:
 * with s_j = w_j sign(L^j d) / size_j, going from the residual up, dG^j = s_j + REDUCE^T(dG^{j+1} -
 * EXPAND^T s_j), with REDUCE^T and EXPAND^T the transposed matrices; l2 adds 2 l2Weight d / size.
 */
function meanLossGradient(difference: tf.Tensor4D, levels: tf.Tensor3D[], config: LossConfig): tf.Tensor4D {
  const [n, side, , c] = difference.shape;
  const gradientTerms: tf.Tensor4D[] = [];
  if (config.loss !== 'l2') {
    const ops = pyramidOperators(side, levels.length);
    const signs: tf.Tensor3D[] = levels.map((level, j) => tf.mul(tf.sign(level), config.lapWeights[j] / level.size));
    let upstream = signs[signs.length - 1];
    for (let j = signs.length - 2; j >= 0; j--) {
      const expandAdjoint = separable(signs[j], ops.expandAdjoint[j]);
      upstream = tf.add(signs[j], separable(tf.sub(upstream, expandAdjoint), ops.reduceAdjoint[j]));
    }
    gradientTerms.push(fromPlanes(upstream, n, c));
  }
  if (config.loss !== 'lap1') gradientTerms.push(tf.mul(difference, (2 * l2WeightOf(config)) / difference.size));
  return tf.addN(gradientTerms);
}

/**
 * The reconstruction loss of each image separately, [n]: the means are taken per image, so the batch mean
 * of this is reconstructionLoss and each code's gradient does not depend on the other images. A custom
 * gradient: no pyramid is taped, and a forward-only call (scoring codes) never runs the backward pass.
 */
export function perImageLoss(predicted: tf.Tensor4D, target: tf.Tensor4D, config: LossConfig | 'l2'): tf.Tensor1D {
  const resolved: LossConfig = config === 'l2' ? { loss: 'l2', lapWeights: [], l2Weight: 1 } : config;
  const n = predicted.shape[0];
  const withGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
    const { perImage, difference, levels } = lossTerms(x, target, resolved);
    save([difference, ...levels]);
    return {
      value: perImage,
      // d mean / d x is meanLossGradient; d perImage_i / d x is n times its image-i part.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const [d, ...pyramid] = saved as [tf.Tensor4D, ...tf.Tensor3D[]];
        return tf.mul(meanLossGradient(d, pyramid, resolved), tf.reshape(tf.mul(dy, n), [n, 1, 1, 1]));
      }),
    };
  });
  return withGradient(predicted) as tf.Tensor1D;
}

/** The configured reconstruction loss, averaged over the batch. */
export function reconstructionLoss(predicted: tf.Tensor4D, target: tf.Tensor4D, config: LossConfig): tf.Scalar {
  return tf.tidy(() => tf.mean(perImageLoss(predicted, target, config)));
}

/** Lap1 alone, averaged over the batch (weights on per-level means, finest first). */
export function lap1Loss(predicted: tf.Tensor4D, target: tf.Tensor4D, weights: number[]): tf.Scalar {
  return reconstructionLoss(predicted, target, { loss: 'lap1', lapWeights: weights, l2Weight: 0 });
}
