import { readFileSync, statSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BACKEND_NAMES, type BackendName } from '../backend/backend.ts';

/** A mistake in how a command was called: the CLI prints the message and exits 2. */
export class UsageError extends Error {}

/** A config file is a few hundred bytes of JSON; anything past this is a wrong path (e.g. /dev/zero, a dataset). */
const MAX_CONFIG_BYTES = 1 << 20;

/**
 * The JSON object in a --config file (glo train, glo upload). Refused with a UsageError naming the file: a
 * missing path, anything but a regular file (a device such as /dev/zero would be read forever), more than
 * 1 MiB, invalid JSON, or JSON that is not an object.
 */
export function readConfigFile(file: string): Record<string, unknown> {
  let size: number;
  try {
    const info = statSync(file);
    if (!info.isFile()) throw new UsageError(`--config ${file} is not a regular file: give a JSON file of training options.`);
    size = info.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--config ${file}: no such file.`);
  }
  if (size > MAX_CONFIG_BYTES) throw new UsageError(`--config ${file} is ${size} bytes; a config file is at most 1 MiB of JSON training options.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--config ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`--config ${file} must hold a JSON object of training options, e.g. {"epochs": 10}.`);
  }
  return parsed as Record<string, unknown>;
}

/** Strict flag parsing for one command; a parse failure becomes a UsageError that points at `glo <command> --help`. */
export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  args: string[],
  options: O,
  { positionals = false }: { positionals?: boolean } = {},
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals });
    return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nRun "glo ${command} --help" for the options.`);
  }
}

/** The parseArgs options of --backend and --threads, read back with backendFlag and threadsFlag. */
export const BACKEND_OPTIONS = {
  backend: { type: 'string' as const },
  threads: { type: 'string' as const },
};

/** The --backend and --threads lines of every command's help. */
export const BACKEND_HELP = `  --backend NAME           ${BACKEND_NAMES.join(' | ')} [auto]
  --threads N              CPU threads for wasm / TensorFlow`;

/** `--backend` (or its environment fallback, named in `source`): one of BACKEND_NAMES, default auto. */
export function backendFlag(value: string | undefined, source = '--backend'): BackendName {
  const backend = value ?? 'auto';
  if (!(BACKEND_NAMES as readonly string[]).includes(backend)) {
    throw new UsageError(`Unknown backend "${backend}" (${source}): use ${BACKEND_NAMES.join(', ')}.`);
  }
  return backend as BackendName;
}

/** `--threads`: a whole number >= 1, or undefined when not given. */
export function threadsFlag(value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const threads = Number(value);
  if (!(Number.isInteger(threads) && threads >= 1)) throw new UsageError(`--threads must be a whole number >= 1, got "${String(value)}".`);
  return threads;
}

/** A numeric flag of a command's options table: the option it sets, whether it is whole, its least value. */
export interface NumericFlag<K extends string> {
  key: K;
  help: string;
  integer: boolean;
  /** Whole numbers: the least allowed (default 1). Reals are always > 0. */
  min?: number;
}

/** The parseArgs options of a numeric-flag table: each flag takes a value, read back with numericFlags. */
export function numericFlagOptions(flags: Record<string, NumericFlag<string>>): Record<string, { type: 'string' }> {
  return Object.fromEntries(Object.keys(flags).map((flag) => [flag, { type: 'string' as const }]));
}

/** The numeric flags given in `values`, checked against `flags` (a UsageError names the flag and the rule). */
export function numericFlags<K extends string>(values: Record<string, string | boolean | undefined>, flags: Record<string, NumericFlag<K>>): Partial<Record<K, number>> {
  const options: Partial<Record<K, number>> = {};
  for (const [flag, { key, integer, min = 1 }] of Object.entries(flags)) {
    const text = values[flag];
    if (typeof text !== 'string') continue;
    const v = Number(text);
    const ok = integer ? Number.isInteger(v) && v >= min : Number.isFinite(v) && v > 0;
    if (!ok) throw new UsageError(`--${flag} must be ${integer ? `a whole number >= ${min}` : 'a number > 0'}, got "${text}".`);
    options[key] = v;
  }
  return options;
}

/**
 * SIGINT/SIGTERM become an AbortSignal so long work can checkpoint and stop cleanly (spot reclaim sends SIGTERM
 * and gives two minutes). A second signal exits at once. `exitCode()` is 130/143 for the signal received.
 */
export function abortOnSignals(): { signal: AbortSignal; received: () => NodeJS.Signals | undefined; exitCode: () => number; dispose: () => void } {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    if (received) process.exit(name === 'SIGINT' ? 130 : 143);
    received = name;
    process.stderr.write(`\n${name}: saving a checkpoint after the current step (send again to stop at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    received: () => received,
    exitCode: () => (received === 'SIGINT' ? 130 : 143),
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
