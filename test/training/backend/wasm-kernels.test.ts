// The wasm kernels under training/backend against the pure-JS cpu backend, which implements every kernel
// straight from its definition. Inputs are seeded, so a failing case replays exactly.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-layers registers the gradient functions (tfjs-core alone has none).
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmGradientKernels } from '../../../training/backend/wasm-gradient-kernels.ts';
import {
  planSubPixelTransposedConv,
  registerWasmFastKernels,
  unregisterWasmFastKernels,
  activeWasmFastKernels,
} from '../../../training/backend/wasm-fast-kernels.ts';
import { randomTensor, relativeError, runOn } from './backend-test-util.ts';

const TOLERANCE = 1e-5;
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

async function expectSameOnWasmAndCpu(compute: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const onCpu = await runOn('cpu', compute);
  const onWasm = await runOn('wasm', compute);
  expect(onWasm.map((r) => r.shape)).toEqual(onCpu.map((r) => r.shape));
  onCpu.forEach((expected, i) => {
    // Guards against a vacuous pass: all-zero references would hide a kernel that writes nothing.
    expect(expected.values.some((v) => v !== 0)).toBe(true);
    expect(relativeError(onWasm[i].values, expected.values)).toBeLessThan(TOLERANCE);
  });
}

beforeAll(async () => {
  registerWasmGradientKernels();
  registerWasmFastKernels();
  expect(await tf.setBackend('wasm')).toBe(true);
});

describe('Conv2DBackpropFilter on wasm', () => {
  const cases: { x: number[]; filter: [number, number, number, number]; strides: number | [number, number]; pad: Pad }[] = [
    { x: [2, 7, 7, 3], filter: [3, 3, 3, 5], strides: 1, pad: 'same' },
    { x: [1, 8, 8, 4], filter: [4, 4, 4, 6], strides: 2, pad: 'same' },
    { x: [2, 7, 6, 3], filter: [4, 4, 3, 5], strides: 2, pad: 'same' },
    { x: [3, 9, 9, 2], filter: [3, 3, 2, 4], strides: 2, pad: 'valid' },
    // (10-3)/2 leaves the last row unused: the bottom pad would be -1, so the kernel must slice it off.
    { x: [2, 10, 11, 3], filter: [3, 3, 3, 2], strides: 2, pad: 'valid' },
    { x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 1 },
    { x: [2, 6, 7, 2], filter: [3, 2, 2, 3], strides: [1, 2], pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
    { x: [2, 5, 5, 3], filter: [1, 1, 3, 4], strides: 3, pad: 'valid' },
  ];
  it.each(cases)('matches cpu for x $x, filter $filter, strides $strides, pad $pad', async ({ x, filter, strides, pad }) => {
    const conv = tf.conv2d; // the gradient of conv2d w.r.t. its filter is Conv2DBackpropFilter
    await expectSameOnWasmAndCpu(() => {
      const input = randomTensor(x, 1) as tf.Tensor4D;
      const w = randomTensor(filter, 2) as tf.Tensor4D;
      const upstream = randomTensor(conv(input, w, strides, pad).shape, 3);
      return tf.grad((f: tf.Tensor) => tf.sum(tf.mul(conv(input, f as tf.Tensor4D, strides, pad), upstream)))(w);
    });
  });

  // In a DCGAN generator the filter gradient of conv2dTranspose(k4 s2 same) is this kernel with x the
  // upsampled gradient and dy the layer input (batch kept small: the cpu reference is slow).
  const dcganLayers = [
    { x: [2, 4, 4, 64], dy: [2, 1, 1, 100], filter: [4, 4, 64, 100], strides: 1, pad: 'valid' as const },
    { x: [2, 8, 8, 32], dy: [2, 4, 4, 64], filter: [4, 4, 32, 64], strides: 2, pad: 'same' as const },
    { x: [3, 32, 32, 3], dy: [3, 16, 16, 16], filter: [4, 4, 3, 16], strides: 2, pad: 'same' as const },
  ];
  it.each(dcganLayers)('matches cpu on DCGAN layer x $x, dy $dy', async ({ x, dy, filter, strides, pad }) => {
    await expectSameOnWasmAndCpu(() => tf.engine().runKernel(
      'Conv2DBackpropFilter', { x: randomTensor(x, 4), dy: randomTensor(dy, 5) },
      { strides, pad, dataFormat: 'NHWC', filterShape: filter }) as tf.Tensor);
  });
});

describe('UnsortedSegmentSum on wasm', () => {
  it('sums duplicate ids and leaves unused segments at zero', async () => {
    const onWasm = await runOn('wasm', () =>
      tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]), tf.tensor1d([2, 0, 2, 4], 'int32'), 6));
    expect(onWasm[0].shape).toEqual([6, 2]);
    expect(Array.from(onWasm[0].values)).toEqual([3, 4, 0, 0, 6, 8, 0, 0, 7, 8, 0, 0]);
  });

  it('drops ids outside [0, numSegments) like the cpu backend', async () => {
    await expectSameOnWasmAndCpu(() =>
      tf.unsortedSegmentSum(randomTensor([6, 3, 2], 6), tf.tensor1d([0, -1, 2, 5, 1, 2], 'int32'), 4));
  });

  // The cpu backend cannot be the reference here: its kernel fails on rank-2 ids ("could not be broadcast").
  it('accepts multi-dimensional segment ids and int32 values', async () => {
    const rows = await runOn('wasm', () => tf.engine().runKernel('UnsortedSegmentSum', {
      x: tf.tensor3d([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]),
      segmentIds: tf.tensor2d([[0, 2, 2], [3, 0, -1]], [2, 3], 'int32'),
    }, { numSegments: 4 }) as tf.Tensor);
    expect(rows[0].shape).toEqual([4, 2]);
    expect(Array.from(rows[0].values)).toEqual([10, 12, 0, 0, 8, 10, 7, 8]);
    const onWasm = await runOn('wasm', () =>
      tf.unsortedSegmentSum(tf.tensor1d([5, 7, 11], 'int32'), tf.tensor1d([1, 1, 0], 'int32'), 3));
    expect(Array.from(onWasm[0].values)).toEqual([11, 12, 0]);
  });

  it('gives gather its gradient', async () => {
    await expectSameOnWasmAndCpu(() => {
      const table = randomTensor([10, 5], 8);
      const weights = randomTensor([7, 5], 9);
      const rows = tf.tensor1d([3, 1, 3, 9, 0, 3, 1], 'int32');
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, rows), weights)))(table);
    });
  });
});

