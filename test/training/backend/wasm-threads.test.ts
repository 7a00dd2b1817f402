// Its own file (vitest runs each in a separate process): wasm threads are fixed when the module first
// instantiates, and the other files start it single-threaded.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../training/backend/backend.ts';
import { randomTensor, relativeError, runOn } from './backend-test-util.ts';

function wasmHeapBytes(): number {
  const backend = tf.engine().findBackend('wasm') as unknown as { wasm: { wasmMemory: WebAssembly.Memory } };
  return backend.wasm.wasmMemory.buffer.byteLength;
}

// Large enough for XNNPACK to split the work across both threads, small enough for the cpu reference.
const compute = () => tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(tf.tile(
  tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 32, 32, 16], 2, 'same'), [2, 1, 1, 1]))))(
  [randomTensor([2, 16, 16, 32], 1), randomTensor([4, 4, 16, 32], 2)]);

async function expectSameAsCpu(): Promise<void> {
  const onWasm = await runOn('wasm', compute);
  const onCpu = await runOn('cpu', compute);
  onCpu.forEach((expected, i) => expect(relativeError(onWasm[i].values, expected.values)).toBeLessThan(1e-5));
}

describe('wasm with 2 threads under Node', () => {
  it('starts the threaded build and computes what the cpu backend does', async () => {
    const info = await initBackend('wasm', { threads: 2 });
    expect(getThreadsCount()).toBe(2);
    expect(info.device).toMatch(/^wasm simd, 2 threads/);
    await expectSameAsCpu();
  });

  // The heap is a SharedArrayBuffer here: growing it replaces the buffer, and the kernels that write
  // it from JS must follow (Module.HEAPU8 can lag in the threaded build).
  it('keeps matching after the shared heap grows', async () => {
    await tf.setBackend('wasm');
    const before = wasmHeapBytes();
    tf.dispose(tf.zeros([32 * 1024 * 1024])); // 128 MB
    expect(wasmHeapBytes()).toBeGreaterThan(before);
    await expectSameAsCpu();
  });
});
