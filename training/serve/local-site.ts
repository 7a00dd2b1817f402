// Serving runs and the site from this machine: the local runs/index.json, the Astro build, and a static file
// server (used by `glo serve`, the site tests, the site bench and the screenshots).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import serveStatic from 'serve-static';
import { parseManifest, type RunManifest } from '../glo/manifest.ts';
import { emptyRunsIndex, parseRunsIndex, runsIndexEntry, withRun, type RunsIndex } from '../glo/runs-index.ts';
import { contentTypeOf } from '../storage/content-type.ts';
import { RUNS_INDEX_FILE, updateLocalRunsIndex } from './local-runs-index.ts';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Rewrites <runs>/index.json from the run folders that have a manifest.json (a run without one is unfinished),
 * keeping entries of other runs the index lists and whose folders still exist. Under the same lock as `glo
 * pull`'s writer (local-runs-index.ts), so a pull and a serve at the same time keep both their entries.
 */
export async function updateRunsIndex(runs: string): Promise<RunsIndex> {
  const file = path.join(runs, RUNS_INDEX_FILE);
  return updateLocalRunsIndex(runs, async (text) => {
    let index = emptyRunsIndex();
    if (text !== undefined) {
      try {
        index = parseRunsIndex(text);
      } catch (e) {
        process.stderr.write(`${file}: ${(e as Error).message}; rebuilding it from the run folders.\n`);
      }
    }
    index = { ...index, runs: index.runs.filter((r) => existsSync(path.join(runs, r.runId, 'manifest.json'))) };
    // Broken runs are listed too, with the reason, so the site's picker can show them (and opening one shows the
    // site's own message), not only this terminal.
    const unreadable: { runId: string; problem: string }[] = [];
    for (const entry of readdirSync(runs, { withFileTypes: true })) {
      const manifestFile = path.join(runs, entry.name, 'manifest.json');
      if (!entry.isDirectory() || !existsSync(manifestFile)) continue;
      try {
        const manifest = parseManifest(JSON.parse(await readFile(manifestFile, 'utf8')), manifestFile);
        if (manifest.runId !== entry.name) {
          const problem = `its manifest names run "${manifest.runId}", not its folder's name (the site finds runs by folder)`;
          process.stderr.write(`${manifestFile}: ${problem}; not listed as a run.\n`);
          unreadable.push({ runId: entry.name, problem });
          continue;
        }
        index = withRun(index, runsIndexEntry(manifest));
      } catch (e) {
        const problem = (e as Error).message.replace(`${manifestFile}: `, '').replace(`${manifestFile} `, 'the manifest ');
        process.stderr.write(`${manifestFile}: ${(e as Error).message}; not listed as a run.\n`);
        unreadable.push({ runId: entry.name, problem: problem.length > 300 ? `${problem.slice(0, 300)}…` : problem });
      }
    }
    const { unreadable: _previous, ...rest } = index;
    return unreadable.length ? { ...rest, unreadable: unreadable.sort((a, b) => a.runId.localeCompare(b.runId)) } : rest;
  });
}

