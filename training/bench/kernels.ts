// Throughput of one GLO training step's heavy part (forward + backward through a DCGAN generator) per
// backend and image size, in images/s and achieved conv GFLOP/s.
//   npx tsx training/bench/kernels.ts [--backends wasm,wasm-original,cpu] [--sizes 32,64] [--batch 64]
//     [--steps 5] [--cpu-batch 2] [--cpu-steps 1] [--threads 1] [--profile]
// 'wasm-original' is wasm with its own Conv2DBackpropInput (the before of training/backend's fast kernel).
// The cpu backend needs minutes per batch-64 step, so it runs a smaller batch (--cpu-batch) and its
// images/s is per-image throughput at that batch.
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, type BackendInfo, type BackendName } from '../backend/backend.ts';
import { registerWasmFastKernels, unregisterWasmFastKernels } from '../backend/wasm-fast-kernels.ts';

export const LATENT_DIM = 100;
export const GENERATOR_FILTERS = 64; // DCGAN's ngf

/** Channels after each conv2dTranspose: 4x4 first, doubling the size each layer up to imageSize. */
function generatorChannels(imageSize: number, ngf = GENERATOR_FILTERS): number[] {
  const upsamplings = Math.log2(imageSize / 4);
  if (!Number.isInteger(upsamplings) || upsamplings < 1) throw new Error(`imageSize must be 8, 16, 32, 64, ..., got ${imageSize}`);
  const hidden = Array.from({ length: upsamplings }, (_, i) => ngf * 2 ** (upsamplings - 1 - i));
  return [...hidden, 3];
}

/** The DCGAN generator (Radford et al. 2016) as GLO uses it; built here so the bench has no other deps. */
export function buildBenchGenerator(imageSize: number, ngf = GENERATOR_FILTERS, latentDim = LATENT_DIM): tfl.LayersModel {
  const channels = generatorChannels(imageSize, ngf);
  const latent = tfl.input({ shape: [latentDim] });
  let h = tfl.layers.reshape({ targetShape: [1, 1, latentDim] }).apply(latent) as tfl.SymbolicTensor;
  channels.forEach((filters, i) => {
    const first = i === 0;
    const last = i === channels.length - 1;
    h = tfl.layers.conv2dTranspose({
      filters, kernelSize: 4, strides: first ? 1 : 2, padding: first ? 'valid' : 'same', useBias: last,
    }).apply(h) as tfl.SymbolicTensor;
    if (last) {
      h = tfl.layers.activation({ activation: 'tanh' }).apply(h) as tfl.SymbolicTensor;
    } else {
      h = tfl.layers.batchNormalization().apply(h) as tfl.SymbolicTensor;
      h = tfl.layers.reLU().apply(h) as tfl.SymbolicTensor;
    }
  });
  return tfl.model({ inputs: latent, outputs: h });
}

/**
 * Conv FLOPs of one step per image: forward, gradient w.r.t. the input and w.r.t. the filter of every
 * conv2dTranspose, each 2 * (input pixels * taps * Cin * Cout) multiply-adds.
 */
export function generatorStepFlopsPerImage(imageSize: number, ngf = GENERATOR_FILTERS, latentDim = LATENT_DIM): number {
  let inputSide = 1;
  let inputChannels = latentDim;
  let macs = 0;
  for (const filters of generatorChannels(imageSize, ngf)) {
    macs += inputSide * inputSide * 16 * inputChannels * filters;
    inputSide = inputSide === 1 ? 4 : inputSide * 2;
    inputChannels = filters;
  }
  return 3 * 2 * macs;
}

export type BenchBackend = Exclude<BackendName, 'auto'>;

function latentVariable(batchSize: number): tf.Variable {
  // tf.variable keeps its own reference to the initial tensor's data: dispose ours, or it leaks.
  const initial = tf.randomNormal([batchSize, LATENT_DIM]);
  const latents = tf.variable(initial);
  initial.dispose();
  return latents;
}

export interface GeneratorBenchOptions {
  backend: BenchBackend;
  imageSize: number;
  batchSize: number;
  /** Timed steps, after one untimed warm-up step (XNNPACK operator creation, heap growth). */
  steps: number;
  /** wasm only: false measures wasm's own Conv2DBackpropInput instead of the sub-pixel kernel. */
  fastKernels?: boolean;
  threads?: number;
}

export interface GeneratorBenchResult {
  backend: BackendInfo;
  imageSize: number;
  batchSize: number;
  steps: number;
  fastKernels: boolean;
  secondsPerStep: number;
  imagesPerSecond: number;
  gflops: number;
}

