// Sum and Mean over the LEADING axes on XNNPACK. wasm's own kernels reduce only innermost axes, so for
// the per-channel reductions of BatchNorm (axes [0, 1, 2] of NHWC: forward moments, five sums in its
// gradient) they first transpose the whole activation: 15-30 ms per reduction of a [64, 32, 32, 64]
// tensor, 13% of a 64 px training step. Viewed as [1, A, B, C] with A * B = M, the same reduction is
// one average pooling over the whole A x B window, which XNNPACK does in 1.5 ms. (A matmul
// ones[1, M] x X[M, C] is slower still: XNNPACK packs X as a weight matrix on every call.)
import { AvgPool, util, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapFloat32, heapIndex, runWasmKernel } from './wasm-kernel-util.ts';

/** The largest divisor of n not above sqrt(n): [n / it, it] is the squarest window of n cells. */
function squarestFactor(n: number): number {
  for (let b = Math.floor(Math.sqrt(n)); b > 1; b--) if (n % b === 0) return b;
  return 1;
}

/**
 * sum or mean of x over `axis`; null unless x is float32 and the reduced axes are a proper prefix of its
 * dimensions (then the original kernel runs).
 */
export function reduceLeadingAxes(
  backend: BackendWasm, x: TensorInfo, axis: number | number[], keepDims: boolean, kind: 'sum' | 'mean',
): TensorInfo | null {
  if (x.dtype !== 'float32' || x.shape.length < 2) return null;
  const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  if (axes.length === 0 || axes.length >= x.shape.length || axes.some((a, i) => a !== i)) return null;
  const rows = util.sizeFromShape(x.shape.slice(0, axes.length));
  const columns = util.sizeFromShape(x.shape.slice(axes.length));
  if (rows < 2 || columns === 0) return null;
  const width = squarestFactor(rows);
  const window: TensorInfo = { dataId: x.dataId, shape: [1, rows / width, width, columns], dtype: 'float32' };
  const mean = runWasmKernel(backend, AvgPool, { x: window }, {
    filterSize: [rows / width, width], strides: [1, 1], pad: 'valid',
  });
  if (kind === 'sum') {
    const start = heapIndex(backend, mean);
    const heap = heapFloat32(backend);
    for (let i = start; i < start + columns; i++) heap[i] *= rows;
  }
  const kept = x.shape.map((d, i) => (i < axes.length ? 1 : d));
  return { dataId: mean.dataId, dtype: 'float32', shape: keepDims ? kept : x.shape.slice(axes.length) };
}