/** `astro build` of site/ into `outDir` (GLO_RUNS_URL from the environment, default /runs/). */
export async function buildSite(outDir: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const astro = path.join(path.dirname(createRequire(import.meta.url).resolve('astro/package.json')), 'astro.js');
  const child = spawn(process.execPath, [astro, 'build', '--root', path.join(repoRoot, 'site'), '--outDir', outDir], {
    cwd: repoRoot,
    env: { ...env, ASTRO_TELEMETRY_DISABLED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`astro build failed (exit ${code}):\n${log.slice(-4000)}`);
}


export interface StaticServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export interface StaticServerOptions {
  /** 0 picks a free port; a taken port moves to the next one. */
  port?: number;
  host?: string;
  /** Headers set on every response, e.g. the production CloudFront header set in the site's browser tests. */
  headers?: Record<string, string>;
}

/**
 * The static file server: each mount maps a URL prefix to a folder (longest prefix first). serve-static does
 * the serving (GET/HEAD, ETag and 304s, ranges, no dotfiles, no directory listings, no `..` escapes); glo adds
 * the mount table, the same MIME table as the S3 uploads (application/wasm for the tfjs binaries), cache
 * headers, and a symbolic-link guard serve-static lacks.
 */
export async function startStaticServer(mounts: { prefix: string; dir: string }[], options: StaticServerOptions = {}): Promise<StaticServer> {
  const { port = 0, host = '127.0.0.1', headers = {} } = options;
  // Mount folders by their real paths: a served file must resolve (symbolic links followed) inside one.
  const sorted = await Promise.all([...mounts].sort((a, b) => b.prefix.length - a.prefix.length).map(async (m) => {
    const dir = await realpath(path.resolve(m.dir)).catch(() => path.resolve(m.dir));
    const serve = serveStatic(dir, {
      index: ['index.html'],
      fallthrough: false, // a missing file is a 404 here, a POST a 405
      cacheControl: false,
      setHeaders: (response, file) => {
        response.setHeader('Content-Type', contentTypeOf(file));
        // Runs change (new runs, a retrained run under the same id); hashed site assets never do.
        const immutable = file.startsWith(path.join(dir, '_astro') + path.sep);
        response.setHeader('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
    return { ...m, dir, serve };
  }));
  const inside = (dir: string, file: string) => file === dir || file.startsWith(dir + path.sep);
  const server = createServer((request, response) => {
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    const fail = (status: number, text: string) => {
      if (!response.headersSent) response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end(`${text}\n`);
    };
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      let pathname: string;
      try {
        pathname = decodeURIComponent(url.pathname);
      } catch {
        return fail(400, 'Bad request');
      }
      const mount = sorted.find((m) => pathname.startsWith(m.prefix));
      if (!mount) return fail(404, `Not found: ${pathname}`);
      // A symbolic link inside the folder may point anywhere (a link to /etc served /etc/passwd): a path
      // whose real location (or its index.html's) leaves the mount is not served.
      const target = path.join(mount.dir, pathname.slice(mount.prefix.length));
      for (const candidate of [target, path.join(target, 'index.html')]) {
        const real = await realpath(candidate).catch(() => undefined);
        if (real !== undefined && !inside(mount.dir, real)) return fail(404, `Not found: ${pathname}`);
      }
      // serve-static sees the path below the mount; redirects (a folder without its trailing slash) use the original.
      Object.assign(request, { originalUrl: request.url, url: `/${url.pathname.slice(mount.prefix.length)}${url.search}` });
      mount.serve(request, response, (error?: { status?: number; statusCode?: number; message?: string }) => {
        // send answers 403 for a path that climbs out with '..'; to a client that is just not here.
        const status = error?.status === 403 ? 404 : (error?.status ?? error?.statusCode ?? 500);
        fail(status, status === 404 ? `Not found: ${pathname}` : status === 405 ? 'Method not allowed' : `Server error: ${error?.message ?? ''}`);
      });
    })().catch((e: unknown) => fail(500, `Server error: ${(e as Error).message}`));
  });
  for (let attempt = 0; ; attempt++) {
    const wanted = port === 0 ? 0 : port + attempt;
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', resolve);
      server.listen(wanted, host, () => {
        server.off('error', resolve);
        resolve(undefined);
      });
    });
    if (!error) break;
    if (error.code !== 'EADDRINUSE' || port === 0 || attempt >= 20) throw error;
  }
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${actual}/`,
    port: actual,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Serves one finished run with the built site, as `glo serve` would a runs folder that holds only it: the run
 * folder under /runs/<runId>/, a one-entry runs/index.json (written in `scratch`), the site at /. The site
 * bench and the screenshots use it.
 */
export async function serveOneRun(runDir: string, dist: string, scratch: string): Promise<{ server: StaticServer; manifest: RunManifest }> {
  const manifest = parseManifest(JSON.parse(await readFile(path.join(runDir, 'manifest.json'), 'utf8')));
  const runs = path.join(scratch, 'runs');
  await mkdir(runs, { recursive: true });
  await writeFile(path.join(runs, 'index.json'), JSON.stringify(withRun(emptyRunsIndex(), runsIndexEntry(manifest))));
  const server = await startStaticServer([
    { prefix: `/runs/${manifest.runId}/`, dir: runDir },
    { prefix: '/runs/', dir: runs },
    { prefix: '/', dir: dist },
  ]);
  return { server, manifest };
}
