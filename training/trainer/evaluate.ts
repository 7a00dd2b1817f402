import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Dataset } from '../data/dataset.ts';
import { uninterrupted, type InterruptCheck } from '../glo/interrupt.ts';
import { gatherRows, stackRows } from '../glo/latent.ts';
import { byteToValue, valuesPerImage } from '../glo/pixels.ts';
import { meanImageMetrics } from '../glo/metrics.ts';

/** Identifies a dataset's content order, so a checkpoint is never resumed on different images. */
export function datasetDigest(dataset: Dataset): string {
  const hash = createHash('sha256');
  hash.update(`${dataset.count}\n${dataset.imageSize}\n${dataset.channels}\n`);
  for (const name of dataset.names) hash.update(`${name}\n`);
  return hash.digest('hex').slice(0, 32);
}

/** Targets in the generator's range [-1, 1], NHWC, for the given dataset rows. */
export function batchTargets(dataset: Dataset, rows: ArrayLike<number>): tf.Tensor4D {
  return tf.tensor4d(batchTargetValues(dataset, rows), [rows.length, dataset.imageSize, dataset.imageSize, dataset.channels]);
}

export function batchTargetValues(dataset: Dataset, rows: ArrayLike<number>): Float32Array {
  const ppi = valuesPerImage(dataset);
  const values = new Float32Array(rows.length * ppi);
  for (let r = 0; r < rows.length; r++) {
    const src = rows[r] * ppi;
    for (let i = 0; i < ppi; i++) values[r * ppi + i] = byteToValue(dataset.pixels[src + i]);
  }
  return values;
}

/**
 * g(z_i) for the given rows, in chunks. 'inference' uses BatchNorm's moving statistics (what a saved
 * model does); 'batch-statistics' normalizes with the chunk's own statistics, as training does, and
 * restores the moving statistics afterwards so evaluating never changes the model. `interrupt` is
 * awaited before every chunk: every image of a large dataset takes minutes.
 */
export async function reconstruct(
  generator: tfl.LayersModel,
  latents: Float32Array,
  dim: number,
  rows: ArrayLike<number>,
  mode: 'inference' | 'batch-statistics',
  interrupt: InterruptCheck = uninterrupted,
  chunk = 256,
): Promise<Float32Array> {
  const saved = mode === 'batch-statistics' ? generator.nonTrainableWeights.map((w) => tf.clone(w.read())) : [];
  const parts: Float32Array[] = [];
  try {
    for (let start = 0; start < rows.length; start += chunk) {
      await interrupt();
      const batchRows = Array.from({ length: Math.min(chunk, rows.length - start) }, (_, i) => rows[start + i]);
      const out = tf.tidy(() => {
        const codes = tf.tensor2d(gatherRows(latents, dim, batchRows), [batchRows.length, dim]);
        return (mode === 'inference' ? generator.predict(codes) : generator.apply(codes, { training: true })) as tf.Tensor;
      });
      parts.push(out.dataSync() as Float32Array);
      out.dispose();
    }
  } finally {
    if (saved.length) {
      generator.nonTrainableWeights.forEach((w, i) => w.write(saved[i]));
      tf.dispose(saved);
    }
  }
  return stackRows(parts);
}

export async function evaluateReconstructions(
  generator: tfl.LayersModel,
  latents: Float32Array,
  dataset: Dataset,
  rows: ArrayLike<number>,
  mode: 'inference' | 'batch-statistics',
  interrupt?: InterruptCheck,
): Promise<{ mse: number; psnr: number; reconstructions: Float32Array }> {
  const dim = latents.length / dataset.count;
  const reconstructions = await reconstruct(generator, latents, dim, rows, mode, interrupt);
  const { mse, psnr } = meanImageMetrics(reconstructions, batchTargetValues(dataset, rows), valuesPerImage(dataset));
  return { mse, psnr, reconstructions };
}
