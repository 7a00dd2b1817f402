import * as tf from '@tensorflow/tfjs-core';
import { orthonormalizeColumns, symmetricEigen } from './linalg.ts';
import type { Random } from './random.ts';
import { uninterrupted, type InterruptCheck } from './interrupt.ts';
import { byteToValue } from './pixels.ts';

/**
 * PCA of images by randomized SVD (Halko, Martinsson & Tropp 2011, algorithm 4.4 with power
 * iterations): used to initialize GLO's codes (paper, section 3.3) and as the baseline GLO is measured
 * against (the paper's Table 1 compares with PCA of the same dimension).
 */
export interface PcaModel {
  /** Mean image, [pixelsPerImage], in [-1, 1] units. */
  mean: Float32Array;
  /** Principal directions as rows, [components, pixelsPerImage], orthonormal. */
  components: Float32Array;
  /** Singular values of the centred data matrix, descending. */
  singularValues: Float64Array;
  componentCount: number;
  pixelsPerImage: number;
}

export interface PcaOptions {
  /** Extra random directions beyond k: accuracy of the top k. */
  oversample?: number;
  /** Power iterations: sharpen the spectrum when it decays slowly, as image spectra do. */
  powerIterations?: number;
  /** Fit on at most this many images (a seeded random subset) to bound memory; all are encoded. */
  maxFitImages?: number;
  /** Awaited between the fit's stages; it throws to stop (an interrupt). */
  interrupt?: InterruptCheck;
}

/** uint8 pixels (images contiguous) to float32 in [-1, 1], the generator's output range. */
export function pixelsToTensor(pixels: Uint8Array, rows: number, pixelsPerImage: number): tf.Tensor2D {
  const f = new Float32Array(rows * pixelsPerImage);
  for (let i = 0; i < f.length; i++) f[i] = byteToValue(pixels[i]);
  return tf.tensor2d(f, [rows, pixelsPerImage]);
}

function toTensor(a: Float64Array, rows: number, cols: number): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(a), [rows, cols]);
}

function orthonormalTensor(t: tf.Tensor2D): tf.Tensor2D {
  const [rows, cols] = t.shape;
  const a = Float64Array.from(t.dataSync());
  t.dispose();
  orthonormalizeColumns(a, rows, cols);
  return toTensor(a, rows, cols);
}

