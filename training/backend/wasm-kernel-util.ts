// Shared plumbing for kernels composed from other wasm kernels. Calling registered kernelFuncs directly
// (instead of tf.* ops) keeps intermediates out of the engine: no tape entries, no tensor tracking, no
// tf.memory() counts, so a composed kernel looks to the engine exactly like a native one. The price is
// that every intermediate must be freed by hand with backend.disposeData.
import '@tensorflow/tfjs-backend-wasm';
import { getKernel, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

export function runWasmKernel(
  backend: BackendWasm,
  kernelName: string,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const kernel = getKernel(kernelName, 'wasm');
  if (kernel == null) {
    throw new Error(`wasm kernel ${kernelName} is not registered: is @tensorflow/tfjs-backend-wasm imported?`);
  }
  const result = kernel.kernelFunc({ inputs, attrs, backend });
  if (Array.isArray(result)) throw new Error(`wasm kernel ${kernelName} returned several outputs, expected one`);
  return result;
}

export function disposeIntermediates(backend: BackendWasm, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** The wasm heap's current buffer; take views after the last allocation, since growth replaces it. */
export function heapBuffer(backend: BackendWasm): ArrayBufferLike {
  // The Emscripten module typings are not in this project's `types`. wasmMemory.buffer is always the
  // live one; in the threaded build Module.HEAPU8 goes stale when a worker thread grows the memory,
  // until the glue's next GROWABLE_HEAP_* access on the main thread.
  const module = backend.wasm as unknown as { wasmMemory?: WebAssembly.Memory; HEAPU8: Uint8Array };
  return module.wasmMemory?.buffer ?? module.HEAPU8.buffer;
}

/** A Float32Array over the whole wasm heap. */
export function heapFloat32(backend: BackendWasm): Float32Array {
  return new Float32Array(heapBuffer(backend));
}

/** Index into heapFloat32() of a float32 tensor's first element. */
export function heapIndex(backend: BackendWasm, info: TensorInfo): number {
  const { memoryOffset } = backend.dataIdMap.get(info.dataId) as { memoryOffset: number };
  if (memoryOffset % 4 !== 0) throw new Error(`wasm tensor at byte offset ${memoryOffset} is not float-aligned`);
  return memoryOffset / 4;
}
