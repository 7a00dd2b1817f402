// The one place that picks the tfjs backend. Model code imports plain @tensorflow/tfjs-core and runs on
// whatever this activated. The native TensorFlow packages are optional (their install downloads
// libtensorflow, impossible offline), so they are only ever reached through dynamic import.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmFastKernels } from './wasm-fast-kernels.ts';
import { registerWasmGradientKernels } from './wasm-gradient-kernels.ts';
import { withWasmThreads } from './wasm-node-threads.ts';

export const BACKEND_NAMES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendInfo {
  /** The tfjs backend actually active (tf.getBackend()). */
  name: string;
  /** The npm package that provides it. */
  package: string;
  /** What computes, for logs and the run manifest. */
  device: string;
  /** True only when TensorFlow reports a CUDA device in use, not merely the GPU package loaded. */
  gpu: boolean;
}

export interface InitBackendOptions {
  /** Throw unless a GPU is really in use (a GPU job must not train for hours on a silent CPU fallback). */
  requireGpu?: boolean;
  /** CPU threads: wasm pthreads (default 1), or TensorFlow's intra-op pool (default: all cores). */
  threads?: number;
}

/** How a package is loaded; tests substitute a fake tfjs-node to exercise the GPU paths. */
export type PackageImporter = (specifier: string) => Promise<unknown>;

const TFJS_VERSION = '4.22.0';
const NATIVE_PACKAGES = { 'tensorflow-gpu': '@tensorflow/tfjs-node-gpu', tensorflow: '@tensorflow/tfjs-node' } as const;

// A separate class so 'auto' can tell "not installed" (try the next backend) from a real fault.
export class BackendUnavailableError extends Error {}

/** The subset of tfjs-node's NodeJSKernelBackend read here. */
interface NativeBackend { isUsingGpuDevice?: boolean }

function cpuDescription(): string {
  const cpus = os.cpus();
  return `CPU: ${cpus[0]?.model.trim() ?? 'unknown'}, ${cpus.length} cores`;
}

function gpuName(): string {
  try {
    const names = execFileSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8', timeout: 5000 });
    return names.trim().split('\n').join(', ') || 'CUDA device';
  } catch {
    return 'CUDA device';
  }
}

function isModuleNotFound(error: unknown, specifier: string): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String(message).includes(specifier);
}

async function initNative(
  which: keyof typeof NATIVE_PACKAGES, options: InitBackendOptions, importPackage: PackageImporter,
): Promise<BackendInfo> {
  const pkg = NATIVE_PACKAGES[which];
  // TensorFlow reads these once, when libtensorflow loads: they must be set before the import.
  if (options.threads != null) process.env.TF_NUM_INTRAOP_THREADS ??= String(options.threads);
  if (which === 'tensorflow-gpu') process.env.TF_FORCE_GPU_ALLOW_GROWTH ??= 'true';
  try {
    await importPackage(pkg);
  } catch (error) {
    if (isModuleNotFound(error, pkg)) {
      throw new BackendUnavailableError(
        `backend '${which}' needs the npm package ${pkg}, which is not installed. Install it with ` +
        `\`npm install ${pkg}@${TFJS_VERSION}\` (its install script downloads libtensorflow, so it needs internet` +
        `${which === 'tensorflow-gpu' ? ', and CUDA 11.2 + cuDNN 8.1 at run time' : ''}), or choose --backend wasm.`);
    }
    throw new BackendUnavailableError(
      `${pkg} is installed but failed to load (${(error as Error).message}). Reinstall it with ` +
      `\`npm install ${pkg}@${TFJS_VERSION}\` on Node 20/22 (it breaks on Node >= 23), or choose --backend wasm.`);
  }
  if (!(await tf.setBackend('tensorflow'))) {
    throw new BackendUnavailableError(`${pkg} loaded but the 'tensorflow' backend failed to initialise`);
  }
  const gpu = (tf.engine().findBackend('tensorflow') as NativeBackend | null)?.isUsingGpuDevice === true;
  return { name: tf.getBackend(), package: pkg, device: gpu ? `GPU: ${gpuName()}` : cpuDescription(), gpu };
}

