/**
 * `glo serve` (what `npm start` ends with): the local runs index, the static server (MIME types, no path escapes)
 * and the command itself serving a built site with the runs under /runs/.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { serveOneRun, startStaticServer, updateRunsIndex } from '../../training/serve/local-site.ts';
import { parseRunsIndex, runsIndexEntry } from '../../training/glo/runs-index.ts';
import { addRunToIndex } from '../../training/pipeline/runs-index-store.ts';
import { tempDir } from '../training/training-fixtures.ts';
import { ensureFixtureRuns, fixtureRunId, type FixtureRuns } from './helpers/fixture-runs.ts';
import { ensureSiteBuilt, repoRoot } from '../../site/dev/site-build.ts';

let fixture: FixtureRuns;

beforeAll(async () => {
  fixture = await ensureFixtureRuns();
});

describe('the local runs index', () => {
  it('lists finished runs only, drops runs whose folder is gone, keeps the file valid', async () => {
    const runs = await tempDir('glo-serve-');
    await cp(fixture.runDir, path.join(runs, fixtureRunId), { recursive: true });
    await mkdir(path.join(runs, 'unfinished', 'model'), { recursive: true });
    await mkdir(path.join(runs, 'not-a-run'));
    await writeFile(path.join(runs, 'not-a-run', 'manifest.json'), '{}');
    const stale = { runId: 'deleted', dataset: 'emoji', createdAt: '2020-01-01T00:00:00.000Z', imageCount: 1, imageSize: 32, reconstructionPsnr: 1, pcaReconstructionPsnr: 1 };
    await writeFile(path.join(runs, 'index.json'), JSON.stringify({ format: 'glo-runs', formatVersion: 1, runs: [stale] }));

    const index = await updateRunsIndex(runs);
    expect(index.runs.map((r) => r.runId)).toEqual([fixtureRunId]);
    expect(parseRunsIndex(await readFile(path.join(runs, 'index.json'), 'utf8'))).toEqual(index);
    expect(index.runs[0].imageCount).toBe(fixture.manifest.dataset.imageCount);
  });
});

describe('the local runs index with two writers', () => {
  it('glo serve waits for a glo pull that holds the index lock, and neither entry is lost', async () => {
    const runs = await tempDir('glo-two-writers-');
    await cp(fixture.runDir, path.join(runs, fixtureRunId), { recursive: true });
    await cp(fixture.runDir, path.join(runs, 'pulled'), { recursive: true });
    let serving: Promise<unknown> | undefined;
    await addRunToIndex(runs, { ...runsIndexEntry(fixture.manifest), runId: 'pulled' }, {
      // While the pull holds the lock (between its read and its write), serve starts rebuilding the index.
      beforeWrite: async () => {
        serving = updateRunsIndex(runs);
        await new Promise((resolve) => setTimeout(resolve, 300));
      },
    });
    await serving;
    const index = parseRunsIndex(await readFile(path.join(runs, 'index.json'), 'utf8'));
    expect(index.runs.map((r) => r.runId).sort()).toEqual(['pulled', fixtureRunId].sort());
  });
});

describe('the static server', () => {
  it('serves mounts with the right types, 404s the rest and never leaves its folders', async () => {
    const root = await tempDir('glo-static-');
    const site = path.join(root, 'site');
    await mkdir(path.join(site, '_astro'), { recursive: true });
    await writeFile(path.join(root, 'secret.txt'), 'outside');
    await writeFile(path.join(site, 'index.html'), '<h1>hi</h1>');
    await writeFile(path.join(site, '_astro', 'x.wasm'), new Uint8Array([0, 97, 115, 109]));
    const server = await startStaticServer([{ prefix: '/runs/', dir: fixture.runs }, { prefix: '/', dir: site }]);
    try {
      const get = (p: string, init?: RequestInit) => fetch(new URL(p, server.url), init);
      const home = await get('/');
      expect(home.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await home.text()).toBe('<h1>hi</h1>');
      const wasm = await get('/_astro/x.wasm');
      expect(wasm.headers.get('content-type')).toBe('application/wasm');
      expect(wasm.headers.get('cache-control')).toContain('immutable');
      const manifest = await get(`/runs/${fixtureRunId}/manifest.json`);
      expect(manifest.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(manifest.headers.get('cache-control')).toBe('no-cache');
      expect((await get(`/runs/${fixtureRunId}/atlas.png`)).headers.get('content-type')).toBe('image/png');
      expect((await get('/runs/nope/manifest.json')).status).toBe(404);
      // Encoded slashes survive URL normalization and decode to "../" inside the server: they must not escape.
      expect((await get('/..%2fsecret.txt')).status).toBe(404);
      expect((await get('/runs/..%2f..%2f..%2fsecret.txt')).status).toBe(404);
      // Symbolic links inside a served folder that lead out of it are not followed; links inside it are.
      await symlink('/etc', path.join(site, 'etc-link'));
      await symlink(path.join(root, 'secret.txt'), path.join(site, 'secret-link.txt'));
      await symlink(path.join(site, 'index.html'), path.join(site, 'home.html'));
      expect((await get('/etc-link/passwd')).status).toBe(404);
      expect((await get('/secret-link.txt')).status).toBe(404);
      expect(await (await get('/home.html')).text()).toBe('<h1>hi</h1>');
      expect((await get('/', { method: 'POST' })).status).toBe(405);
      const head = await get('/', { method: 'HEAD' });
      expect([head.status, head.headers.get('content-length')]).toEqual([200, '11']);
      // A reload revalidates a run's files instead of downloading them again, and ranges work.
      const etag = manifest.headers.get('etag');
      expect(etag).toBeTruthy();
      // (fetch adds "Cache-Control: no-cache" to a conditional request unless one is given; a browser revalidating sends max-age=0.)
      const revalidate = { 'If-None-Match': etag!, 'Cache-Control': 'max-age=0' };
      expect((await get(`/runs/${fixtureRunId}/manifest.json`, { headers: revalidate })).status).toBe(304);
      const range = await get('/_astro/x.wasm', { headers: { Range: 'bytes=1-2' } });
      expect([range.status, [...new Uint8Array(await range.arrayBuffer())]]).toEqual([206, [97, 115]]);
      // A folder without its trailing slash redirects to it, under the mount's prefix.
      const folder = await get(`/runs/${fixtureRunId}`, { redirect: 'manual' });
      expect([folder.status, folder.headers.get('location')]).toEqual([301, `/runs/${fixtureRunId}/`]);
    } finally {
      await server.close();
    }
  });

  it('sets the headers it is given on every response, errors included', async () => {
    const site = await tempDir('glo-static-headers-');
    await writeFile(path.join(site, 'index.html'), '<h1>hi</h1>');
    const headers = { 'Content-Security-Policy': "default-src 'self'", 'Cross-Origin-Opener-Policy': 'same-origin' };
    const server = await startStaticServer([{ prefix: '/', dir: site }], { headers });
    try {
      for (const p of ['/', '/missing']) {
        const response = await fetch(new URL(p, server.url));
        expect(response.headers.get('content-security-policy')).toBe("default-src 'self'");
        expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      }
    } finally {
      await server.close();
    }
  });
});

describe('serveOneRun (the site bench and the screenshots)', () => {
  it('serves one run with a one-entry runs index beside the site', async () => {
    const site = await tempDir('glo-one-site-');
    await writeFile(path.join(site, 'index.html'), '<h1>site</h1>');
    const { server, manifest } = await serveOneRun(fixture.runDir, site, await tempDir('glo-one-scratch-'));
    try {
      expect(manifest.runId).toBe(fixtureRunId);
      const index = parseRunsIndex(await (await fetch(new URL('/runs/index.json', server.url))).text());
      expect(index.runs.map((r) => r.runId)).toEqual([fixtureRunId]);
      expect((await fetch(new URL(`/runs/${fixtureRunId}/manifest.json`, server.url))).status).toBe(200);
      expect(await (await fetch(server.url)).text()).toBe('<h1>site</h1>');
    } finally {
      await server.close();
    }
  });
});

describe('glo serve', () => {
  it('indexes the runs, serves the built site with them at /runs/ and prints the URL', async () => {
    const dist = await ensureSiteBuilt();
    const runs = await tempDir('glo-serve-cli-');
    await cp(fixture.runDir, path.join(runs, fixtureRunId), { recursive: true });
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'glo.js'), 'serve', '--runs', runs, '--port', '0', '--no-build', '--site', dist], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += d;
          const match = /glo site: (http:\/\/\S+)/.exec(out);
          if (match) resolve(match[1]);
        });
        child.on('close', (code) => reject(new Error(`glo serve exited ${code}: ${out}`)));
      });
      expect(out).toContain(`1 run(s) in ${path.join(runs, 'index.json')}: ${fixtureRunId}`);
      expect(await (await fetch(url)).text()).toContain('<glo-app>');
      const index = parseRunsIndex(await (await fetch(new URL('runs/index.json', url))).text());
      expect(index.runs.map((r) => r.runId)).toEqual([fixtureRunId]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
  });

  it('names the missing runs folder', async () => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'glo.js'), 'serve', '--runs', '/nonexistent/runs'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(2);
    expect(err).toMatch(/--runs \/nonexistent\/runs: no such folder/);
  });
});
