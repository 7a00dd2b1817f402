import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, describeConfig, gloConfigSchema, presets, resolveConfig, toFlag, type GloConfigInput, type PresetName } from './glo/config.ts';
import { consoleReporter } from './progress.ts';
import { openStorage } from './storage/storage.ts';
import { train, TrainingInterrupted } from './train.ts';

/** Exit codes: 2 for usage errors, 130/143 for SIGINT/SIGTERM after a checkpoint, 1 for anything else. */
class UsageError extends Error {}

const configKeys = Object.keys(gloConfigSchema.shape);
const configFlags = Object.fromEntries(configKeys.map((k) => [toFlag(k), { type: 'string' as const }]));

const trainFlags = {
  data: { type: 'string' as const },
  out: { type: 'string' as const },
  config: { type: 'string' as const },
  preset: { type: 'string' as const },
  backend: { type: 'string' as const },
  resume: { type: 'boolean' as const },
  'run-id': { type: 'string' as const },
  'require-gpu': { type: 'boolean' as const },
  threads: { type: 'string' as const },
  'skip-existing': { type: 'boolean' as const },
  quiet: { type: 'boolean' as const },
  help: { type: 'boolean' as const, short: 'h' },
  ...configFlags,
};

function usage(): string {
  const options = describeConfig()
    .map(({ key, description, default: def }) => `  --${toFlag(key).padEnd(20)} ${description}${def === undefined ? '' : ` [${JSON.stringify(def)}]`}`)
    .join('\n');
  return `Usage: glo train --data <emoji | mnist | folder | s3://bucket/prefix> --out <folder | s3://bucket/prefix> [options]

  --config FILE            JSON file of training options (keys as below, camelCase); flags override it
  --preset NAME            ${Object.keys(presets).join(' | ')}: a named starting point (flags and --config override it)
  --backend NAME           auto | tensorflow-gpu | tensorflow | wasm | cpu [auto]
  --resume                 continue from <out>/checkpoint when there is one
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

async function trainCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: trainFlags, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nRun "glo train --help" for the options.`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (!values.data) throw new UsageError('Missing --data: emoji, mnist, a folder of images or s3://bucket/prefix.');
  if (!values.out) throw new UsageError('Missing --out: the run folder (a path or s3://bucket/prefix).');
  const preset = values.preset as string | undefined;
  if (preset !== undefined && !(preset in presets)) throw new UsageError(`Unknown --preset "${preset}": use one of ${Object.keys(presets).join(', ')}.`);
  const backend = (values.backend as string | undefined) ?? 'auto';
  if (!['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'].includes(backend)) {
    throw new UsageError(`Unknown --backend "${backend}": use auto, tensorflow-gpu, tensorflow, wasm or cpu.`);
  }

  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new UsageError(`--threads must be a whole number >= 1, got "${values.threads}".`);

  let fromFile: GloConfigInput = {};
  if (values.config) {
    const file = values.config as string;
    if (!existsSync(file)) throw new UsageError(`--config ${file}: no such file.`);
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as GloConfigInput;
    } catch (e) {
      throw new UsageError(`--config ${file} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const fromFlags: Record<string, unknown> = {};
  for (const key of configKeys) {
    const v = values[toFlag(key)];
    if (typeof v === 'string') fromFlags[key] = parseValue(v);
  }
  const config = resolveConfig({ ...fromFile, ...fromFlags } as GloConfigInput, preset as PresetName | undefined);

  const out = values.out as string;
  if (values['skip-existing'] && (await openStorage(out).exists('manifest.json'))) {
    process.stderr.write(`${out}/manifest.json exists: skipping training (drop --skip-existing to train again).\n`);
    return 0;
  }

  const controller = new AbortController();
  let signalName: NodeJS.Signals | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    if (signalName) process.exit(name === 'SIGINT' ? 130 : 143); // a second signal: stop now
    signalName = name;
    process.stderr.write(`\n${name}: saving a checkpoint after the current step (send again to stop at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await train({
      data: values.data as string,
      out,
      config,
      backend: backend as never,
      requireGpu: Boolean(values['require-gpu']),
      threads,
      resume: Boolean(values.resume),
      runId: values['run-id'] as string | undefined,
      reporter: consoleReporter({ quiet: Boolean(values.quiet) }),
      signal: controller.signal,
    });
    return 0;
  } catch (e) {
    if (e instanceof TrainingInterrupted) {
      process.stderr.write(`${e.message}\n`);
      return signalName === 'SIGINT' ? 130 : 143;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'train':
        return await trainCommand(rest);
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`glo: Generative Latent Optimization\n\nCommands:\n  train    train a generator and publish a run\n\n${usage()}`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`Unknown command "${command}". Commands: train. Run "glo --help".`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      process.stderr.write(`glo: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`glo: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/training/cli.ts')) {
  process.exitCode = await main(process.argv.slice(2));
}