describe('fast Conv2DBackpropInput on wasm', () => {
  const cases: { dy: number[]; filter: [number, number, number, number]; out: [number, number, number, number];
    strides: number | [number, number]; pad: Pad }[] = [
    // DCGAN generator layers (channel counts cut for the cpu reference).
    { dy: [3, 1, 1, 100], filter: [4, 4, 64, 100], out: [3, 4, 4, 64], strides: 1, pad: 'valid' },
    { dy: [2, 4, 4, 64], filter: [4, 4, 32, 64], out: [2, 8, 8, 32], strides: 2, pad: 'same' },
    { dy: [1, 16, 16, 16], filter: [4, 4, 3, 16], out: [1, 32, 32, 3], strides: 2, pad: 'same' },
    // Odd sizes: 'same' with a crop that is not symmetric, and valid convs that leave input rows unused
    // (those dx rows are zero and must be written as zero, not left as heap garbage). 8+ output channels
    // take the per-phase form, fewer the stacked one: both are covered.
    { dy: [2, 5, 5, 3], filter: [4, 4, 8, 3], out: [2, 9, 9, 8], strides: 2, pad: 'same' },
    { dy: [2, 5, 4, 3], filter: [3, 3, 9, 3], out: [2, 10, 8, 9], strides: 2, pad: 'same' },
    { dy: [2, 4, 4, 3], filter: [3, 3, 2, 3], out: [2, 9, 9, 2], strides: 2, pad: 'valid' },
    { dy: [2, 4, 4, 3], filter: [3, 3, 8, 3], out: [2, 10, 9, 8], strides: 2, pad: 'valid' },
    // Row 10 lies past the full extent (3*2+4) and the last sub-pixel block: only the crop can zero it.
    { dy: [2, 4, 4, 3], filter: [4, 4, 8, 3], out: [2, 11, 10, 8], strides: 2, pad: 'valid' },
    { dy: [2, 6, 6, 3], filter: [3, 3, 8, 3], out: [2, 6, 6, 8], strides: 1, pad: 'same' },
    { dy: [2, 3, 3, 4], filter: [3, 5, 2, 4], out: [2, 5, 7, 2], strides: 1, pad: 'valid' },
    { dy: [2, 3, 3, 2], filter: [2, 2, 3, 2], out: [2, 9, 9, 3], strides: 3, pad: 'valid' },
    // One tap per phase (stacked form) and a last row/column past every block: written as zeros.
    { dy: [2, 3, 3, 2], filter: [2, 2, 3, 2], out: [2, 7, 7, 3], strides: 2, pad: 'valid' },
    { dy: [2, 4, 4, 2], filter: [1, 1, 3, 2], out: [2, 8, 8, 3], strides: 2, pad: 'same' },
    { dy: [2, 4, 4, 3], filter: [4, 4, 2, 3], out: [2, 8, 8, 2], strides: 2, pad: 1 },
    // Padding past the kernel: a per-phase conv would need negative padding, so the stacked form runs.
    { dy: [2, 6, 6, 3], filter: [3, 3, 2, 3], out: [2, 2, 2, 2], strides: 1, pad: 3 },
    { dy: [2, 5, 5, 3], filter: [2, 2, 2, 3], out: [2, 6, 6, 2], strides: 2, pad: 2 },
    // Non-square strides: phases of different counts per axis.
    { dy: [2, 4, 3, 3], filter: [3, 3, 8, 3], out: [2, 4, 6, 8], strides: [1, 2], pad: 'same' },
    { dy: [2, 3, 4, 3], filter: [4, 3, 8, 3], out: [2, 11, 6, 8], strides: [3, 1], pad: 'valid' },
  ];
  it.each(cases)('conv2dTranspose matches cpu for dy $dy, filter $filter -> $out, strides $strides, pad $pad',
    async ({ dy, filter, out, strides, pad }) => {
      expect(activeWasmFastKernels()).toContain('Conv2DBackpropInput');
      await expectSameOnWasmAndCpu(() => {
        // Freed NaN blocks get reused by the next allocations: output the kernel forgets to write shows up.
        tf.dispose([tf.fill([out.reduce((a, b) => a * b)], NaN), tf.fill([2 * out.reduce((a, b) => a * b)], NaN)]);
        return tf.conv2dTranspose(
          randomTensor(dy, 10) as tf.Tensor4D, randomTensor(filter, 11) as tf.Tensor4D, out, strides,
          pad as 'same' | 'valid' | number);
      });
    });

  it('exercises both sub-pixel strategies across these cases', () => {
    const strategies = cases.map(({ dy, filter, out, strides, pad }) => planSubPixelTransposedConv(dy, filter,
      { inputShape: out, strides, pad: pad as 'same' | 'valid' | number, dataFormat: 'NHWC' })?.strategy);
    expect(strategies).not.toContain(undefined); // a dy shape that does not fit inputShape falls back
    expect(strategies.filter((s) => s === 'per-phase').length).toBeGreaterThanOrEqual(6);
    expect(strategies.filter((s) => s === 'stacked').length).toBeGreaterThanOrEqual(6);
  });

  it('takes the fast path for every DCGAN generator layer', () => {
    const layers: [number[], [number, number, number, number], [number, number, number, number], number, 'same' | 'valid'][] = [
      [[64, 1, 1, 100], [4, 4, 512, 100], [64, 4, 4, 512], 1, 'valid'],
      [[64, 4, 4, 512], [4, 4, 256, 512], [64, 8, 8, 256], 2, 'same'],
      [[64, 32, 32, 64], [4, 4, 3, 64], [64, 64, 64, 3], 2, 'same'],
    ];
    const plans = layers.map(([dy, filter, inputShape, strides, pad]) =>
      planSubPixelTransposedConv(dy, filter, { inputShape, strides, pad, dataFormat: 'NHWC' }));
    expect(plans.every((plan) => plan != null)).toBe(true);
    // The 1x1 -> 4x4 projection must become one matmul (a 1x1 conv), not a 4x4 conv over 7x7 padding.
    expect(plans[0]).toMatchObject({ strategy: 'stacked', height: { stride: 4 }, width: { stride: 4 } });
    expect(plans[0]!.height.phases.map((p) => p.taps)).toEqual([1, 1, 1, 1]);
    // k4 s2 'same' hidden layers: one 2x2 conv per phase, every tap useful.
    expect(plans[1]).toMatchObject({ strategy: 'per-phase', height: { stride: 2 }, width: { stride: 2 } });
    expect(plans[1]!.height.phases.map((p) => p.taps)).toEqual([2, 2]);
    // The RGB layer: stacked, for XNNPACK's 8-wide channel tiles.
    expect(plans[2]).toMatchObject({ strategy: 'stacked' });
  });

  it('does not leak wasm memory or engine tensors', async () => {
    await tf.setBackend('wasm');
    const dy = randomTensor([2, 4, 4, 8], 12) as tf.Tensor4D;
    const w = randomTensor([4, 4, 3, 8], 13) as tf.Tensor4D;
    const step = () => tf.dispose(tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [2, 7, 7, 3], 2, 'same')))([dy, w]));
    step();
    const tensorsBefore = tf.memory().numTensors;
    const dataIdsBefore = tf.engine().backend.numDataIds();
    step();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(tf.engine().backend.numDataIds()).toBe(dataIdsBefore);
    tf.dispose([dy, w]);
  });

  it('can be switched off and on again', async () => {
    unregisterWasmFastKernels();
    expect(activeWasmFastKernels()).toEqual([]);
    const original = await runOn('wasm', () => tf.conv2dTranspose(
      randomTensor([2, 4, 4, 3], 14) as tf.Tensor4D, randomTensor([4, 4, 2, 3], 15) as tf.Tensor4D, [2, 8, 8, 2], 2, 'same'));
    registerWasmFastKernels();
    registerWasmFastKernels();
    expect(activeWasmFastKernels()).toEqual(['Conv2DBackpropInput', 'Tile', 'BatchMatMul', 'Sum', 'Mean']);
    const fast = await runOn('wasm', () => tf.conv2dTranspose(
      randomTensor([2, 4, 4, 3], 14) as tf.Tensor4D, randomTensor([4, 4, 2, 3], 15) as tf.Tensor4D, [2, 8, 8, 2], 2, 'same'));
    expect(relativeError(fast[0].values, original[0].values)).toBeLessThan(TOLERANCE);
  });
});