export async function fitPca(
  pixels: Uint8Array,
  count: number,
  pixelsPerImage: number,
  componentCount: number,
  random: Random,
  options: PcaOptions = {},
): Promise<PcaModel> {
  // Awaited between the stages (each a big product or a float64 orthonormalization, about a second on
  // 8,192 images): the fit takes seconds to tens of seconds, and an interrupt must not wait for all of it.
  const interrupt = options.interrupt ?? uninterrupted;
  const maxFit = options.maxFitImages ?? 8192;
  const fitRows = count <= maxFit ? Array.from({ length: count }, (_, i) => i) : Array.from(random.permutation(count).slice(0, maxFit)).sort((a, b) => a - b);
  const m = fitRows.length;
  const fitPixels = new Uint8Array(m * pixelsPerImage);
  fitRows.forEach((row, i) => fitPixels.set(pixels.subarray(row * pixelsPerImage, (row + 1) * pixelsPerImage), i * pixelsPerImage));
  const k = Math.min(componentCount, m, pixelsPerImage);
  const l = Math.min(k + (options.oversample ?? 10), m, pixelsPerImage);

  const raw = pixelsToTensor(fitPixels, m, pixelsPerImage);
  const meanT = tf.mean(raw, 0);
  const x = tf.sub(raw, meanT) as tf.Tensor2D;
  raw.dispose();
  // Every product below is a plain one on explicit transposes: wasm runs matMul with transposeA/B in a
  // scalar loop, about 10x slower than XNNPACK's GEMM.
  const xT = tf.transpose(x);
  // `live` is the one intermediate held between stages, so a stop can dispose everything.
  let live: tf.Tensor2D | undefined;
  try {
    await interrupt();
    const omega = tf.tensor2d(random.normalArray(pixelsPerImage * l), [pixelsPerImage, l]);
    live = orthonormalTensor(tf.matMul(x, omega));
    omega.dispose();
    for (let i = 0; i < (options.powerIterations ?? 2); i++) {
      for (const side of [xT, x]) {
        await interrupt();
        const next = orthonormalTensor(tf.matMul(side, live));
        live.dispose();
        live = next;
      }
    }
    await interrupt();
  } catch (error) {
    tf.dispose([x, xT, meanT, ...(live ? [live] : [])]);
    throw error;
  }
  const q = live;
  const qT = tf.transpose(q);
  const b = tf.matMul(qT, x); // [l, D]
  tf.dispose([q, qT, x, xT]);
  const bT = tf.transpose(b);
  const bbt = tf.matMul(b, bT);
  bT.dispose();
  const { values, vectors } = symmetricEigen(Float64Array.from(bbt.dataSync()), l);
  bbt.dispose();
  const singularValues = values.slice(0, k).map((v) => Math.sqrt(Math.max(v, 0)));
  // Right singular vectors: V = B^T W S^-1, taken as rows (components) directly: V^T = S^-1 W^T B.
  const wk = new Float64Array(l * k);
  for (let r = 0; r < l; r++) for (let c = 0; c < k; c++) wk[r * k + c] = vectors[r * l + c] / (singularValues[c] || 1);
  const wkT = tf.transpose(toTensor(wk, l, k));
  const comps = tf.matMul(wkT, b);
  const components = comps.dataSync() as Float32Array;
  const mean = meanT.dataSync() as Float32Array;
  tf.dispose([wkT, comps, b, meanT]);
  return { mean, components, singularValues, componentCount: k, pixelsPerImage };
}

/** Codes (x - mean) V of images, [count, k], computed in chunks to bound memory. */
export function pcaEncode(model: PcaModel, pixels: Uint8Array, count: number, chunk = 1024): Float32Array {
  const { componentCount: k, pixelsPerImage: d } = model;
  const out = new Float32Array(count * k);
  const compsT = tf.tidy(() => tf.transpose(tf.tensor2d(model.components, [k, d])));
  const mean = tf.tensor1d(model.mean);
  for (let start = 0; start < count; start += chunk) {
    const rows = Math.min(chunk, count - start);
    const codes = tf.tidy(() => {
      const x = tf.sub(pixelsToTensor(pixels.subarray(start * d, (start + rows) * d), rows, d), mean);
      return tf.matMul(x, compsT);
    });
    out.set(codes.dataSync(), start * k);
    codes.dispose();
  }
  tf.dispose([compsT, mean]);
  return out;
}

/**
 * Images mean + codes V^T, [count, pixelsPerImage] in [-1, 1] (unclipped), in chunks like pcaEncode. The
 * pixels are read outside tf.tidy: tidy walks a returned typed array element by element looking for tensors,
 * which throws "Set maximum size exceeded" beyond 2^24 values (1,366 images at 64 px).
 */
export function pcaDecode(model: PcaModel, codes: Float32Array, count: number, chunk = 1024): Float32Array {
  const { componentCount: k, pixelsPerImage: d } = model;
  const out = new Float32Array(count * d);
  const comps = tf.tensor2d(model.components, [k, d]);
  const mean = tf.tensor1d(model.mean);
  for (let start = 0; start < count; start += chunk) {
    const rows = Math.min(chunk, count - start);
    const images = tf.tidy(() => tf.add(tf.matMul(tf.tensor2d(codes.subarray(start * k, (start + rows) * k), [rows, k]), comps), mean));
    out.set(images.dataSync(), start * d);
    images.dispose();
  }
  tf.dispose([comps, mean]);
  return out;
}
