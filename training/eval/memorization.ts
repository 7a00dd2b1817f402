import * as tf from '@tensorflow/tfjs-core';

/**
 * Nearest-neighbour distances in pixel space, for the memorization check: does a sample sit much closer
 * to some training image than training images sit to each other? Distances are RMS per pixel in [0, 1]
 * units (sqrt of the MSE to the neighbour), for images given in [-1, 1].
 */
export function nearestDistances(queries: Float32Array, reference: Float32Array, pixelsPerImage: number, excludeSelf = false, chunk = 128): Float32Array {
  const n = queries.length / pixelsPerImage;
  const m = reference.length / pixelsPerImage;
  if (excludeSelf && queries !== reference) throw new Error('excludeSelf needs the reference set as the queries.');
  const out = new Float32Array(n);
  const ref = tf.tensor2d(reference, [m, pixelsPerImage]);
  const refNorms = tf.sum(tf.square(ref), 1);
  // Transposed once here: a matMul with transposeB runs in a scalar loop on wasm, ~10x slower than XNNPACK's.
  const refT = tf.transpose(ref);
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const d2 = tf.tidy(() => {
      const q = tf.tensor2d(queries.subarray(start * pixelsPerImage, (start + rows) * pixelsPerImage), [rows, pixelsPerImage]);
      const qNorms = tf.sum(tf.square(q), 1, true);
      return tf.add(tf.sub(refNorms, tf.mul(tf.matMul(q, refT), 2)), qNorms);
    });
    const values = d2.dataSync();
    d2.dispose();
    for (let r = 0; r < rows; r++) {
      let best = Infinity;
      for (let j = 0; j < m; j++) {
        if (excludeSelf && j === start + r) continue;
        const v = values[r * m + j];
        if (v < best) best = v;
      }
      // [-1, 1] to [0, 1] halves distances: RMS = sqrt(d2 / D) / 2.
      out[start + r] = Math.sqrt(Math.max(best, 0) / pixelsPerImage) / 2;
    }
  }
  tf.dispose([ref, refT, refNorms]);
  return out;
}

/** The q-quantile (0..1) of values, linear between order statistics. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
