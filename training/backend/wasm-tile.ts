// wasm's Tile computes each output element's source through generic index math: in a DCGAN training
// step it was up to a fifth of the kernel time, spent in BatchNorm's gradient, which tiles a per-channel
// [1,1,1,C] vector over the whole activation. Tiling is pure replication, so here it is a handful of
// memmoves: copy the input into the first tile, then double blocks along each tiled axis.
import { util, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapBuffer, heapIndex } from './wasm-kernel-util.ts';

/** Odometer over `shape` (row-major), calling visit(offset) with offset = sum(index[i] * strides[i]). */
function forEachOffset(shape: number[], strides: number[], visit: (offset: number) => void): void {
  if (shape.some((d) => d === 0)) return;
  const index = new Array<number>(shape.length).fill(0);
  let offset = 0;
  for (;;) {
    visit(offset);
    let axis = shape.length - 1;
    while (axis >= 0 && index[axis] === shape[axis] - 1) {
      offset -= index[axis] * strides[axis];
      index[axis] = 0;
      axis--;
    }
    if (axis < 0) return;
    index[axis]++;
    offset += strides[axis];
  }
}

/** Returns null for what it does not handle (1-byte bool, strings, rank 0), for the original kernel. */
export function tileOnHeap(backend: BackendWasm, x: TensorInfo, reps: number[]): TensorInfo | null {
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || x.shape.length === 0 || reps.length !== x.shape.length) return null;
  const rank = x.shape.length;
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (util.sizeFromShape(outShape) === 0) return out;
  // An Int32Array view: copies bits exactly (a float view may canonicalise NaN payloads of int data).
  const heap = new Int32Array(heapBuffer(backend));
  const src = heapIndex(backend, x);
  const dst = heapIndex(backend, out);
  const outStrides = [...util.computeStrides(outShape), 1];
  const rowLength = x.shape[rank - 1];
  let row = src;
  forEachOffset(x.shape.slice(0, -1), outStrides.slice(0, rank - 1), (offset) => {
    heap.copyWithin(dst + offset, row, row + rowLength);
    row += rowLength;
  });
  for (let axis = rank - 1; axis >= 0; axis--) {
    if (reps[axis] === 1) continue;
    const block = x.shape[axis] * outStrides[axis];
    const total = block * reps[axis];
    forEachOffset(x.shape.slice(0, axis), outStrides.slice(0, axis), (offset) => {
      const base = dst + offset;
      for (let filled = block; filled < total; filled *= 2) {
        heap.copyWithin(base + filled, base, base + Math.min(filled, total - filled));
      }
    });
  }
  return out;
}
