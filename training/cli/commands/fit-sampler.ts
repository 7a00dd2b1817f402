import { initBackend } from '../../backend/backend.ts';
import { BACKEND_HELP, BACKEND_OPTIONS, backendFlag, numericFlagOptions, numericFlags, parseFlags, threadsFlag, UsageError, type NumericFlag } from '../cli-support.ts';
import { addSamplerToRun } from '../../trainer/imle-sampler.ts';
import { defaultImleOptions, type ImleOptions } from '../../glo/imle.ts';
import { consoleReporter } from '../../trainer/progress.ts';
import { openStorage } from '../../storage/open-storage.ts';

const samplerFlags: Record<string, NumericFlag<keyof ImleOptions>> = {
  seed: { key: 'seed', help: 'seeds the network init, the noise and the batch order [the run\'s seed]', integer: true, min: 0 },
  rounds: { key: 'rounds', help: 'matching rounds', integer: true },
  'candidates-per-code': { key: 'candidatesPerCode', help: 'noise draws per training code in each round', integer: false },
  'epochs-per-round': { key: 'epochsPerRound', help: 'regression passes over the matched pairs per round', integer: true },
  'min-steps-per-round': { key: 'minStepsPerRound', help: 'at least this many regression steps per round (small tables)', integer: true, min: 0 },
  hidden: { key: 'hidden', help: 'width of the two hidden layers', integer: true },
  'noise-dim': { key: 'noiseDim', help: 'noise size [8, or the latent size if smaller]', integer: true },
  perturbation: { key: 'perturbation', help: 'std of the noise added to the selected noise at each regression step', integer: false, min: 0 },
  'batch-size': { key: 'batchSize', help: 'regression batch size', integer: true },
  lr: { key: 'learningRate', help: 'Adam learning rate', integer: false },
};

export function fitSamplerUsage(): string {
  const d = defaultImleOptions(100);
  const opts = Object.entries(samplerFlags)
    .map(([flag, { key, help }]) => `  --${flag.padEnd(22)} ${help}${key === 'seed' || key === 'noiseDim' ? '' : ` [${d[key]}]`}`)
    .join('\n');
  return `Usage: glo fit-sampler <run folder | s3://bucket/prefix> [options]

Fits a GLANN-style IMLE sampler (noise -> codes) to a run's latent codes, saves it as sampler/model.json
and lists it in manifest.json (rewritten last). The site and glo eval then sample with it.

${opts}
${BACKEND_HELP}
  --quiet                  no progress lines
`;
}

/** `glo fit-sampler <run>`. */
export async function fitSamplerCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('fit-sampler', args, {
    ...numericFlagOptions(samplerFlags),
    ...BACKEND_OPTIONS,
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }, { positionals: true });
  if (values.help) {
    process.stdout.write(fitSamplerUsage());
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('glo fit-sampler takes one run: a folder or s3://bucket/prefix with a manifest.json.');
  const options: Partial<ImleOptions> = numericFlags(values, samplerFlags);
  const backend = backendFlag(values.backend as string | undefined);
  const threads = threadsFlag(values.threads);
  const reporter = consoleReporter({ quiet: Boolean(values.quiet) });
  await initBackend(backend, { threads });
  const storage = openStorage(positionals[0]);
  if (!(await storage.exists('manifest.json'))) {
    throw new UsageError(`${storage.uri} has no manifest.json: not a published run (wrong path, or training has not finished).`);
  }
  const manifest = await addSamplerToRun(storage, options, reporter);
  process.stdout.write(`${storage.uri}: IMLE sampler in ${manifest.sampler!.file}, matching loss ${manifest.sampler!.matchingLoss.toFixed(5)}\n`);
  return 0;
}
