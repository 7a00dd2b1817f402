import { initBackend } from '../../backend/backend.ts';
import { BACKEND_HELP, BACKEND_OPTIONS, backendFlag, numericFlagOptions, numericFlags, parseFlags, threadsFlag, UsageError, type NumericFlag } from '../cli-support.ts';
import { defaultEvalOptions, evaluateRun, formatEvalTable, type EvalOptions } from '../../eval/evaluate-run.ts';
import { loadRun } from '../../eval/load-run.ts';
import { consoleReporter } from '../../trainer/progress.ts';
import { openStorage } from '../../storage/open-storage.ts';
import { gridPng, toUint8 } from '../../trainer/previews.ts';

/** Flag -> option, with the option's one-line meaning for --help. */
const evalFlags: Record<string, NumericFlag<keyof EvalOptions>> = {
  seed: { key: 'seed', help: 'seeds samples, real halves, SWD patches/directions and fit starts', integer: true, min: 0 },
  samples: { key: 'samples', help: 'generated images per sampler (memorization uses all)', integer: true },
  'swd-images': { key: 'swdImages', help: 'images per SWD set (capped by half the training images)', integer: true },
  'patches-per-image': { key: 'patchesPerImage', help: 'SWD 7x7 patches per image and level (ProGAN: 128)', integer: true },
  'patch-size': { key: 'patchSize', help: 'SWD patch side (ProGAN: 7)', integer: true },
  directions: { key: 'directions', help: 'SWD random directions per repeat (ProGAN: 128)', integer: true },
  repeats: { key: 'repeats', help: 'SWD direction sets averaged (ProGAN: 4)', integer: true },
  'min-resolution': { key: 'minResolution', help: 'coarsest SWD pyramid level in px (ProGAN: 16)', integer: true },
  'fit-steps': { key: 'fitSteps', help: 'Adam steps fitting codes to held-out images (generator frozen)', integer: true, min: 0 },
  'fit-lr': { key: 'fitLearningRate', help: 'learning rate of that fit', integer: false },
  'fit-starts': { key: 'fitStarts', help: 'prior samples tried per image before the fit', integer: true, min: 0 },
  'classifier-epochs': { key: 'classifierEpochs', help: 'epochs of the Fréchet distance\'s classifier (labelled runs)', integer: true },
};

export function evalUsage(): string {
  const opts = Object.entries(evalFlags)
    .map(([flag, { key, help }]) => `  --${flag.padEnd(20)} ${help} [${defaultEvalOptions[key]}]`)
    .join('\n');
  return `Usage: glo eval <run folder | s3://bucket/prefix> [options]

Measures a published run and writes eval.json into it, with a grid of each sampler's first 64 samples
as eval/samples-<sampler>.png (docs/quality.md): train-set GLO vs PCA
reconstruction, held-out reconstruction (runs trained with --holdout), sliced Wasserstein distance of
samples (N(0, I) projected, Gaussian prior, IMLE sampler) against the real images and the real-vs-real
floor, per class when labelled, the Fréchet distance in the features of a classifier trained on the
run's labels (labelled runs), and memorization (nearest training image of each sample).

${opts}
${BACKEND_HELP}
  --no-write               print the table only; do not write eval.json
  --json                   print eval.json to stdout instead of the table
  --quiet                  no progress lines
`;
}

/** `glo eval <run>`. */
export async function evalCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('eval', args, {
    ...numericFlagOptions(evalFlags),
    ...BACKEND_OPTIONS,
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
  const options: Partial<EvalOptions> = numericFlags(values, evalFlags);
  const backend = backendFlag(values.backend as string | undefined);
  const threads = threadsFlag(values.threads);

  const reporter = consoleReporter({ quiet: Boolean(values.quiet) });
  const info = await initBackend(backend, { threads });
  const storage = openStorage(positionals[0]);
  if (!(await storage.exists('manifest.json'))) {
    throw new UsageError(`${storage.uri} has no manifest.json: not a published run (wrong path, or training has not finished).`);
  }
  reporter.info(`loading ${storage.uri} (backend ${info.name})`);
  const run = await loadRun(storage);
  // A grid of each sampler's first 64 samples beside eval.json, to look at what the figures measure.
  const grids: string[] = [];
  const saveGrid = async (sampler: string, images: Float32Array) => {
    const { imageSize: size, channels } = run.manifest.dataset;
    const count = Math.min(64, images.length / (size * size * channels));
    const { png } = await gridPng({ pixels: toUint8(images.subarray(0, count * size * size * channels)), count, size, channels }, 8, 2);
    await storage.write(`eval/samples-${sampler}.png`, png);
    grids.push(`eval/samples-${sampler}.png`);
  };
  const report = await evaluateRun(run, options, info.name, reporter, values['no-write'] ? undefined : saveGrid);
  run.generator.dispose();
  if (!values['no-write']) {
    await storage.write('eval.json', JSON.stringify(report, null, 2));
    reporter.info(`wrote ${storage.uri}/eval.json and ${grids.join(', ')}`);
  }
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatEvalTable(report, storage.uri));
  return 0;
}