async function initWasm(options: InitBackendOptions): Promise<BackendInfo> {
  registerWasmGradientKernels();
  registerWasmFastKernels();
  const threads = options.threads ?? 1;
  const alreadyStarted = tf.engine().registry.wasm != null;
  const start = async () => tf.setBackend('wasm');
  // Threads can only be chosen when the wasm module is instantiated, i.e. the first time.
  const ok = threads > 1 && !alreadyStarted ? await withWasmThreads(threads, start) : await start();
  if (!ok) throw new BackendUnavailableError('the wasm backend failed to initialise (see the error logged above)');
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const actualThreads = getThreadsCount();
  return {
    name: tf.getBackend(),
    package: '@tensorflow/tfjs-backend-wasm',
    device: `wasm${simd ? ' simd' : ''}, ${actualThreads} thread${actualThreads === 1 ? '' : 's'} (${cpuDescription()})`,
    gpu: false,
  };
}

async function initCpu(): Promise<BackendInfo> {
  if (!(await tf.setBackend('cpu'))) throw new BackendUnavailableError('the cpu backend failed to initialise');
  return { name: tf.getBackend(), package: '@tensorflow/tfjs-backend-cpu', device: `${cpuDescription()} (pure JS, 1 thread)`, gpu: false };
}

function noGpuError(info: BackendInfo | null, reasons: string[]): Error {
  const found = info == null ? '' : ` The active backend is '${info.name}' from ${info.package} on ${info.device}.`;
  return new Error(
    `a GPU is required (requireGpu / --require-gpu) but none is in use.${found}` +
    (reasons.length > 0 ? ` Tried: ${reasons.join(' | ')}` : '') +
    ' A GPU needs @tensorflow/tfjs-node-gpu with CUDA 11.2 + cuDNN 8.1 visible (nvidia-smi, LD_LIBRARY_PATH);' +
    ' without them TensorFlow silently runs on the CPU.');
}

/**
 * Activates a tfjs backend and describes it. 'auto' takes the fastest that works here:
 * tfjs-node-gpu, tfjs-node, wasm (with the training kernels it lacks), then the pure-JS cpu backend.
 */
export async function initBackend(
  requested: BackendName,
  options: InitBackendOptions = {},
  importPackage: PackageImporter = (specifier) => import(specifier),
): Promise<BackendInfo> {
  if (options.threads != null && (!Number.isInteger(options.threads) || options.threads < 1)) {
    throw new Error(`threads must be a positive integer, got ${options.threads}`);
  }
  if (options.requireGpu && requested !== 'auto' && requested !== 'tensorflow-gpu') {
    throw new Error(`a GPU is required (requireGpu / --require-gpu) but backend '${requested}' never uses one: ` +
      `choose 'tensorflow-gpu' or 'auto'.`);
  }
  // With requireGpu, 'auto' stops after the GPU package: a CPU backend would only fail later.
  const candidates: Exclude<BackendName, 'auto'>[] = requested !== 'auto' ? [requested]
    : options.requireGpu ? ['tensorflow-gpu'] : ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
  const reasons: string[] = [];
  for (const candidate of candidates) {
    let info: BackendInfo;
    try {
      info = candidate === 'wasm' ? await initWasm(options)
        : candidate === 'cpu' ? await initCpu()
          : await initNative(candidate, options, importPackage);
    } catch (error) {
      if (requested === 'auto' && error instanceof BackendUnavailableError) {
        reasons.push((error as Error).message);
        continue;
      }
      throw error;
    }
    if (options.requireGpu && !info.gpu) throw noGpuError(info, reasons);
    return info;
  }
  throw options.requireGpu ? noGpuError(null, reasons) : new Error(`no tfjs backend could start: ${reasons.join(' | ')}`);
}