describe('fast Tile on wasm', () => {
  const cases: { shape: number[]; reps: number[] }[] = [
    { shape: [1, 1, 1, 5], reps: [3, 4, 2, 1] }, // BatchNorm's gradient
    { shape: [2, 3], reps: [3, 2] },
    { shape: [7], reps: [5] },
    { shape: [2, 1, 3], reps: [1, 6, 1] },
    { shape: [2, 2, 1, 3, 2], reps: [2, 1, 3, 1, 2] },
    { shape: [3, 4], reps: [1, 1] },
  ];
  it.each(cases)('matches cpu for $shape tiled $reps', async ({ shape, reps }) => {
    expect(activeWasmFastKernels()).toContain('Tile');
    await expectSameOnWasmAndCpu(() => tf.tile(randomTensor(shape, 30), reps));
  });

  it('copies int32 bits exactly and leaves bool to the original kernel', async () => {
    const ints = [2147483647, -2147483648, 2143289344, -1, 0, 7]; // 2143289344 is a float NaN bit pattern
    const [tiledInts, tiledBools] = await runOn('wasm', () => [
      tf.cast(tf.tile(tf.tensor2d(ints, [2, 3], 'int32'), [2, 1]), 'float32'),
      tf.cast(tf.tile(tf.tensor1d([true, false], 'bool'), [2]), 'float32'),
    ]);
    expect(Array.from(tiledInts.values)).toEqual([...ints, ...ints].map((v) => Math.fround(v)));
    expect(Array.from(tiledBools.values)).toEqual([1, 0, 1, 0]);
  });

  it('handles empty outputs', async () => {
    const [empty] = await runOn('wasm', () => tf.tile(tf.zeros([0, 3]), [2, 2]));
    expect(empty.shape).toEqual([0, 6]);
  });
});

