/**
 * Running the generator without freezing the page: predict in batches, read each batch back asynchronously
 * (data(), not dataSync(), so webgl/webgpu do not block the main thread), and yield a frame in between.
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Tf } from './tf.ts';
import { Superseded, type GenerateOptions } from './view.ts';

export async function generateImages(tf: Tf, model: LayersModel, codes: Float32Array, dim: number, options: GenerateOptions = {}): Promise<Float32Array> {
  const count = codes.length / dim;
  const batchSize = Math.max(1, options.batchSize ?? 16);
  const outShape = model.outputs[0].shape;
  const perImage = (outShape[1] ?? 0) * (outShape[2] ?? 0) * (outShape[3] ?? 0);
  const out = new Float32Array(count * perImage);
  for (let start = 0; start < count; start += batchSize) {
    if (options.signal?.aborted) throw new Superseded();
    const n = Math.min(batchSize, count - start);
    const images = tf.tidy(() => model.predict(tf.tensor2d(codes.subarray(start * dim, (start + n) * dim), [n, dim])) as import('@tensorflow/tfjs-core').Tensor);
    try {
      out.set(await images.data(), start * perImage);
    } finally {
      images.dispose();
    }
    options.onBatch?.(start + n, count, out);
    if (start + n < count) await tf.nextFrame();
  }
  if (options.signal?.aborted) throw new Superseded();
  return out;
}

/**
 * Runs `task` for the latest request only: while one runs, newer requests replace each other and the last one
 * runs next (a slider dragged fast renders its final position, not every position on the way).
 */
export function latestOnly<A>(task: (arg: A) => Promise<void>, onError: (e: unknown) => void): (arg: A) => Promise<void> {
  let running: Promise<void> | undefined;
  let pending: { arg: A } | undefined;
  const pump = async (): Promise<void> => {
    while (pending) {
      const { arg } = pending;
      pending = undefined;
      try {
        await task(arg);
      } catch (e) {
        onError(e);
      }
    }
    running = undefined;
  };
  return (arg: A) => {
    pending = { arg };
    running ??= pump();
    return running;
  };
}
