// initBackend against the backends installed here (cpu, wasm), plus a stand-in tfjs-node(-gpu) to check
// how GPU presence is judged: the real packages cannot install offline.
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { initBackend, type PackageImporter } from '../../../training/backend/backend.ts';
import { activeWasmFastKernels } from '../../../training/backend/wasm-fast-kernels.ts';

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

function notInstalled(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}' imported from backend.ts`), { code: 'ERR_MODULE_NOT_FOUND' });
}

/** Imports that behave like tfjs-node(-gpu): register a 'tensorflow' backend reporting `usingGpu`. */
function fakeNative(available: Record<string, { usingGpu: boolean }>): PackageImporter & { imported: string[] } {
  const imported: string[] = [];
  const importer = async (specifier: string) => {
    imported.push(specifier);
    const fake = available[specifier];
    if (fake == null) throw notInstalled(specifier);
    class FakeNodeBackend extends tf.KernelBackend {
      isUsingGpuDevice = fake.usingGpu;
      override dispose(): void {}
    }
    tf.registerBackend('tensorflow', () => new FakeNodeBackend());
    return {};
  };
  return Object.assign(importer, { imported });
}

afterEach(async () => {
  if (tf.findBackendFactory('tensorflow') != null) tf.removeBackend('tensorflow');
  await tf.setBackend('cpu');
});

describe('initBackend', () => {
  it('activates the pure-JS cpu backend and names its package', async () => {
    const info = await initBackend('cpu');
    expect(info).toMatchObject({ name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', gpu: false });
    expect(tf.getBackend()).toBe('cpu');
    expect(info.device).toMatch(/^CPU: .+, \d+ cores/);
  });

  it('activates wasm with the training kernels it lacks and the fast kernels', async () => {
    const info = await initBackend('wasm');
    expect(info).toMatchObject({ name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', gpu: false });
    expect(info.device).toMatch(/^wasm simd, 1 thread /);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
    expect(activeWasmFastKernels()).toEqual(['Conv2DBackpropInput', 'Tile', 'BatchMatMul', 'Sum', 'Mean']);
  });

  it.skipIf(installed('@tensorflow/tfjs-node'))('fails for tensorflow, naming the npm package to install', async () => {
    await expect(initBackend('tensorflow')).rejects.toThrow(/npm install @tensorflow\/tfjs-node@4\.22\.0/);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('auto takes tfjs-node-gpu when it is importable and reports the GPU TensorFlow uses', async () => {
    const importer = fakeNative({ '@tensorflow/tfjs-node-gpu': { usingGpu: true } });
    const info = await initBackend('auto', { requireGpu: true }, importer);
    expect(info).toMatchObject({ name: 'tensorflow', package: '@tensorflow/tfjs-node-gpu', gpu: true });
    expect(info.device).toMatch(/^GPU: /);
    expect(importer.imported).toEqual(['@tensorflow/tfjs-node-gpu']);
  });

  it('reports a silent CPU fallback of tfjs-node-gpu as not GPU, and requireGpu rejects it', async () => {
    const importer = fakeNative({ '@tensorflow/tfjs-node-gpu': { usingGpu: false } });
    const info = await initBackend('auto', {}, importer);
    expect(info).toMatchObject({ name: 'tensorflow', package: '@tensorflow/tfjs-node-gpu', gpu: false });
    expect(info.device).toMatch(/^CPU: /);
    tf.removeBackend('tensorflow');
    await expect(initBackend('tensorflow-gpu', { requireGpu: true }, importer)).rejects.toThrow(/GPU is required.*CUDA/s);
  });

  it('auto falls back to tfjs-node, then to wasm, when the packages before are not installed', async () => {
    const onlyCpuPackage = fakeNative({ '@tensorflow/tfjs-node': { usingGpu: false } });
    expect(await initBackend('auto', {}, onlyCpuPackage)).toMatchObject({ package: '@tensorflow/tfjs-node', gpu: false });
    tf.removeBackend('tensorflow');
    const nothingNative = fakeNative({});
    expect(await initBackend('auto', {}, nothingNative)).toMatchObject({ name: 'wasm', gpu: false });
    expect(nothingNative.imported).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
  });

  it('requireGpu fails with the reasons when no GPU package is there, and never for a CPU-only choice silently', async () => {
    await expect(initBackend('auto', { requireGpu: true }, fakeNative({})))
      .rejects.toThrow(/GPU is required.*@tensorflow\/tfjs-node-gpu, which is not installed/s);
    await expect(initBackend('wasm', { requireGpu: true })).rejects.toThrow(/backend 'wasm' never uses one/);
  });

  it('tells an installed but broken native package apart from a missing one', async () => {
    const broken: PackageImporter = async () => {
      throw new Error('libtensorflow.so.2: cannot open shared object file');
    };
    await expect(initBackend('tensorflow', {}, broken)).rejects.toThrow(/installed but failed to load \(libtensorflow/);
  });
});