/** Forward + backward of the generator on a random batch, gradients for every weight and the latents. */
export async function benchGeneratorStep(options: GeneratorBenchOptions): Promise<GeneratorBenchResult> {
  const { imageSize, batchSize, steps } = options;
  const backend = await initBackend(options.backend, { threads: options.threads });
  const fastKernels = backend.name === 'wasm' && options.fastKernels !== false;
  if (backend.name === 'wasm') {
    if (fastKernels) registerWasmFastKernels();
    else unregisterWasmFastKernels();
  }
  const model = buildBenchGenerator(imageSize);
  const latents = latentVariable(batchSize);
  const target = tf.randomUniform([batchSize, imageSize, imageSize, 3], -1, 1);
  const variables = [...model.trainableWeights.map((w) => w.read() as tf.Variable), latents];
  const step = () => {
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.abs(tf.sub(model.apply(latents, { training: true }) as tf.Tensor, target))) as tf.Scalar,
      variables);
    value.dataSync(); // backends may run asynchronously: wait for the step to really finish
    tf.dispose([value, ...Object.values(grads)]);
  };
  try {
    step();
    const start = performance.now();
    for (let i = 0; i < steps; i++) step();
    const secondsPerStep = (performance.now() - start) / 1000 / steps;
    return {
      backend, imageSize, batchSize, steps, fastKernels, secondsPerStep,
      imagesPerSecond: batchSize / secondsPerStep,
      gflops: (generatorStepFlopsPerImage(imageSize) * batchSize) / secondsPerStep / 1e9,
    };
  } finally {
    tf.dispose([latents, target]);
    model.dispose();
    if (backend.name === 'wasm') registerWasmFastKernels();
  }
}

/** Share of kernel time per kernel name in one step (tf.profile), largest first. */
export async function profileGeneratorStep(options: Omit<GeneratorBenchOptions, 'steps'>): Promise<[string, number][]> {
  await benchGeneratorStep({ ...options, steps: 0 });
  const model = buildBenchGenerator(options.imageSize);
  const latents = latentVariable(options.batchSize);
  const target = tf.randomUniform([options.batchSize, options.imageSize, options.imageSize, 3], -1, 1);
  if (options.fastKernels === false) unregisterWasmFastKernels();
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.abs(tf.sub(model.apply(latents, { training: true }) as tf.Tensor, target))) as tf.Scalar,
      [...model.trainableWeights.map((w) => w.read() as tf.Variable), latents]);
    tf.dispose([value, ...Object.values(grads)]);
  });
  registerWasmFastKernels();
  tf.dispose([latents, target]);
  model.dispose();
  const byName = new Map<string, number>();
  for (const kernel of info.kernels) byName.set(kernel.name, (byName.get(kernel.name) ?? 0) + (kernel.kernelTimeMs as number));
  const total = [...byName.values()].reduce((a, b) => a + b, 0);
  return [...byName.entries()].map(([name, ms]): [string, number] => [name, ms / total]).sort((a, b) => b[1] - a[1]);
}

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}

async function main(args: string[]): Promise<void> {
  const backends = flag(args, 'backends', 'wasm,wasm-original,cpu').split(',');
  const sizes = flag(args, 'sizes', '32,64').split(',').map(Number);
  const batchSize = Number(flag(args, 'batch', '64'));
  const steps = Number(flag(args, 'steps', '5'));
  const cpuBatch = Number(flag(args, 'cpu-batch', '2'));
  const cpuSteps = Number(flag(args, 'cpu-steps', '1'));
  const threads = Number(flag(args, 'threads', '1'));
  console.log(`DCGAN generator (ngf ${GENERATOR_FILTERS}, latent ${LATENT_DIM}) forward+backward, node ${process.version}, ` +
    `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const cpuImagesPerSecond = new Map<number, number>();
  const rows: string[][] = [];
  for (const name of ['cpu', ...backends.filter((b) => b !== 'cpu')].filter((b) => backends.includes(b))) {
    for (const imageSize of sizes) {
      const isCpu = name === 'cpu';
      const result = await benchGeneratorStep({
        backend: name.startsWith('wasm') ? 'wasm' : (name as BenchBackend), imageSize,
        batchSize: isCpu ? cpuBatch : batchSize, steps: isCpu ? cpuSteps : steps,
        fastKernels: name !== 'wasm-original', threads: name.startsWith('wasm') ? threads : undefined,
      });
      if (isCpu) cpuImagesPerSecond.set(imageSize, result.imagesPerSecond);
      const cpu = cpuImagesPerSecond.get(imageSize);
      rows.push([name, `${imageSize}`, `${result.batchSize}x${result.steps}`, result.imagesPerSecond.toPrecision(3),
        result.gflops.toPrecision(3), cpu == null ? '-' : `${(result.imagesPerSecond / cpu).toFixed(1)}x`, result.backend.device]);
      console.log(rows.at(-1)!.join('\t'));
    }
  }
  const header = ['backend', 'px', 'batch x steps', 'img/s', 'GFLOP/s', 'vs cpu', 'device'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(`\n${[header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n')}`);
  if (args.includes('--profile')) {
    for (const imageSize of sizes) {
      for (const fastKernels of [false, true]) {
        const shares = await profileGeneratorStep({ backend: 'wasm', imageSize, batchSize, fastKernels, threads });
        console.log(`\nwasm ${imageSize}px ${fastKernels ? 'fast' : 'original'} Conv2DBackpropInput, kernel time share: ` +
          shares.slice(0, 6).map(([n, s]) => `${n} ${(100 * s).toFixed(0)}%`).join(', '));
      }
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(process.argv.slice(2));
}
