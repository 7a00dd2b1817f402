import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { evalReportSchema } from '../../../training/eval/eval-report.ts';
import { parseManifest, type RunManifest } from '../../../training/glo/manifest.ts';
import { emptyRunsIndex, runsIndexEntry, withRun } from '../../../training/glo/runs-index.ts';
import { makeImageFolder } from '../../training/training-fixtures.ts';
import { withLock } from '../../../site/dev/lock.ts';
import { digestOf, pruneStale, repoRoot, siteTestDir } from '../../../site/dev/site-build.ts';

export const fixtureRunId = 'fixture';

/** Broken copies of the fixture run, each a folder under runs/ named after what is wrong with it. */
export const brokenRuns = {
  missingManifest: 'broken-no-manifest',
  malformedManifest: 'broken-malformed',
  notJsonManifest: 'broken-not-json',
  newerManifest: 'broken-newer',
  missingWeights: 'broken-no-weights',
  infinitePrior: 'broken-prior',
} as const;

/** A copy of the fixture run (not in the index; the page opens it by its link) whose eval.json is edited so that the
 * Gaussian prior and the IMLE sampler swap places. */
export const otherBestRunId = 'fixture-other-best';

export interface FixtureRuns {
  /** runs/ with index.json, the fixture run and the broken copies. */
  runs: string;
  /** runs/ whose index.json lists no run. */
  emptyRuns: string;
  /** runs/ without an index.json. */
  noIndexRuns: string;
  manifest: RunManifest;
  runDir: string;
}

async function run(command: string[], cwd: string): Promise<void> {
  const child = spawn(process.execPath, command, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`${command.join(' ')} failed (exit ${code}):\n${log.slice(-3000)}`);
}

/**
 * A small labelled run trained by the real trainer (`glo train --preset tiny` on two classes of generated blobs,
 * 32 px), once per trainer version, shared by the site tests; plus the broken runs and indexes the error tests
 * need, made from copies of it.
 */
export async function ensureFixtureRuns(): Promise<FixtureRuns> {
  const key = digestOf(['training', 'test/training/training-fixtures.ts', 'test/site/helpers/fixture-runs.ts']);
  const root = path.join(siteTestDir, `runs-${key}`);
  const result = async (): Promise<FixtureRuns> => {
    const runDir = path.join(root, 'runs', fixtureRunId);
    const manifest = parseManifest(JSON.parse(await readFile(path.join(runDir, 'manifest.json'), 'utf8')));
    return { runs: path.join(root, 'runs'), emptyRuns: path.join(root, 'runs-empty'), noIndexRuns: path.join(root, 'runs-none'), manifest, runDir };
  };
  if (existsSync(path.join(root, 'done'))) return result();
  await mkdir(siteTestDir, { recursive: true });
  return withLock(path.join(siteTestDir, 'runs.lock'), async () => {
    if (existsSync(path.join(root, 'done'))) return result();
    await rm(root, { recursive: true, force: true });
    const runs = path.join(root, 'runs');
    await mkdir(runs, { recursive: true });

    // Two classes (subfolders = labels), so per-class sampling and class means have something to work on.
    const images = await mkdtemp(path.join(tmpdir(), 'glo-site-images-'));
    await rename(await makeImageFolder(12, 32, 11), path.join(images, 'blobs'));
    await rename(await makeImageFolder(12, 32, 12), path.join(images, 'spots'));
    const runDir = path.join(runs, fixtureRunId);
    await run([path.join(repoRoot, 'bin', 'glo.js'), 'train', '--data', images, '--out', runDir, '--preset', 'tiny', '--epochs', '40', '--batch-size', '8', '--sampler', 'imle', '--backend', 'wasm', '--quiet'], repoRoot);
    // A real eval.json (small sizes: 24 images), from which the Sample view picks its default sampler.
    await run([path.join(repoRoot, 'bin', 'glo.js'), 'eval', runDir, '--backend', 'wasm', '--quiet', '--samples', '32', '--swd-images', '12', '--patches-per-image', '32', '--directions', '32', '--repeats', '1', '--fit-steps', '5', '--fit-starts', '1'], repoRoot);
    await rm(images, { recursive: true, force: true });
    const manifest = parseManifest(JSON.parse(await readFile(path.join(runDir, 'manifest.json'), 'utf8')));
    await writeFile(path.join(runs, 'index.json'), JSON.stringify(withRun(emptyRunsIndex(), runsIndexEntry(manifest))));

    const copy = async (name: string, manifestText: string | undefined, remove: string[] = []) => {
      const dir = path.join(runs, name);
      await cp(runDir, dir, { recursive: true });
      for (const file of [...remove, 'manifest.json']) await rm(path.join(dir, file), { force: true });
      if (manifestText !== undefined) await writeFile(path.join(dir, 'manifest.json'), manifestText);
    };
    const renamed = (patch: object) => JSON.stringify({ ...manifest, ...patch });
    await copy(brokenRuns.missingManifest, undefined);
    await copy(brokenRuns.malformedManifest, JSON.stringify({ format: 'glo-run', formatVersion: 1, runId: brokenRuns.malformedManifest, latents: { dim: 'many' } }));
    await copy(brokenRuns.notJsonManifest, '{"format": "glo-run", ');
    await copy(brokenRuns.newerManifest, renamed({ runId: brokenRuns.newerManifest, formatVersion: 2 }));
    await copy(brokenRuns.missingWeights, renamed({ runId: brokenRuns.missingWeights }), ['model/weights.bin']);
    // A hand-edited prior: JSON.parse reads 1e999 as Infinity, which sampling would turn into NaN images.
    await copy(brokenRuns.infinitePrior, renamed({ runId: brokenRuns.infinitePrior }));
    const priorFile = path.join(runs, brokenRuns.infinitePrior, 'prior.json');
    await writeFile(priorFile, (await readFile(priorFile, 'utf8')).replace(/"mean":\[[^,\]]+/, '"mean":[1e999'));

    // The same run measured the other way round: the Fréchet distances of the Gaussian prior and IMLE swapped.
    await copy(otherBestRunId, renamed({ runId: otherBestRunId }));
    const evalFile = path.join(runs, otherBestRunId, 'eval.json');
    const report = evalReportSchema.parse(JSON.parse(await readFile(evalFile, 'utf8')));
    const distances = report.frechet!.samplers.filter((s) => s.sampler !== 'normal').map((s) => s.distance).reverse();
    report.frechet!.samplers.filter((s) => s.sampler !== 'normal').forEach((s, i) => (s.distance = distances[i]));
    await writeFile(evalFile, JSON.stringify({ ...report, runId: otherBestRunId }));

    await mkdir(path.join(root, 'runs-empty'), { recursive: true });
    await writeFile(path.join(root, 'runs-empty', 'index.json'), JSON.stringify(emptyRunsIndex()));
    await mkdir(path.join(root, 'runs-none'), { recursive: true });
    await writeFile(path.join(root, 'done'), new Date().toISOString());
    await pruneStale('runs', root);
    return result();
  });
}
