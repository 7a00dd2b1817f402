import type * as tfl from '@tensorflow/tfjs-layers';
import { buildImleSampler, defaultImleOptions, fitImle, type ImleFit, type ImleOptions } from '../glo/imle.ts';
import type { InterruptCheck } from '../glo/interrupt.ts';
import type { LatentProjection } from '../glo/latent.ts';
import { decodeLatents } from '../glo/latent-codec.ts';
import { runManifestSchema, type RunManifest } from '../glo/manifest.ts';
import { loadModel, saveModel } from './model-io.ts';
import type { Reporter } from './progress.ts';
import type { Storage } from '../storage/storage.ts';
import { readCompleteManifest } from './published-run.ts';

export const SAMPLER_PREFIX = 'sampler';

/** Fits a GLANN-style IMLE sampler to a latent table (training/glo/imle.ts), logging each round. */
export async function fitImleSampler(
  latents: Float32Array,
  latentDim: number,
  projection: LatentProjection,
  options: Partial<ImleOptions> & { seed: number },
  reporter?: Pick<Reporter, 'info'>,
  interrupt?: InterruptCheck,
): Promise<{ model: tfl.Sequential; fit: ImleFit; options: ImleOptions }> {
  const resolved = { ...defaultImleOptions(latentDim, options.seed), ...options };
  const model = buildImleSampler(latentDim, resolved);
  const started = performance.now();
  let fit: ImleFit;
  try {
    fit = await fitImle(model, latents, latentDim, resolved, projection, (r) => {
      reporter?.info(`IMLE round ${r.round}/${resolved.rounds}: matching loss ${r.matchingLoss.toFixed(5)}, regression ${r.regressionLoss.toFixed(5)}`);
    }, interrupt);
  } catch (error) {
    model.dispose();
    throw error;
  }
  reporter?.info(`IMLE sampler: matching loss ${fit.rounds[0]?.matchingLoss.toFixed(5)} -> ${fit.matchingLoss.toFixed(5)}, samples' mean norm ${fit.scale.toFixed(3)} x the codes', in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (Math.abs(fit.scale - 1) > 0.1) reporter?.info(`IMLE sampler: warning: its samples' scale is off by ${(100 * (fit.scale - 1)).toFixed(0)}% from the codes': many samples fall away from every code (docs/quality.md, "IMLE against the Gaussian prior")`);
  return { model, fit, options: resolved };
}

/** Saves the sampler under sampler/ and returns its files and the manifest entry. */
export async function saveImleSampler(
  storage: Storage,
  model: tfl.LayersModel,
  fit: ImleFit,
  options: ImleOptions,
  projection: LatentProjection,
): Promise<{ files: { path: string; bytes: number }[]; entry: NonNullable<RunManifest['sampler']> }> {
  const files = await saveModel(model, storage, SAMPLER_PREFIX);
  return {
    files,
    entry: { kind: 'imle', file: `${SAMPLER_PREFIX}/model.json`, noiseDim: options.noiseDim, projection, matchingLoss: fit.matchingLoss, scale: fit.scale },
  };
}

export async function loadImleSampler(storage: Storage, manifest: RunManifest): Promise<tfl.LayersModel | undefined> {
  if (!manifest.sampler) return undefined;
  return loadModel(storage, manifest.sampler.file.replace(/\/model\.json$/, ''));
}

/**
 * `glo fit-sampler`: fits an IMLE sampler to a published run's codes, saves it under sampler/ and
 * rewrites manifest.json (last, as publishing does) with the sampler entry and its files. The seed
 * defaults to the run's training seed. A run that already has a sampler is first rewritten without it,
 * so the manifest never lists sampler files that are half replaced: a fit stopped midway leaves a run
 * with the Gaussian prior only, and running fit-sampler again adds a sampler.
 */
export async function addSamplerToRun(storage: Storage, options: Partial<ImleOptions>, reporter?: Pick<Reporter, 'info'>): Promise<RunManifest> {
  const manifest = await readCompleteManifest(storage);
  const { dim, count, file, projection } = manifest.latents;
  const latents = decodeLatents(await storage.read(file), count, dim);
  reporter?.info(`fitting an IMLE sampler to ${count} codes of ${storage.uri} (d = ${dim})`);
  const fitted = await fitImleSampler(latents, dim, projection, { ...options, seed: options.seed ?? manifest.config.seed }, reporter);
  const files = manifest.files.filter((f) => !f.path.startsWith(`${SAMPLER_PREFIX}/`));
  if (manifest.sampler) await storage.write('manifest.json', JSON.stringify(runManifestSchema.parse({ ...manifest, sampler: undefined, files }), null, 2));
  const saved = await saveImleSampler(storage, fitted.model, fitted.fit, fitted.options, projection);
  fitted.model.dispose();
  const updated = runManifestSchema.parse({ ...manifest, sampler: saved.entry, files: [...files, ...saved.files] });
  await storage.write('manifest.json', JSON.stringify(updated, null, 2));
  return updated;
}
