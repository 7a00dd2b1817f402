// `npm run bench`: the trainer's whole GLO step per backend and image size, beside the generator alone,
// the same step in PyTorch when it is installed, and where one step's time goes.
//   npm run bench -- [--quick] [--sizes 32,64,128] [--backends wasm,cpu] [--batch 64] [--steps 5]
//     [--threads N] [--cpu-sizes 32] [--no-pytorch] [--json FILE]
// --quick: 32 and 64 px, wasm only, 3 steps (under 3 minutes on 2 cores).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { initBackend, type BackendInfo, type BackendName } from '../backend/backend.ts';
import { resolveConfig } from '../glo/config.ts';
import { findTorchPython, runPytorchStep, type PytorchResult } from './pytorch-reference.ts';
import { benchTrainingStep, matmulCeilingGflops, type StepBenchResult } from './step-bench.ts';

type BenchBackend = Exclude<BackendName, 'auto'>;

interface Row {
  backend: BackendInfo;
  threads: number;
  result: StepBenchResult;
  pytorch: PytorchResult | null;
}

function usageError(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

function numbers(value: string, flag: string): number[] {
  const list = value.split(',').map(Number);
  if (list.some((n) => !Number.isInteger(n) || n <= 0)) usageError(`--${flag} takes a comma-separated list of positive integers, got "${value}"`);
  return list;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n');
}

const fixed = (v: number, digits = 1) => v.toFixed(digits);

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      backends: { type: 'string' },
      batch: { type: 'string', default: '64' },
      steps: { type: 'string' },
      threads: { type: 'string', default: String(Math.min(os.availableParallelism(), 8)) },
      'cpu-sizes': { type: 'string', default: '32' },
      'cpu-batch': { type: 'string', default: '2' },
      'no-pytorch': { type: 'boolean', default: false },
      json: { type: 'string' },
    },
    strict: true,
  });
  const quick = values.quick;
  const sizes = numbers(values.sizes ?? (quick ? '32,64' : '32,64,128'), 'sizes');
  if (sizes.some((s) => ![32, 64, 128].includes(s))) usageError('--sizes takes 32, 64 and/or 128');
  const backends = (values.backends ?? (quick ? 'wasm' : 'wasm,cpu')).split(',') as BenchBackend[];
  const known: BenchBackend[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
  for (const b of backends) if (!known.includes(b)) usageError(`--backends: unknown backend "${b}" (${known.join(', ')})`);
  const [batchSize] = numbers(values.batch, 'batch');
  const [steps] = numbers(values.steps ?? (quick ? '3' : '5'), 'steps');
  const [threads] = numbers(values.threads, 'threads');
  const cpuSizes = numbers(values['cpu-sizes'], 'cpu-sizes');
  const [cpuBatch] = numbers(values['cpu-batch'], 'cpu-batch');

  const python = values['no-pytorch'] ? null : findTorchPython();
  console.log(`glo training step (paper preset: DCGAN ngf 64, d 100, BatchNorm, Lap1 4 levels + L2, SGD lr 1 / 10), ` +
    `batch ${batchSize}; node ${process.version}; ${os.cpus()[0]?.model.trim()} x ${os.cpus().length}; ` +
    `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(python ? `PyTorch reference: ${python} (training/bench/pytorch-step.py, 1 torch thread; timed before and after glo's step, mean of both)` : 'PyTorch reference: not installed (python3 -c "import torch" fails), column left empty');

  const rows: Row[] = [];
  const pytorchBySize = new Map<number, PytorchResult>();
  let wasmCeiling: number | null = null;
  // wasm's thread count is fixed when it first starts: start it first, with the requested threads.
  for (const name of [...backends].sort((a, b) => Number(b === 'wasm') - Number(a === 'wasm'))) {
    let backend: BackendInfo;
    try {
      backend = await initBackend(name, { threads: name === 'wasm' || name.startsWith('tensorflow') ? threads : undefined });
    } catch (error) {
      console.log(`${name}: skipped (${(error as Error).message})`);
      continue;
    }
    const backendThreads = name === 'wasm' ? getThreadsCount() : name === 'cpu' ? 1 : threads;
    if (name === 'wasm') {
      wasmCeiling = matmulCeilingGflops();
      console.log(`wasm SIMD ceiling: ${fixed(wasmCeiling)} GFLOP/s (1024^3 matmul on XNNPACK, ${backendThreads} threads)`);
    }
    for (const imageSize of name === 'cpu' ? sizes.filter((s) => cpuSizes.includes(s)) : sizes) {
      const isCpu = name === 'cpu';
      const config = { imageSize: imageSize as 32 | 64 | 128, batchSize: isCpu ? cpuBatch : batchSize };
      // PyTorch runs just before and just after glo's step and counts as the mean of both, so that a
      // shared machine's drift during the pair weighs on both sides of the ratio alike.
      const resolved = resolveConfig(config, 'paper');
      const pytorchRun = () => runPytorchStep(python!, { imageSize, batchSize, steps: Math.max(3, steps), channels: resolved.channels,
        latentDim: resolved.latentDim, generatorWidth: resolved.generatorWidth, lapLevels: resolved.lapLevels });
      const comparePytorch = python != null && !isCpu && !pytorchBySize.has(imageSize);
      const before = comparePytorch ? pytorchRun() : null;
      const result = benchTrainingStep({ config, steps: isCpu ? 1 : steps });
      if (before) {
        const after = pytorchRun();
        pytorchBySize.set(imageSize, { ...after, imagesPerSecond: (before.imagesPerSecond + after.imagesPerSecond) / 2 });
      }
      const pytorch = isCpu ? null : pytorchBySize.get(imageSize) ?? null;
      rows.push({ backend, threads: backendThreads, result, pytorch });
      console.log(`${name} ${imageSize} px: step ${fixed(result.stepImagesPerSecond)} img/s, generator alone ${fixed(result.generatorImagesPerSecond)} img/s` +
        (pytorch ? `, PyTorch ${fixed(pytorch.imagesPerSecond)} img/s` : ''));
    }
  }

  console.log('\nWhole step (the trainer\'s trainingStep) against the generator alone and PyTorch; GFLOP/s counts the generator\'s convolutions (forward and both backward):');
  console.log(table(
    ['backend', 'px', 'batch', 'threads', 'step img/s', 'generator img/s', 'step / generator', 'step GFLOP/s', 'of wasm ceiling', 'PyTorch img/s', 'glo / PyTorch'],
    rows.map(({ backend, threads: t, result: r, pytorch }) => [
      backend.name, String(r.config.imageSize), String(r.config.batchSize), String(t), fixed(r.stepImagesPerSecond),
      fixed(r.generatorImagesPerSecond), `${fixed((100 * r.stepImagesPerSecond) / r.generatorImagesPerSecond, 0)}%`, fixed(r.stepGflops),
      wasmCeiling ? `${fixed((100 * r.stepGflops) / wasmCeiling, 0)}%` : '-',
      pytorch ? fixed(pytorch.imagesPerSecond) : '-', pytorch ? `${fixed(r.stepImagesPerSecond / pytorch.imagesPerSecond, 2)}x` : '-',
    ])));
  const blas = [...pytorchBySize.values()][0]?.blas;
  if (blas) console.log(`PyTorch ${[...pytorchBySize.values()][0].torch} on ${blas}`);

  console.log('\nOne step, ms (each part timed alone on the same batch; generator backward = the whole step minus the others):');
  console.log(table(
    ['backend', 'px', 'step', 'data', 'generator forward', 'generator backward + update', 'loss forward + backward', 'latent update', 'host syncs'],
    rows.map(({ backend, result: { config, stepMs, breakdown: b } }) => {
      const part = (ms: number) => `${fixed(ms)} (${fixed((100 * ms) / stepMs, 0)}%)`;
      return [backend.name, String(config.imageSize), fixed(stepMs), part(b.dataMs), part(b.generatorForwardMs),
        part(b.generatorBackwardAndUpdateMs), part(b.lossForwardBackwardMs), part(b.latentUpdateMs), part(b.hostSyncMs)];
    })));

  if (values.json) {
    const json = {
      results: rows.map(({ backend, threads: t, result: r, pytorch }) => ({
        backend: backend.name, imageSize: r.config.imageSize, batchSize: r.config.batchSize, threads: t,
        stepImagesPerSecond: r.stepImagesPerSecond, generatorImagesPerSecond: r.generatorImagesPerSecond,
        pytorchImagesPerSecond: pytorch?.imagesPerSecond ?? null,
      })),
      details: rows.map(({ backend, result: r, pytorch }) => ({
        backend: backend.name, device: backend.device, imageSize: r.config.imageSize, stepMs: r.stepMs, breakdown: r.breakdown,
        stepGflops: r.stepGflops, wasmCeilingGflops: wasmCeiling, pytorch,
      })),
    };
    writeFileSync(values.json, `${JSON.stringify(json, null, 2)}\n`);
    console.log(`\nwrote ${values.json}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(process.argv.slice(2));
}
