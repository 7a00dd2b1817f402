import { ConfigError } from '../glo/config.ts';
import { UsageError } from './cli-support.ts';
import { RunOutputError } from '../trainer/run-output.ts';
import { serveCommand } from './commands/serve.ts';
import { trainCommand, trainUsage } from './commands/train.ts';
import { pullCommand } from './commands/pull.ts';
import { runsCommand } from './commands/runs.ts';
import { uploadCommand } from './commands/upload.ts';
import { jobCommand } from './commands/job.ts';

/**
 * The `glo` command line. Each command lives in training/cli/commands/ and is listed here once.
 * Exit codes: 0 done, 1 failed, 2 usage error, 130/143 stopped by SIGINT/SIGTERM after a checkpoint.
 */
const commands: Record<string, { summary: string; run: (args: string[]) => Promise<number> }> = {
  train: { summary: 'train a generator and publish a run', run: trainCommand },
  eval: { summary: 'measure a run: GLO vs PCA, held-out, SWD, memorization (eval.json)', run: (a) => import('./commands/eval.ts').then((m) => m.evalCommand(a)) },
  'fit-sampler': { summary: 'fit an IMLE sampler (noise -> codes) to a run', run: (a) => import('./commands/fit-sampler.ts').then((m) => m.fitSamplerCommand(a)) },
  serve: { summary: 'index local runs, build the site and serve both on localhost', run: serveCommand },
  job: { summary: 'the AWS Batch job: train on an uploaded dataset, publish, index', run: jobCommand },
  upload: { summary: 'upload a folder of images as a dataset; its glo.json starts training', run: uploadCommand },
  runs: { summary: 'list the published runs', run: runsCommand },
  pull: { summary: 'download a published run to serve it locally', run: pullCommand },
};

function help(): string {
  const list = Object.entries(commands)
    .map(([name, { summary }]) => `  ${name.padEnd(8)} ${summary}`)
    .join('\n');
  return `glo: Generative Latent Optimization\n\nCommands:\n${list}\n\n"glo <command> --help" shows a command's options.\n\n${trainUsage()}`;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(help());
      return command === undefined ? 2 : 0;
    }
    const entry = commands[command];
    if (!entry) throw new UsageError(`Unknown command "${command}". Commands: ${Object.keys(commands).join(', ')}. Run "glo --help".`);
    return await entry.run(rest);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof RunOutputError) {
      process.stderr.write(`glo: ${e.message}\n`);
      return 2;
    }
    // A message a user can act on; the stack trace is for bug reports.
    const debug = process.env.GLO_DEBUG === '1';
    process.stderr.write(e instanceof Error
      ? `glo: ${debug ? e.stack : e.message}\n${debug ? '' : '(GLO_DEBUG=1 prints the stack trace)\n'}`
      : `glo: ${String(e)}\n`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/training/cli/cli.ts')) {
  process.exitCode = await main(process.argv.slice(2));
}
