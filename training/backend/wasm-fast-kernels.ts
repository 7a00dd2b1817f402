// Faster replacements for wasm kernels that dominate a DCGAN training step, each falling back to wasm's
// own kernel for what it does not cover. Registered over the originals, so model code needs no change.
import '@tensorflow/tfjs-backend-wasm';
import {
  BatchMatMul,
  Conv2DBackpropInput,
  getKernel,
  Mean,
  registerKernel,
  Sum,
  Tile,
  Transpose,
  unregisterKernel,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { disposeIntermediates, runWasmKernel } from './wasm-kernel-util.ts';
import { reduceLeadingAxes } from './wasm-reduce.ts';
import { tileOnHeap } from './wasm-tile.ts';
import { subPixelConv2DBackpropInput } from './wasm-transposed-conv.ts';

export { planSubPixelTransposedConv } from './wasm-transposed-conv.ts';

// Marks our kernelFunc and remembers the one it replaced, on the function itself: a second copy of this
// module (vitest can load one per worker) then still recognises and can undo the replacement.
const ORIGINAL = Symbol.for('glo.wasm.originalKernel');
type FastKernelFunc = KernelFunc & { [ORIGINAL]?: KernelFunc };

type FastKernel = (args: Parameters<KernelFunc>[0], original: KernelFunc) => ReturnType<KernelFunc>;

/**
 * Kernels replaced on wasm, each falling back to the original for what it does not cover:
 * - Conv2DBackpropInput (conv2dTranspose's forward): sub-pixel form on XNNPACK; falls back for NCHW,
 *   non-float, or a dy whose shape does not match inputShape.
 * - Tile (BatchNorm's gradient): memmoves; falls back for bool and strings.
 * - Sum and Mean over leading axes (BatchNorm's per-channel statistics and gradients): one XNNPACK
 *   average pool over the reduced axes; falls back for other axes and non-float.
 * - BatchMatMul with transposeA or transposeB (every matMul's gradient, e.g. a dense layer's): wasm runs
 *   those as a scalar loop, 9x slower than its XNNPACK path; here the flagged operand is transposed first
 *   (one copy) and the product runs without flags. Falls back for non-float.
 */
const FAST_KERNELS: Record<string, FastKernel> = {
  [Conv2DBackpropInput]: (args, original) => {
    const { inputs: { dy, filter }, backend, attrs } = args as unknown as
      { inputs: { dy: TensorInfo; filter: TensorInfo }; backend: BackendWasm; attrs: Conv2DBackpropInputAttrs };
    return subPixelConv2DBackpropInput(backend, dy, filter, attrs) ?? original(args);
  },
  [Tile]: (args, original) => {
    const { inputs: { x }, backend, attrs: { reps } } = args as unknown as
      { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: { reps: number[] } };
    return tileOnHeap(backend, x, reps) ?? original(args);
  },
  [BatchMatMul]: (args, original) => {
    const { inputs: { a, b }, backend, attrs } = args as unknown as
      { inputs: { a: TensorInfo; b: TensorInfo }; backend: BackendWasm; attrs: { transposeA: boolean; transposeB: boolean } };
    if ((!attrs.transposeA && !attrs.transposeB) || a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    const transposed: TensorInfo[] = [];
    const plain = (x: TensorInfo, flagged: boolean) => {
      if (!flagged) return x;
      const rank = x.shape.length;
      const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
      const t = runWasmKernel(backend, Transpose, { x }, { perm });
      transposed.push(t);
      return t;
    };
    const result = original({ inputs: { a: plain(a, attrs.transposeA), b: plain(b, attrs.transposeB) }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    disposeIntermediates(backend, ...transposed);
    return result;
  },
  [Sum]: (args, original) => reduction(args, original, 'sum'),
  [Mean]: (args, original) => reduction(args, original, 'mean'),
};

function reduction(args: Parameters<KernelFunc>[0], original: KernelFunc, kind: 'sum' | 'mean'): ReturnType<KernelFunc> {
  const { inputs: { x }, backend, attrs: { axis, keepDims } } = args as unknown as
    { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: { axis: number | number[]; keepDims: boolean } };
  return reduceLeadingAxes(backend, x, axis, keepDims, kind) ?? original(args);
}
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
