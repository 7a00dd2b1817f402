// @tensorflow/tfjs-backend-wasm 4.22 ships no Conv2DBackpropFilter and no UnsortedSegmentSum, so any
// training step through a conv layer (or a gather) fails there with "Kernel ... not registered". Both are
// rebuilt here from kernels wasm does have, so the heavy lifting still runs in XNNPACK.
import '@tensorflow/tfjs-backend-wasm';
import {
  backend_util,
  Conv2D,
  Conv2DBackpropFilter,
  getKernel,
  registerKernel,
  ScatterNd,
  Slice,
  Transpose,
  UnsortedSegmentSum,
  util,
  type Conv2DBackpropFilterAttrs,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { disposeIntermediates, runWasmKernel, type ExplicitPadding } from './wasm-kernel-util.ts';

// dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*s+kh-padTop, ow*s+kw-padLeft, ci] * dy[n,oh,ow,co].
// Read with ci as the batch, n as the reduced channel and (oh,ow) as filter taps spaced s apart, that is
// a plain Conv2D of x->[Ci,H,W,N] by dy->[OH,OW,N,Co] with dilation = stride, whose [Ci,KH,KW,Co]
// output is one transpose away from the filter layout.
function conv2DBackpropFilter(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: BackendWasm;
  attrs: Conv2DBackpropFilterAttrs;
}): TensorInfo {
  const { inputs: { x, dy }, backend, attrs } = args;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (dataFormat === 'NCHW') {
    throw new Error('wasm Conv2DBackpropFilter (training/backend) supports NHWC only; layers default to it');
  }
  const convInfo = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { batchSize, inHeight, inWidth, inChannels, outChannels, outHeight, outWidth,
    filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = convInfo;
  util.assert(
    dy.shape[1] === outHeight && dy.shape[2] === outWidth && dy.shape[3] === outChannels,
    () => `Conv2DBackpropFilter: dy shape ${dy.shape} does not match the conv output [${convInfo.outShape}]`);

  // Bottom/right padding that makes the dilated conv produce exactly KH x KW taps. When the forward conv
  // never reached the last input rows (valid padding with a stride that does not divide), it is negative:
  // those rows contribute nothing to dW, so drop them instead.
  const padBottom = filterHeight + (outHeight - 1) * strideHeight - inHeight - padInfo.top;
  const padRight = filterWidth + (outWidth - 1) * strideWidth - inWidth - padInfo.left;
  const usedHeight = inHeight + Math.min(0, padBottom);
  const usedWidth = inWidth + Math.min(0, padRight);

  const intermediates: TensorInfo[] = [];
  let xT = runWasmKernel(backend, Transpose, { x }, { perm: [3, 1, 2, 0] });
  intermediates.push(xT);
  if (usedHeight !== inHeight || usedWidth !== inWidth) {
    xT = runWasmKernel(backend, Slice, { x: xT }, { begin: [0, 0, 0, 0], size: [inChannels, usedHeight, usedWidth, batchSize] });
    intermediates.push(xT);
  }
  const dyT = runWasmKernel(backend, Transpose, { x: dy }, { perm: [1, 2, 0, 3] });
  intermediates.push(dyT);
  const explicitPad: ExplicitPadding =
    [[0, 0], [padInfo.top, Math.max(0, padBottom)], [padInfo.left, Math.max(0, padRight)], [0, 0]];
  const taps = runWasmKernel(backend, Conv2D, { x: xT, filter: dyT }, {
    strides: [1, 1], pad: explicitPad, dataFormat: 'NHWC', dilations: [strideHeight, strideWidth],
  });
  intermediates.push(taps);
  util.assert(
    util.arraysEqual(taps.shape, [inChannels, filterHeight, filterWidth, outChannels]),
    () => `Conv2DBackpropFilter: internal conv gave [${taps.shape}], expected [${inChannels},${filterHeight},${filterWidth},${outChannels}]`);
  const dW = runWasmKernel(backend, Transpose, { x: taps }, { perm: [1, 2, 0, 3] });
  disposeIntermediates(backend, ...intermediates);
  return dW;
}

// out[segmentIds[i]] += x[i] is ScatterNd's own semantics (duplicates accumulate). TF drops ids outside
// [0, numSegments); ScatterNd would write out of bounds, so such rows go to one extra trash segment that
// is sliced off.
function unsortedSegmentSum(args: {
  inputs: { x: TensorInfo; segmentIds: TensorInfo };
  backend: BackendWasm;
  attrs: { numSegments: number };
}): TensorInfo {
  const { inputs: { x, segmentIds }, backend, attrs: { numSegments } } = args;
  const ids = backend.readSync(segmentIds.dataId) as Int32Array;
  const rowShape = x.shape.slice(segmentIds.shape.length);
  const hasOutOfRange = ids.some((id) => id < 0 || id >= numSegments);
  const indexValues = hasOutOfRange
    ? Int32Array.from(ids, (id) => (id < 0 || id >= numSegments ? numSegments : id))
    : Int32Array.from(ids);
  const indices = backend.makeOutput([ids.length, 1], 'int32', undefined, indexValues);
  // Same buffer, flattened leading dims: ScatterNd only reads the shape, so no Reshape kernel is needed.
  const updates: TensorInfo = { dataId: x.dataId, shape: [ids.length, ...rowShape], dtype: x.dtype };
  const scatterShape = [numSegments + (hasOutOfRange ? 1 : 0), ...rowShape];
  const scattered = runWasmKernel(backend, ScatterNd, { indices, updates }, { shape: scatterShape });
  disposeIntermediates(backend, indices);
  if (!hasOutOfRange) return scattered;
  const kept = runWasmKernel(backend, Slice, { x: scattered }, {
    begin: scatterShape.map(() => 0), size: [numSegments, ...rowShape],
  });
  disposeIntermediates(backend, scattered);
  return kept;
}

/**
 * Registers Conv2DBackpropFilter and UnsortedSegmentSum on the wasm backend. Safe to call repeatedly
 * (and before or after tf.setBackend('wasm')): a kernel already present is left alone.
 */
export function registerWasmGradientKernels(): void {
  if (getKernel(Conv2DBackpropFilter, 'wasm') == null) {
    registerKernel({
      kernelName: Conv2DBackpropFilter,
      backendName: 'wasm',
      kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
    });
  }
  if (getKernel(UnsortedSegmentSum, 'wasm') == null) {
    registerKernel({
      kernelName: UnsortedSegmentSum,
      backendName: 'wasm',
      kernelFunc: unsortedSegmentSum as unknown as KernelFunc,
    });
  }
}
