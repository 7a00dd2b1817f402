import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in how a command was called: the CLI prints the message and exits 2. */
export class UsageError extends Error {}

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
