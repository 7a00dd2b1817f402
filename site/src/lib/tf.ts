/**
 * Loads TensorFlow.js in the browser and picks the fastest backend that works: webgpu, then webgl, then wasm
 * (XNNPACK, SIMD), then the pure-JS cpu backend. A GPU backend that runs on a software rasterizer (WebGL on
 * SwiftShader or llvmpipe, WebGPU's fallback adapter) is passed over: on the same CPU wasm is 3-7x faster
 * (docs/site-bench.md). Everything tfjs is a dynamic import, so it ships in its own chunks and the page renders
 * before it arrives. `?backend=wasm` (or webgl, webgpu, cpu) in the URL forces one.
 */
export type Tf = typeof import('./tf-bundle.ts');
export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
export const backendOrder: BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface TfHandle {
  tf: Tf;
  backend: BackendName;
  /** Why a faster-ranked backend was passed over, in words for the page (e.g. software WebGL). */
  note?: string;
}

/** Renderer names of software rasterizers: a "GPU" backend on them computes on the CPU, slower than wasm. */
export function isSoftwareRenderer(renderer: string): boolean {
  return /swiftshader|llvmpipe|softpipe|lavapipe|software|basic render|mesa offscreen/i.test(renderer);
}

/** The WebGL renderer's name (unmasked where the browser allows), or undefined without WebGL. */
function webglRenderer(): string | undefined {
  const canvas = document.createElement('canvas');
  const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
  if (!gl) return undefined;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return renderer;
}

type Adapter = { isFallbackAdapter?: boolean; info?: { isFallbackAdapter?: boolean } };

/**
 * Whether backend `name` can run here and, for a GPU API, which software rasterizer is behind it (a reason to
 * pass it over when the page chooses). One probe per backend: one adapter request, one WebGL context.
 */
async function probe(name: BackendName): Promise<{ available: boolean; software?: string }> {
  switch (name) {
    case 'webgpu': {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<Adapter | null> } }).gpu;
      const adapter = await gpu?.requestAdapter().catch(() => null);
      if (!adapter) return { available: false };
      return { available: true, software: adapter.isFallbackAdapter || adapter.info?.isFallbackAdapter ? 'WebGPU here is a software fallback' : undefined };
    }
    case 'webgl': {
      const renderer = webglRenderer();
      if (renderer === undefined) return { available: false };
      return { available: true, software: isSoftwareRenderer(renderer) ? `WebGL here is software (${renderer})` : undefined };
    }
    case 'wasm':
      return { available: typeof WebAssembly === 'object' };
    case 'cpu':
      return { available: true };
  }
}

export class BackendError extends Error {
  override name = 'BackendError';
}

/** The backend named by `?backend=` in a query string, if it is one we know. */
export function backendFromQuery(search: string): BackendName | undefined {
  const value = new URLSearchParams(search).get('backend');
  return backendOrder.find((b) => b === value);
}

/** Loads backend `name`'s package (a probed, available one). */
async function register(tf: Tf, name: BackendName): Promise<boolean> {
  switch (name) {
    case 'webgpu':
      await import('@tensorflow/tfjs-backend-webgpu');
      return true;
    case 'webgl':
      await import('@tensorflow/tfjs-backend-webgl');
      return true;
    case 'wasm': {
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
    const passedOver: string[] = [];
    for (const name of order) {
      try {
        const { available, software } = await probe(name);
        // Chosen by the page, not forced: a GPU backend on a software rasterizer is slower than wasm.
        if (available && software && !preference) {
          passedOver.push(software);
          continue;
        }
        if (available && (await register(tf, name)) && (await tf.setBackend(name))) {
          await tf.ready();
          return { tf, backend: name, note: passedOver.length ? `${passedOver.join('; ')}, so ${name} is faster` : undefined };
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
