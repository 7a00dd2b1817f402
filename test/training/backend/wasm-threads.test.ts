// Its own file (vitest runs each in a separate process): wasm threads are fixed when the module first
// instantiates, and the other files start it single-threaded.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../training/backend/backend.ts';
import { randomTensor, relativeError, runOn } from './backend-test-util.ts';

describe('wasm with 2 threads under Node', () => {
  it('starts the threaded build and computes what the cpu backend does', async () => {
    const info = await initBackend('wasm', { threads: 2 });
    expect(getThreadsCount()).toBe(2);
    expect(info.device).toMatch(/^wasm simd, 2 threads/);
    // Large enough for XNNPACK to split the work across both threads.
    const compute = () => tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(
      tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [4, 16, 16, 8], 2, 'same'))))(
      [randomTensor([4, 8, 8, 16], 1), randomTensor([4, 4, 8, 16], 2)]);
    const onWasm = await runOn('wasm', compute);
    const onCpu = await runOn('cpu', compute);
    onCpu.forEach((expected, i) => expect(relativeError(onWasm[i].values, expected.values)).toBeLessThan(1e-5));
  });
});