describe('fast transposed BatchMatMul on wasm', () => {
  const cases: { a: number[]; b: number[]; transposeA: boolean; transposeB: boolean }[] = [
    { a: [64, 2048], b: [64, 64], transposeA: true, transposeB: false }, // a dense layer's weight gradient
    { a: [64, 64], b: [2048, 64], transposeA: false, transposeB: true }, // its input gradient
    { a: [5, 3], b: [7, 5], transposeA: true, transposeB: true },
    { a: [2, 6, 3], b: [2, 6, 4], transposeA: true, transposeB: false }, // batched
    { a: [3, 4, 5], b: [1, 6, 5], transposeA: false, transposeB: true }, // broadcast batch
  ];
  it.each(cases)('matches cpu for $a x $b (transposeA $transposeA, transposeB $transposeB)', async ({ a, b, transposeA, transposeB }) => {
    expect(activeWasmFastKernels()).toContain('BatchMatMul');
    await expectSameOnWasmAndCpu(() => tf.matMul(randomTensor(a, 50), randomTensor(b, 51), transposeA, transposeB));
  });

  it('gives a dense layer the same gradients as cpu, and does not leak wasm memory', async () => {
    await expectSameOnWasmAndCpu(() => {
      const x = randomTensor([8, 20], 52);
      const w = randomTensor([20, 6], 53);
      // Both gradients of x w are transposed products: x^T dy and dy w^T.
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.matMul(a, b))))([x, w]);
    });
    const [x, y] = [randomTensor([16, 32], 54), randomTensor([16, 8], 55)];
    tf.matMul(x, y, true, false).dispose();
    const before = { tensors: tf.memory().numTensors, data: tf.engine().backend.numDataIds() };
    tf.matMul(x, y, true, false).dispose();
    expect(tf.engine().backend.numDataIds()).toBe(before.data);
    expect(tf.memory().numTensors).toBe(before.tensors);
    tf.dispose([x, y]);
  });
});

