import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildSite, repoRoot, startStaticServer, updateRunsIndex } from '../../serve/local-site.ts';
import { parseFlags, UsageError } from '../cli-support.ts';

const serveFlags = {
  runs: { type: 'string' as const },
  port: { type: 'string' as const },
  host: { type: 'string' as const },
  'no-build': { type: 'boolean' as const },
  site: { type: 'string' as const },
  help: { type: 'boolean' as const, short: 'h' },
};

export function serveUsage(): string {
  return `Usage: glo serve [--runs runs] [--port 4321] [--host 127.0.0.1] [--no-build] [--site DIR]

Lists every finished run under --runs in <runs>/index.json, builds the site (site/dist), and serves it on
localhost with the runs folder at /runs/ (the same layout CloudFront serves). Stop with Ctrl-C.

  --runs DIR      folder of run folders (each with manifest.json) [runs]
  --port N        port to listen on; the next free one if taken [4321]
  --host HOST     interface to listen on [127.0.0.1]
  --no-build      serve the existing build as it is
  --site DIR      where the built site is (or goes) [site/dist]
`;
}

/** `glo serve`: index the local runs, build the site, serve both, print the URL. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseFlags('serve', args, serveFlags);
  if (values.help) {
    process.stdout.write(serveUsage());
    return 0;
  }
  const runs = path.resolve((values.runs as string | undefined) ?? 'runs');
  if (!existsSync(runs)) throw new UsageError(`--runs ${runs}: no such folder. Train a run first (npm start, or glo train --out ${path.relative('.', runs) || 'runs'}/NAME).`);
  const port = values.port === undefined ? 4321 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, got "${values.port}".`);

  const index = await updateRunsIndex(runs);
  process.stdout.write(`${index.runs.length} run(s) in ${path.join(runs, 'index.json')}: ${index.runs.map((r) => r.runId).join(', ') || '(none yet)'}\n`);
  const dist = path.resolve((values.site as string | undefined) ?? path.join(repoRoot, 'site', 'dist'));
  if (!values['no-build']) {
    process.stdout.write('Building the site (astro build)…\n');
    await buildSite(dist);
  } else if (!existsSync(path.join(dist, 'index.html'))) {
    throw new UsageError(`--no-build: ${dist} has no built site; run "npm run build:site" or drop --no-build.`);
  }

  const server = await startStaticServer([{ prefix: '/runs/', dir: runs }, { prefix: '/', dir: dist }], { port, host: (values.host as string | undefined) ?? '127.0.0.1' });
  process.stdout.write(`\nglo site: ${server.url}\n(serving ${dist} and ${runs} at /runs/; Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
