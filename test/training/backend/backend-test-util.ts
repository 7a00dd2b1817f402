// Helpers shared by the backend tests: deterministic inputs, and running the same computation on two
// backends so results can be compared element by element.
import * as tf from '@tensorflow/tfjs-core';

/** mulberry32: reproducible inputs, so a failure can be replayed. */
export function randomFloats(length: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    values[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return values;
}

export function randomTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(randomFloats(shape.reduce((a, b) => a * b, 1), seed), shape);
}

/** Runs `compute` with `backend` active and returns the shapes and values of what it returns. */
export async function runOn(
  backend: string,
  compute: () => tf.Tensor | tf.Tensor[],
): Promise<{ shape: number[]; values: Float32Array }[]> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to initialise`);
  const outputs = tf.tidy(compute);
  const list = Array.isArray(outputs) ? outputs : [outputs];
  const results = [];
  for (const t of list) results.push({ shape: t.shape, values: Float32Array.from(await t.data()) });
  tf.dispose(list);
  return results;
}

/** max |a - b| / max |b|: a scale-free error that does not blow up on entries near zero. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    if (!Number.isFinite(actual[i])) return Infinity;
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? diff : diff / scale;
}
