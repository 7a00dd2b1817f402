/**
 * Loads TensorFlow.js in the browser and picks the fastest backend that works: webgpu, then webgl, then wasm
 * (XNNPACK, SIMD), then the pure-JS cpu backend. Everything tfjs is a dynamic import, so it ships in its own
 * chunks and the page renders before it arrives. `?backend=wasm` (or webgl, webgpu, cpu) in the URL forces one;
 * tests use it to avoid SwiftShader's slow webgl.
 */
export type Tf = typeof import('./tf-bundle.ts');
export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
export const backendOrder: BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface TfHandle {
  tf: Tf;
  backend: BackendName;
}

export class BackendError extends Error {
  override name = 'BackendError';
}

/** The backend named by `?backend=` in a query string, if it is one we know. */
export function backendFromQuery(search: string): BackendName | undefined {
  const value = new URLSearchParams(search).get('backend');
  return backendOrder.find((b) => b === value);
}

async function register(tf: Tf, name: BackendName): Promise<boolean> {
  switch (name) {
    case 'webgpu': {
      const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      if (!gpu || !(await gpu.requestAdapter().catch(() => null))) return false;
      await import('@tensorflow/tfjs-backend-webgpu');
      return true;
    }
    case 'webgl': {
      const probe = document.createElement('canvas');
      if (!(probe.getContext('webgl2') ?? probe.getContext('webgl'))) return false;
      await import('@tensorflow/tfjs-backend-webgl');
      return true;
    }
    case 'wasm': {
      if (typeof WebAssembly !== 'object') return false;
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const urls = await import('./wasm-urls.ts');
      wasm.setWasmPaths({
        'tfjs-backend-wasm.wasm': urls.plain,
        'tfjs-backend-wasm-simd.wasm': urls.simd,
        'tfjs-backend-wasm-threaded-simd.wasm': urls.threadedSimd,
      });
      return true;
    }
    case 'cpu':
      return tf.findBackendFactory('cpu') !== null;
  }
}

let loading: Promise<TfHandle> | undefined;

/** Loads tfjs once per page; `preference` (or ?backend=) is tried first, then the others in order. */
export function loadTf(preference: BackendName | undefined = backendFromQuery(location.search)): Promise<TfHandle> {
  loading ??= (async () => {
    const tf = await import('./tf-bundle.ts');
    const order = preference ? [preference] : backendOrder;
    const failures: string[] = [];
    for (const name of order) {
      try {
        if ((await register(tf, name)) && (await tf.setBackend(name))) {
          await tf.ready();
          return { tf, backend: name };
        }
        failures.push(`${name}: not available`);
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message}`);
      }
    }
    throw new BackendError(`No TensorFlow.js backend could start in this browser (${failures.join('; ')}).`);
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}