describe('fast Sum and Mean over leading axes on wasm', () => {
  const cases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
    { shape: [64, 8, 8, 16], axis: [0, 1, 2], keepDims: false }, // BatchNorm's moments and gradients
    { shape: [4, 5, 6, 7], axis: [0, 1, 2], keepDims: true },
    { shape: [13, 5], axis: 0, keepDims: false }, // 13 rows: a prime, a 13 x 1 window
    { shape: [6, 4, 3], axis: [1, 0], keepDims: true }, // axes given out of order
    { shape: [3, 4, 5], axis: [-3, -2], keepDims: false },
    { shape: [4, 5, 6], axis: [1, 2], keepDims: false }, // innermost axes: the original kernel
    { shape: [4, 5, 6], axis: [0, 1, 2], keepDims: false }, // every axis: the original kernel
  ];
  it.each(cases)('matches cpu for $shape over $axis (keepDims $keepDims)', async ({ shape, axis, keepDims }) => {
    expect(activeWasmFastKernels()).toEqual(expect.arrayContaining(['Sum', 'Mean']));
    await expectSameOnWasmAndCpu(() => {
      const x = randomTensor(shape, 40);
      return [tf.sum(x, axis, keepDims), tf.mean(x, axis, keepDims)];
    });
  });

  it('leaves int32 to the original kernel and does not leak wasm memory', async () => {
    const [ints] = await runOn('wasm', () => tf.cast(tf.sum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), 0), 'float32'));
    expect(Array.from(ints.values)).toEqual([9, 12]);
    const x = randomTensor([16, 8, 8, 4], 41);
    tf.dispose([tf.sum(x, [0, 1, 2]), tf.mean(x, [0, 1, 2])]);
    const before = { tensors: tf.memory().numTensors, data: tf.engine().backend.numDataIds() };
    tf.dispose([tf.sum(x, [0, 1, 2]), tf.mean(x, [0, 1, 2])]);
    expect(tf.engine().backend.numDataIds()).toBe(before.data);
    expect(tf.memory().numTensors).toBe(before.tensors);
    x.dispose();
  });
});

describe('training a conv model on wasm', () => {
  it('tf.variableGrads of conv2dTranspose + conv2d equals the cpu backend', async () => {
    await expectSameOnWasmAndCpu(() => {
      const w1 = tf.variable(randomTensor([4, 4, 6, 10], 20), true, 'w1');
      const w2 = tf.variable(randomTensor([4, 4, 3, 6], 21), true, 'w2');
      const w3 = tf.variable(randomTensor([3, 3, 3, 4], 22), true, 'w3');
      const latent = randomTensor([3, 1, 1, 10], 23) as tf.Tensor4D;
      const target = randomTensor([3, 4, 4, 4], 24);
      const { value, grads } = tf.variableGrads(() => {
        let h = tf.relu(tf.conv2dTranspose(latent, w1 as tf.Tensor4D, [3, 4, 4, 6], 1, 'valid'));
        h = tf.tanh(tf.conv2dTranspose(h as tf.Tensor4D, w2 as tf.Tensor4D, [3, 8, 8, 3], 2, 'same'));
        const features = tf.conv2d(h as tf.Tensor4D, w3 as tf.Tensor4D, 2, 'same');
        return tf.mean(tf.square(tf.sub(features, target))) as tf.Scalar;
      }, [w1, w2, w3]);
      const result = [value, grads.w1, grads.w2, grads.w3];
      tf.dispose([w1, w2, w3]);
      return result;
    });
  });
});
