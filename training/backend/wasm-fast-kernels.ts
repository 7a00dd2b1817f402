// Faster replacements for wasm kernels that dominate a DCGAN training step (registry at the bottom).
//
// wasm's built-in Conv2DBackpropInput is a scalar C++ loop; conv2dTranspose runs it in the FORWARD pass,
// and in a DCGAN generator it was 61% of a training step. It is replaced by the sub-pixel
// decomposition on top of XNNPACK's Conv2D:
//   A stride-s transposed conv with a K-tap kernel, computed over its full extent F = (OH-1)*s + K (no
//   padding), splits by output phase r = f mod s into s stride-1 convs of the input, each with the taps
//   r, r+s, r+2s, ... flipped. Stacking the s*s phases as channels gives one ordinary conv with
//   T = ceil(K/s) taps and s*s*Ci outputs; a depth-to-space interleaves the phases back into space, and
//   the padding of the forward conv becomes a crop of that full output.
// Aligning the phases to the full output (instead of to the padded one) keeps every kernel tap useful:
// for K=4, s=2, 'same' the conv is 2x2 (the padded alignment needs 3x3, 2.25x the work) at the price of
// one row/column of overcompute and a cheap crop.
import '@tensorflow/tfjs-backend-wasm';
import {
  backend_util,
  Conv2D,
  Conv2DBackpropInput,
  getKernel,
  registerKernel,
  Tile,
  unregisterKernel,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { disposeIntermediates, heapFloat32, heapIndex, runWasmKernel, type ExplicitPadding } from './wasm-kernel-util.ts';
import { tileOnHeap } from './wasm-tile.ts';

type BackpropInputArgs = {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: BackendWasm;
  attrs: Conv2DBackpropInputAttrs;
};

// Marks our kernelFunc and remembers the one it replaced, on the function itself: a second copy of this
// module (vitest can load one per worker) then still recognises and can undo the replacement.
const ORIGINAL = Symbol.for('glo.wasm.originalKernel');
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
  const fullHeight = (outHeight - 1) * strideH + filterHeight;
  const fullWidth = (outWidth - 1) * strideW + filterWidth;
  return {
    batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth,
    strideH, strideW,
    tapsH: Math.ceil(filterHeight / strideH),
    tapsW: Math.ceil(filterWidth / strideW),
    blocksH: Math.ceil(fullHeight / strideH),
    blocksW: Math.ceil(fullWidth / strideW),
    cropTop: padInfo.top,
    cropLeft: padInfo.left,
  };
}
type SubPixelPlan = NonNullable<ReturnType<typeof planSubPixelTransposedConv>>;

