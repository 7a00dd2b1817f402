import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSite } from '../../training/serve/local-site.ts';
import { withLock } from './lock.ts';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const siteTestDir = path.join(repoRoot, '.tmp', 'site-test');

/** A digest of every file under the given folders (paths and contents), to key build caches. */
export function digestOf(paths: string[]): string {
  const hash = createHash('sha256');
  const visit = (p: string) => {
    if (!existsSync(p)) return;
    if (statSync(p).isDirectory()) {
      for (const entry of readdirSync(p).sort()) if (entry !== 'dist' && entry !== '.astro' && entry !== 'node_modules') visit(path.join(p, entry));
    } else {
      hash.update(path.relative(repoRoot, p)).update(readFileSync(p));
    }
  };
  paths.forEach((p) => visit(path.join(repoRoot, p)));
  return hash.digest('hex').slice(0, 16);
}

/**
 * Removes cached builds of other source versions (`<prefix>-<key>` siblings of `keep`) older than an hour: a
 * fork of a run that started before the sources changed may still be reading a younger one.
 */
export async function pruneStale(prefix: string, keep: string): Promise<void> {
  for (const entry of await readdir(siteTestDir).catch(() => [] as string[])) {
    const full = path.join(siteTestDir, entry);
    if (!entry.startsWith(`${prefix}-`) || full === keep) continue;
    const info = await stat(full).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > 60 * 60_000) await rm(full, { recursive: true, force: true });
  }
}

/**
 * The site built once for all test files (astro build takes ~20 s): keyed by the sources, shared between vitest's
 * forks through a lock, reused by later runs while nothing changed.
 */
export async function ensureSiteBuilt(): Promise<string> {
  const key = digestOf(['site/src', 'site/astro.config.mjs', 'training/glo', 'package-lock.json']);
  const dist = path.join(siteTestDir, `dist-${key}`);
  if (existsSync(path.join(dist, 'index.html'))) return dist;
  await mkdir(siteTestDir, { recursive: true });
  return withLock(path.join(siteTestDir, 'build.lock'), async () => {
    if (existsSync(path.join(dist, 'index.html'))) return dist;
    const partial = `${dist}.partial-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    const env = { ...process.env };
    delete env.GLO_RUNS_URL;
    await buildSite(partial, env);
    await rename(partial, dist);
    await pruneStale('dist', dist);
    return dist;
  });
}
