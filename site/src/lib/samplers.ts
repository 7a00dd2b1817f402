/**
 * Where the Sample view's codes come from: the run's Gaussian prior (the paper's sampler: global, or one
 * class's), or its IMLE sampler (a network from noise to codes, training/glo/imle.ts) when it has one.
 * The view starts with the one `glo eval` measured best (eval.json), so a run is shown at its best.
 */
import { bestSampler, samplerFigures } from '../../../training/eval/eval-report.ts';
import { sampleGaussian, type GaussianPrior } from '../../../training/glo/gaussian.ts';
import { project } from '../../../training/glo/latent.ts';
import { Random } from '../../../training/glo/random.ts';
import type { LoadedRun } from './run-loader.ts';
import type { Tf } from './tf.ts';

export type SiteSampler = 'gaussian' | 'imle';

export const samplerLabels: Record<SiteSampler, string> = { gaussian: 'Gaussian prior', imle: 'IMLE sampler' };

export function availableSamplers(run: Pick<LoadedRun, 'manifest'>): SiteSampler[] {
  return run.manifest.sampler ? ['gaussian', 'imle'] : ['gaussian'];
}

/** The sampler to start with, and a sentence saying why. */
export function defaultSampler(run: Pick<LoadedRun, 'manifest' | 'evaluation'>): { sampler: SiteSampler; reason: string } {
  const available = availableSamplers(run);
  const best = run.evaluation ? bestSampler(run.evaluation, available) : undefined;
  if (!best) {
    return { sampler: 'gaussian', reason: available.length > 1 ? 'The run has not been measured (glo eval), so the paper\'s sampler comes first.' : '' };
  }
  const figure = best.figure === 'frechet' ? 'Fréchet distance' : 'sliced Wasserstein distance';
  const others = samplerFigures(run.evaluation!)
    .filter((s) => s.sampler !== best.sampler && (available as string[]).includes(s.sampler))
    .map((s) => `${samplerLabels[s.sampler as SiteSampler]} ${s.value.toPrecision(3)}`);
  return {
    sampler: best.sampler as SiteSampler,
    reason: `${samplerLabels[best.sampler as SiteSampler]} first: the best measured ${figure} to the training images (${best.value.toPrecision(3)}${others.length ? `; ${others.join(', ')}` : ''}; lower is better).`,
  };
}

/**
 * `count` codes, seeded. Gaussian: `prior` at the temperature (a scale of its spread). IMLE: the network
 * on N(0, temperature^2 I) noise, then projected into the latent set: at temperature 1 the same codes as
 * sampleImle in Node for the seed.
 */
export async function sampleCodes(run: LoadedRun, tf: Tf, options: { sampler: SiteSampler; seed: number; temperature: number; count: number; prior: GaussianPrior }): Promise<Float32Array> {
  const projection = run.manifest.latents.projection;
  const random = new Random(options.seed);
  if (options.sampler === 'gaussian') return sampleGaussian(options.prior, options.count, random, { temperature: options.temperature, projection });
  const model = await run.sampler();
  if (!model) throw new Error(`Run "${run.manifest.runId}" has no IMLE sampler.`);
  const noiseDim = model.inputs[0].shape[1] as number;
  const noise = random.normalArray(options.count * noiseDim, options.temperature);
  const output = tf.tidy(() => model.predict(tf.tensor2d(noise, [options.count, noiseDim])) as import('@tensorflow/tfjs-core').Tensor);
  const codes = new Float32Array(await output.data());
  output.dispose();
  project(codes, run.dim, projection);
  return codes;
}
