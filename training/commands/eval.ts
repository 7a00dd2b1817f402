import { initBackend, type BackendName } from '../backend/backend.ts';
import { parseFlags, UsageError } from '../cli-support.ts';
import { defaultEvalOptions, evaluateRun, formatEvalTable, type EvalOptions } from '../eval/evaluate-run.ts';
import { loadRun } from '../eval/load-run.ts';
import { consoleReporter } from '../progress.ts';
import { openStorage } from '../storage/storage.ts';

/** Flag -> option, with the option's one-line meaning for --help. */
const numericFlags: Record<string, { key: keyof EvalOptions; help: string; integer: boolean }> = {
  seed: { key: 'seed', help: 'seeds samples, real halves, SWD patches/directions and fit starts', integer: true },
  samples: { key: 'samples', help: 'generated images per sampler (memorization uses all)', integer: true },
  'swd-images': { key: 'swdImages', help: 'images per SWD set (capped by half the training images)', integer: true },
  'patches-per-image': { key: 'patchesPerImage', help: 'SWD 7x7 patches per image and level (ProGAN: 128)', integer: true },
  'patch-size': { key: 'patchSize', help: 'SWD patch side (ProGAN: 7)', integer: true },
  directions: { key: 'directions', help: 'SWD random directions per repeat (ProGAN: 128)', integer: true },
  repeats: { key: 'repeats', help: 'SWD direction sets averaged (ProGAN: 4)', integer: true },
  'min-resolution': { key: 'minResolution', help: 'coarsest SWD pyramid level in px (ProGAN: 16)', integer: true },
  'fit-steps': { key: 'fitSteps', help: 'Adam steps fitting codes to held-out images (generator frozen)', integer: true },
  'fit-lr': { key: 'fitLearningRate', help: 'learning rate of that fit', integer: false },
  'fit-starts': { key: 'fitStarts', help: 'prior samples tried per image before the fit', integer: true },
};

export function evalUsage(): string {
  const opts = Object.entries(numericFlags)
    .map(([flag, { key, help }]) => `  --${flag.padEnd(20)} ${help} [${defaultEvalOptions[key]}]`)
    .join('\n');
  return `Usage: glo eval <run folder | s3://bucket/prefix> [options]

Measures a published run and writes eval.json into it (docs/quality.md): train-set GLO vs PCA
reconstruction, held-out reconstruction (runs trained with --holdout), sliced Wasserstein distance of
samples (N(0, I) projected, Gaussian prior, IMLE sampler) against the real images and the real-vs-real
floor, per class when labelled, and memorization (nearest training image of each sample).

${opts}
  --backend NAME             auto | tensorflow-gpu | tensorflow | wasm | cpu [auto]
  --threads N                CPU threads for wasm / TensorFlow
  --no-write                 print the table only; do not write eval.json
  --json                     print eval.json to stdout instead of the table
  --quiet                    no progress lines
`;
}

/** `glo eval <run>`. */
export async function evalCommand(args: string[]): Promise<number> {
  const flags = Object.fromEntries(Object.keys(numericFlags).map((f) => [f, { type: 'string' as const }]));
  const { values, positionals } = parseFlags('eval', args, {
    ...flags,
    backend: { type: 'string' },
    threads: { type: 'string' },
    'no-write': { type: 'boolean' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }, { positionals: true });
  if (values.help) {
    process.stdout.write(evalUsage());
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('glo eval takes one run: a folder or s3://bucket/prefix with a manifest.json. Run "glo eval --help".');
  const options: Partial<EvalOptions> = {};
  for (const [flag, { key, integer }] of Object.entries(numericFlags)) {
    const text = values[flag];
    if (typeof text !== 'string') continue;
    const v = Number(text);
    const min = key === 'seed' || key === 'fitSteps' || key === 'fitStarts' ? 0 : 1;
    const ok = integer ? Number.isInteger(v) && v >= min : Number.isFinite(v) && v > 0;
    if (!ok) throw new UsageError(`--${flag} must be ${integer ? `a whole number >= ${min}` : 'a number > 0'}, got "${text}".`);
    (options as Record<string, number>)[key] = v;
  }
  const backend = (values.backend as string | undefined) ?? 'auto';
  if (!['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'].includes(backend)) {
    throw new UsageError(`Unknown --backend "${backend}": use auto, tensorflow-gpu, tensorflow, wasm or cpu.`);
  }
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new UsageError(`--threads must be a whole number >= 1, got "${values.threads}".`);

  const reporter = consoleReporter({ quiet: Boolean(values.quiet) });
  const info = await initBackend(backend as BackendName, { threads });
  const storage = openStorage(positionals[0]);
  if (!(await storage.exists('manifest.json'))) {
    throw new UsageError(`${storage.uri} has no manifest.json: not a published run (wrong path, or training has not finished).`);
  }
  reporter.info(`loading ${storage.uri} (backend ${info.name})`);
  const run = await loadRun(storage);
  const report = await evaluateRun(run, options, info.name, reporter);
  run.generator.dispose();
  if (!values['no-write']) {
    await storage.write('eval.json', JSON.stringify(report, null, 2));
    reporter.info(`wrote ${storage.uri}/eval.json`);
  }
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatEvalTable(report, storage.uri));
  return 0;
}
