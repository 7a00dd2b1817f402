// wasm's built-in Conv2DBackpropInput is a scalar C++ loop; conv2dTranspose runs it in the FORWARD pass,
// and in a DCGAN generator it was 61% of a training step. This replaces it with the sub-pixel
// decomposition on top of XNNPACK's Conv2D:
//   A stride-s transposed conv with a K-tap kernel, computed over its full extent F = (OH-1)*s + K (no
//   padding), splits by output phase r = f mod s into s stride-1 convs of the input, each with the taps
//   r, r+s, r+2s, ... flipped. Stacking the s*s phases as channels gives one ordinary conv with
//   T = ceil(K/s) taps and s*s*Ci outputs; DepthToSpace(s) interleaves the phases back into space, and
//   the padding of the forward conv becomes a crop of that full output.
// Aligning the phases to the full output (instead of to the padded one) keeps every kernel tap useful:
// for K=4, s=2, 'same' the conv is 2x2 (the padded alignment needs 3x3, 2.25x the work) at the price of
// one row/column of overcompute and a cheap crop.
import '@tensorflow/tfjs-backend-wasm';
import {
  backend_util,
  Conv2D,
  Conv2DBackpropInput,
  DepthToSpace,
  getKernel,
  registerKernel,
  unregisterKernel,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { disposeIntermediates, heapFloat32, heapIndex, runWasmKernel, type ExplicitPadding } from './wasm-kernel-util.ts';

type BackpropInputArgs = {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: BackendWasm;
  attrs: Conv2DBackpropInputAttrs;
};

// Marks our kernelFunc and remembers the one it replaced, on the function itself: a second copy of this
// module (vitest can load one per worker) then still recognises and can undo the replacement.
const ORIGINAL = Symbol.for('glo.wasm.originalConv2DBackpropInput');
type FastKernelFunc = KernelFunc & { [ORIGINAL]?: KernelFunc };

/** The stride actually used per axis: with a single input row every tap lands on its own output row,
 * whatever the stride, so s = K turns that layer (the DCGAN 1x1 -> 4x4 projection) into a plain matmul. */
function effectiveStride(inputLength: number, kernel: number, stride: number): number {
  return inputLength === 1 ? Math.max(kernel, stride) : stride;
}

/** Returns null where the sub-pixel form does not apply, so the caller keeps the original kernel. */
export function planSubPixelTransposedConv(
  dyShape: number[], filterShape: [number, number, number, number], attrs: Conv2DBackpropInputAttrs,
) {
  if (attrs.dataFormat === 'NCHW') return null;
  const convInfo = backend_util.computeConv2DInfo(
    attrs.inputShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels,
    filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = convInfo;
  if (dyShape[1] !== outHeight || dyShape[2] !== outWidth || dyShape[3] !== outChannels) return null;
  const strideH = effectiveStride(outHeight, filterHeight, strideHeight);
  const strideW = effectiveStride(outWidth, filterWidth, strideWidth);
  // DepthToSpace only has a square block.
  if (strideH !== strideW) return null;
  const stride = strideH;
  const tapsH = Math.ceil(filterHeight / stride);
  const tapsW = Math.ceil(filterWidth / stride);
  const fullHeight = (outHeight - 1) * stride + filterHeight;
  const fullWidth = (outWidth - 1) * stride + filterWidth;
  const blocksH = Math.ceil(fullHeight / stride);
  const blocksW = Math.ceil(fullWidth / stride);
  return {
    batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth,
    stride, tapsH, tapsW, blocksH, blocksW, cropTop: padInfo.top, cropLeft: padInfo.left,
  };
}
type SubPixelPlan = NonNullable<ReturnType<typeof planSubPixelTransposedConv>>;

// Fc[t, u, co, (r1*s + r2)*Ci + ci] = W[s*(T-1-t) + r1, s*(U-1-u) + r2, ci, co], zero where the tap index
// falls past K. A JS loop over the heap: the filter is small next to the activations (<= 4 M floats for
// the 64 px generator), and no wasm kernel does this gather in one pass.
function subPixelFilter(backend: BackendWasm, filter: TensorInfo, plan: SubPixelPlan): TensorInfo {
  const { stride: s, tapsH, tapsW, filterHeight, filterWidth, inChannels: ci, outChannels: co } = plan;
  const phaseChannels = s * s * ci;
  const out = backend.makeOutput([tapsH, tapsW, co, phaseChannels], 'float32');
  const heap = heapFloat32(backend);
  const src = heapIndex(backend, filter);
  const dst = heapIndex(backend, out);
  heap.fill(0, dst, dst + tapsH * tapsW * co * phaseChannels);
  for (let t = 0; t < tapsH; t++) {
    for (let r1 = 0; r1 < s; r1++) {
      const kh = s * (tapsH - 1 - t) + r1;
      if (kh >= filterHeight) continue;
      for (let u = 0; u < tapsW; u++) {
        for (let r2 = 0; r2 < s; r2++) {
          const kw = s * (tapsW - 1 - u) + r2;
          if (kw >= filterWidth) continue;
          const srcTap = src + (kh * filterWidth + kw) * ci * co;
          const dstTap = dst + (t * tapsW + u) * co * phaseChannels + (r1 * s + r2) * ci;
          for (let c = 0; c < ci; c++) {
            const srcRow = srcTap + c * co;
            for (let o = 0; o < co; o++) heap[dstTap + o * phaseChannels + c] = heap[srcRow + o];
          }
        }
      }
    }
  }
  return out;
}

// Rows [top, top+H) and columns [left, left+W) of the full output. Copies whole W*C runs with copyWithin
// (a memmove) rather than the wasm Slice kernel, which reads the whole tensor back into JS and copies
// C floats at a time: at C=3 that is a quarter-million tiny copies per 64 px batch.
function crop(backend: BackendWasm, full: TensorInfo, top: number, left: number, height: number, width: number): TensorInfo {
  const [batch, fullHeight, fullWidth, channels] = full.shape;
  const out = backend.makeOutput([batch, height, width, channels], 'float32');
  const heap = heapFloat32(backend);
  const src = heapIndex(backend, full);
  const dst = heapIndex(backend, out);
  const rows = Math.max(0, Math.min(height, fullHeight - top));
  const cols = Math.max(0, Math.min(width, fullWidth - left));
  // Output rows/columns past the full extent were not reached by any kernel tap: they are zero.
  if (rows < height || cols < width) heap.fill(0, dst, dst + batch * height * width * channels);
  const run = cols * channels;
  for (let n = 0; n < batch; n++) {
    for (let h = 0; h < rows; h++) {
      const from = src + ((n * fullHeight + top + h) * fullWidth + left) * channels;
      heap.copyWithin(dst + ((n * height + h) * width) * channels, from, from + run);
    }
  }
  return out;
}

function fastConv2DBackpropInput(args: BackpropInputArgs, original: KernelFunc): TensorInfo {
  const { inputs: { dy, filter }, backend, attrs } = args;
  const plan = planSubPixelTransposedConv(dy.shape, filter.shape as [number, number, number, number], attrs);
  if (plan == null || dy.dtype !== 'float32' || filter.dtype !== 'float32') {
    return original(args as never) as TensorInfo;
  }
  const { stride, tapsH, tapsW, blocksH, blocksW, outHeight, outWidth } = plan;
  const subFilter = subPixelFilter(backend, filter, plan);
  // Pads make output block q see input rows q-(T-1) .. q, i.e. all inputs whose taps reach block q.
  const pad: ExplicitPadding = [[0, 0], [tapsH - 1, blocksH - outHeight], [tapsW - 1, blocksW - outWidth], [0, 0]];
  const phases = runWasmKernel(backend, Conv2D, { x: dy, filter: subFilter }, {
    strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1],
  });
  disposeIntermediates(backend, subFilter);
  let full = phases;
  if (stride > 1) {
    full = runWasmKernel(backend, DepthToSpace, { x: phases }, { blockSize: stride, dataFormat: 'NHWC' });
    disposeIntermediates(backend, phases);
  }
  const [, fullHeight, fullWidth] = full.shape;
  if (plan.cropTop === 0 && plan.cropLeft === 0 && fullHeight === plan.inHeight && fullWidth === plan.inWidth) {
    return full;
  }
  const dx = crop(backend, full, plan.cropTop, plan.cropLeft, plan.inHeight, plan.inWidth);
  disposeIntermediates(backend, full);
  return dx;
}

/**
 * Replaces wasm's Conv2DBackpropInput with the XNNPACK sub-pixel form. Idempotent. Shapes it does not
 * cover (NCHW, non-square effective strides, non-float) go to the original kernel.
 */
export function registerWasmFastKernels(): void {
  const current = getKernel(Conv2DBackpropInput, 'wasm');
  if (current == null) throw new Error('wasm Conv2DBackpropInput is not registered: is @tensorflow/tfjs-backend-wasm imported?');
  if ((current.kernelFunc as FastKernelFunc)[ORIGINAL] != null) return;
  const original = current.kernelFunc;
  const fast: FastKernelFunc = (args) => fastConv2DBackpropInput(args as unknown as BackpropInputArgs, original);
  fast[ORIGINAL] = original;
  replaceKernel(current, fast);
}

/** Puts wasm's own Conv2DBackpropInput back (for before/after benchmarks and tests). Idempotent. */
export function unregisterWasmFastKernels(): void {
  const current = getKernel(Conv2DBackpropInput, 'wasm');
  const original = current == null ? undefined : (current.kernelFunc as FastKernelFunc)[ORIGINAL];
  if (current == null || original == null) return;
  replaceKernel(current, original);
}

export function wasmFastKernelsActive(): boolean {
  const current = getKernel(Conv2DBackpropInput, 'wasm');
  return current != null && (current.kernelFunc as FastKernelFunc)[ORIGINAL] != null;
}

// The original setupFunc must stay: the engine runs every kernel's setupFunc when the wasm backend
// initialises, and it is what binds the C++ function the original kernelFunc (our fallback) calls.
// Dropping it fails later with "wasmConv2DBackpropInput is not a function".
function replaceKernel(current: KernelConfig, kernelFunc: KernelFunc): void {
  unregisterKernel(current.kernelName, current.backendName);
  registerKernel({ ...current, kernelFunc });
}
