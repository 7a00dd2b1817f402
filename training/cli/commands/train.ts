import { describeConfig, gloConfigSchema, presets, resolveConfig, toFlag, type GloConfigInput, type PresetName } from '../../glo/config.ts';
import { consoleReporter } from '../../trainer/progress.ts';
import { openStorage } from '../../storage/open-storage.ts';
import { train, TrainingInterrupted } from '../../trainer/train.ts';
import { abortOnSignals, BACKEND_OPTIONS, backendFlag, parseFlags, readConfigFile, threadsFlag, UsageError } from '../cli-support.ts';

const configKeys = Object.keys(gloConfigSchema.shape);
const configFlags = Object.fromEntries(configKeys.map((k) => [toFlag(k), { type: 'string' as const }]));

const trainFlags = {
  data: { type: 'string' as const },
  out: { type: 'string' as const },
  config: { type: 'string' as const },
  preset: { type: 'string' as const },
  ...BACKEND_OPTIONS,
  resume: { type: 'boolean' as const },
  overwrite: { type: 'boolean' as const },
  'run-id': { type: 'string' as const },
  'require-gpu': { type: 'boolean' as const },
  'skip-existing': { type: 'boolean' as const },
  quiet: { type: 'boolean' as const },
  help: { type: 'boolean' as const, short: 'h' },
  ...configFlags,
};

export function trainUsage(): string {
  const options = describeConfig()
    .map(({ key, description, default: def }) => `  --${toFlag(key).padEnd(20)} ${description}${def === undefined ? '' : ` [${JSON.stringify(def)}]`}`)
    .join('\n');
  return `Usage: glo train --data <emoji | mnist | folder | s3://bucket/prefix> --out <folder | s3://bucket/prefix> [options]

  --config FILE            JSON file of training options (keys as below, camelCase); flags override it
  --preset NAME            ${Object.keys(presets).join(' | ')}: a named starting point (flags and --config override it)
  --backend NAME           auto | tensorflow-gpu | tensorflow | wasm | cpu [auto]
  --resume                 continue from <out>/checkpoint when there is one
  --overwrite              replace what <out> holds (a finished run, files that are not glo's); without it
                           such an <out> is refused before any work
  --run-id ID              the run's id in the manifest [the last part of --out]
  --require-gpu            fail unless TensorFlow sees a GPU
  --threads N              CPU threads (wasm pthreads, 2 cores: about +25%) [1 for wasm]
  --skip-existing          do nothing when <out>/manifest.json already exists
  --quiet                  no progress output

Training options:
${options}
`;
}

/** A flag's text to a value: numbers and comma-separated number lists; zod validates the rest. */
function parseValue(text: string): unknown {
  if (/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(text)) return Number(text);
  if (text.includes(',')) return text.split(',').map((v) => (/^-?[\d.]+(e-?\d+)?$/i.test(v.trim()) ? Number(v) : v.trim()));
  return text;
}

/** `glo train`: parse flags and --config into a resolved config, then run the training loop. */
export async function trainCommand(args: string[]): Promise<number> {
  const { values } = parseFlags('train', args, trainFlags);
  if (values.help) {
    process.stdout.write(trainUsage());
    return 0;
  }
  if (!values.data) throw new UsageError('Missing --data: emoji, mnist, a folder of images or s3://bucket/prefix.');
  if (!values.out) throw new UsageError('Missing --out: the run folder (a path or s3://bucket/prefix).');
  const preset = values.preset as string | undefined;
  if (preset !== undefined && !(preset in presets)) throw new UsageError(`Unknown --preset "${preset}": use one of ${Object.keys(presets).join(', ')}.`);
  const backend = backendFlag(values.backend as string | undefined);

  const threads = threadsFlag(values.threads);

  const fromFile = (values.config ? readConfigFile(values.config as string) : {}) as GloConfigInput;
  const fromFlags: Record<string, unknown> = {};
  for (const key of configKeys) {
    const v = values[toFlag(key)];
    if (typeof v === 'string') fromFlags[key] = parseValue(v);
  }
  const config = resolveConfig({ ...fromFile, ...fromFlags } as GloConfigInput, preset as PresetName | undefined);

  const out = values.out as string;
  if (values.resume && values.overwrite) throw new UsageError('--resume continues what <out> holds and --overwrite replaces it: pass one of them.');
  if (values['skip-existing'] && (await openStorage(out).exists('manifest.json'))) {
    process.stderr.write(`${out}/manifest.json exists: skipping training (drop --skip-existing to train again).\n`);
    return 0;
  }

  const signals = abortOnSignals();
  try {
    await train({
      data: values.data as string,
      out,
      config,
      backend,
      requireGpu: Boolean(values['require-gpu']),
      threads,
      resume: Boolean(values.resume),
      overwrite: Boolean(values.overwrite),
      runId: values['run-id'] as string | undefined,
      reporter: consoleReporter({ quiet: Boolean(values.quiet) }),
      signal: signals.signal,
    });
    return 0;
  } catch (e) {
    if (e instanceof TrainingInterrupted) {
      process.stderr.write(`${e.message}\n`);
      return signals.exitCode();
    }
    throw e;
  } finally {
    signals.dispose();
  }
}

