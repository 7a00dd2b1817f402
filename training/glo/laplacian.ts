import * as tf from '@tensorflow/tfjs-core';

/**
 * The 5-tap binomial kernel [1 4 6 4 1]/16 as a normalized 2-D outer product: the Gaussian-like
 * low-pass of Burt & Adelson's Laplacian pyramid. (minimal_glo's g(x)^2 + g(y)^2 is not separable and
 * not a blur; tests check this one against its definition.)
 */
export function binomialKernel2d(): number[][] {
  const taps = [1, 4, 6, 4, 1].map((v) => v / 16);
  return taps.map((a) => taps.map((b) => a * b));
}

function blurKernel(): tf.Tensor4D {
  return tf.tensor4d(binomialKernel2d().flat(), [5, 5, 1, 1]);
}

/**
 * The pyramid runs on single-channel planes ([n*c, h, w, 1]) and plain conv2d: the blur is depthwise,
 * and folding channels into the batch gives that with ops whose gradients every backend has (wasm has
 * no DepthwiseConv2dNative backprop kernels).
 */
function toPlanes(images: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = images.shape;
  return tf.reshape(tf.transpose(images, [0, 3, 1, 2]), [n * c, h, w, 1]);
}

/** Blur with the binomial kernel, reflect-padded so borders are not darkened; stride 2 also decimates. */
function blur(planes: tf.Tensor4D, kernel: tf.Tensor4D, stride: 1 | 2): tf.Tensor4D {
  const padded = tf.mirrorPad(planes, [[0, 0], [2, 2], [2, 2], [0, 0]], 'reflect');
  return tf.conv2d(padded, kernel, stride, 'valid');
}

/** Zero-insertion 2x upsampling followed by the blur times 4 (Burt & Adelson's EXPAND). */
function expand(planes: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w] = planes.shape;
  const cols = tf.reshape(tf.stack([planes, tf.zerosLike(planes)], 3), [n, h, 2 * w, 1]);
  const rows = tf.reshape(tf.stack([cols, tf.zerosLike(cols)], 2), [n, 2 * h, 2 * w, 1]) as tf.Tensor4D;
  return tf.mul(blur(rows, kernel, 1), 4);
}

/**
 * Laplacian pyramid with `levels` levels, finest first: levels-1 band-pass images L^j = G^j - up(G^{j+1})
 * and the low-pass residual G^{levels-1} last, each as [n*channels, h_j, w_j, 1] planes. Expanding and
 * summing the levels reconstructs the image exactly.
 */
export function laplacianPyramid(images: tf.Tensor4D, levels: number): tf.Tensor4D[] {
  const kernel = blurKernel();
  const pyramid: tf.Tensor4D[] = [];
  let current = toPlanes(images);
  for (let j = 0; j < levels - 1; j++) {
    const down = blur(current, kernel, 2);
    pyramid.push(tf.sub(current, expand(down, kernel)));
    current = down;
  }
  pyramid.push(current);
  kernel.dispose();
  return pyramid;
}

/**
 * Lap1 (paper, section 3.2): sum over levels of w_j * mean |L^j(x) - L^j(y)|. Convention: weights act on
 * each level's MEAN absolute difference (not the sum), finest level first; the default 4^-j follows the
 * common Lap1 implementations. Images are in [-1, 1].
 */
export function lap1Loss(predicted: tf.Tensor4D, target: tf.Tensor4D, weights: number[]): tf.Scalar {
  return tf.tidy(() => {
    const a = laplacianPyramid(predicted, weights.length);
    const b = laplacianPyramid(target, weights.length);
    const terms = weights.map((w, j) => tf.mul(tf.mean(tf.abs(tf.sub(a[j], b[j]))), w));
    return tf.addN(terms) as tf.Scalar;
  });
}

export interface LossConfig {
  loss: 'lap1+l2' | 'lap1' | 'l2';
  lapWeights: number[];
  l2Weight: number;
}

/** The configured reconstruction loss, averaged over the batch. */
export function reconstructionLoss(predicted: tf.Tensor4D, target: tf.Tensor4D, config: LossConfig): tf.Scalar {
  return tf.tidy(() => {
    const l2 = () => tf.mean(tf.squaredDifference(predicted, target)) as tf.Scalar;
    switch (config.loss) {
      case 'lap1':
        return lap1Loss(predicted, target, config.lapWeights);
      case 'l2':
        return l2();
      case 'lap1+l2':
        return tf.add(lap1Loss(predicted, target, config.lapWeights), tf.mul(l2(), config.l2Weight)) as tf.Scalar;
    }
  });
}