// Fc[t, u, co, (r1*sW + r2)*Ci + ci] = W[sH*(T-1-t) + r1, sW*(U-1-u) + r2, ci, co], zero where the tap index
// falls past K. A JS loop over the heap: the filter is small next to the activations (<= 4 M floats for
// the 64 px generator), and no wasm kernel does this gather in one pass.
function subPixelFilter(backend: BackendWasm, filter: TensorInfo, plan: SubPixelPlan): TensorInfo {
  const { strideH: sH, strideW: sW, tapsH, tapsW, filterHeight, filterWidth, inChannels: ci, outChannels: co } = plan;
  const phaseChannels = sH * sW * ci;
  const out = backend.makeOutput([tapsH, tapsW, co, phaseChannels], 'float32');
  const heap = heapFloat32(backend);
  const src = heapIndex(backend, filter);
  const dst = heapIndex(backend, out);
  heap.fill(0, dst, dst + tapsH * tapsW * co * phaseChannels);
  for (let t = 0; t < tapsH; t++) {
    for (let r1 = 0; r1 < sH; r1++) {
      const kh = sH * (tapsH - 1 - t) + r1;
      if (kh >= filterHeight) continue;
      for (let u = 0; u < tapsW; u++) {
        for (let r2 = 0; r2 < sW; r2++) {
          const kw = sW * (tapsW - 1 - u) + r2;
          if (kw >= filterWidth) continue;
          const srcTap = src + (kh * filterWidth + kw) * ci * co;
          const dstTap = dst + (t * tapsW + u) * co * phaseChannels + (r1 * sW + r2) * ci;
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

// Depth-to-space and the crop to rows [top, top+H) x columns [left, left+W) of the full output, fused in
// one pass over the heap. wasm's own DepthToSpace computes every element's source index through generic
// stride arrays: measured slower than the conv it follows (305 ms vs 254 ms for a 64x32x32x64 output).
// Channel runs are contiguous on both sides; long ones go through copyWithin (a memmove), short ones
// (the RGB layer) through a plain loop, which beats a call per 3 floats.
function interleavePhases(backend: BackendWasm, phases: TensorInfo, plan: SubPixelPlan): TensorInfo {
  const { batchSize, inHeight: height, inWidth: width, inChannels: channels, strideH, strideW, cropTop, cropLeft } = plan;
  const [, blocksH, blocksW, phaseChannels] = phases.shape;
  const out = backend.makeOutput([batchSize, height, width, channels], 'float32');
  const heap = heapFloat32(backend);
  const src = heapIndex(backend, phases);
  let dst = heapIndex(backend, out);
  const longRuns = channels >= 16;
  for (let n = 0; n < batchSize; n++) {
    for (let h = 0; h < height; h++) {
      const q = Math.floor((h + cropTop) / strideH);
      const r1 = (h + cropTop) % strideH;
      if (q >= blocksH) {
        // Past the full extent: no kernel tap reaches this row.
        heap.fill(0, dst, dst + width * channels);
        dst += width * channels;
        continue;
      }
      const rowSrc = src + (n * blocksH + q) * blocksW * phaseChannels + r1 * strideW * channels;
      for (let w = 0; w < width; w++, dst += channels) {
        const p = Math.floor((w + cropLeft) / strideW);
        if (p >= blocksW) {
          heap.fill(0, dst, dst + channels);
          continue;
        }
        const from = rowSrc + p * phaseChannels + ((w + cropLeft) % strideW) * channels;
        if (longRuns) heap.copyWithin(dst, from, from + channels);
        else for (let c = 0; c < channels; c++) heap[dst + c] = heap[from + c];
      }
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
  const { tapsH, tapsW, blocksH, blocksW, outHeight, outWidth } = plan;
  const subFilter = subPixelFilter(backend, filter, plan);
  // Pads make output block q see input rows q-(T-1) .. q, i.e. all inputs whose taps reach block q.
  const pad: ExplicitPadding = [[0, 0], [tapsH - 1, blocksH - outHeight], [tapsW - 1, blocksW - outWidth], [0, 0]];
  const phases = runWasmKernel(backend, Conv2D, { x: dy, filter: subFilter }, {
    strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1],
  });
  disposeIntermediates(backend, subFilter);
  const dx = interleavePhases(backend, phases, plan);
  disposeIntermediates(backend, phases);
  return dx;
}

type FastKernel = (args: Parameters<KernelFunc>[0], original: KernelFunc) => ReturnType<KernelFunc>;

/**
 * Kernels replaced on wasm, each falling back to the original for what it does not cover:
 * - Conv2DBackpropInput (conv2dTranspose's forward): sub-pixel form on XNNPACK; falls back for NCHW,
 *   non-float, or a dy whose shape does not match inputShape.
 * - Tile (BatchNorm's gradient): memmoves; falls back for bool and strings.
 */
const FAST_KERNELS: Record<string, FastKernel> = {
  [Conv2DBackpropInput]: (args, original) => fastConv2DBackpropInput(args as unknown as BackpropInputArgs, original),
  [Tile]: (args, original) => {
    const { inputs: { x }, backend, attrs: { reps } } = args as unknown as
      { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: { reps: number[] } };
    return tileOnHeap(backend, x, reps) ?? original(args);
  },
};
export const FAST_KERNEL_NAMES: readonly string[] = Object.keys(FAST_KERNELS);

function kernelOrThrow(kernelName: string): KernelConfig {
  const current = getKernel(kernelName, 'wasm');
  if (current == null) throw new Error(`wasm ${kernelName} is not registered: is @tensorflow/tfjs-backend-wasm imported?`);
  return current;
}

/** Swaps in the faster kernels (all by default). Idempotent. */
export function registerWasmFastKernels(kernelNames: readonly string[] = FAST_KERNEL_NAMES): void {
  for (const kernelName of kernelNames) {
    const current = kernelOrThrow(kernelName);
    if ((current.kernelFunc as FastKernelFunc)[ORIGINAL] != null) continue;
    const original = current.kernelFunc;
    const fast: FastKernelFunc = (args) => FAST_KERNELS[kernelName](args, original);
    fast[ORIGINAL] = original;
    replaceKernel(current, fast);
  }
}

/** Puts wasm's own kernels back (for before/after benchmarks and tests). Idempotent. */
export function unregisterWasmFastKernels(kernelNames: readonly string[] = FAST_KERNEL_NAMES): void {
  for (const kernelName of kernelNames) {
    const current = kernelOrThrow(kernelName);
    const original = (current.kernelFunc as FastKernelFunc)[ORIGINAL];
    if (original != null) replaceKernel(current, original);
  }
}

/** The replaced kernels currently active. */
export function activeWasmFastKernels(): string[] {
  return FAST_KERNEL_NAMES.filter((name) => (getKernel(name, 'wasm')?.kernelFunc as FastKernelFunc | undefined)?.[ORIGINAL] != null);
}

// The original setupFunc must stay: the engine runs every kernel's setupFunc when the wasm backend
// initialises, and it is what binds the C++ function the original kernelFunc (our fallback) calls.
// Dropping it fails later with "wasm<Kernel> is not a function".
function replaceKernel(current: KernelConfig, kernelFunc: KernelFunc): void {
  unregisterKernel(current.kernelName, current.backendName);
  registerKernel({ ...current, kernelFunc });
}
