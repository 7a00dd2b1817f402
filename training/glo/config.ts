import { z } from 'zod';

/**
 * The one training configuration. Every field has a default and a sentence saying why; CLI flags map
 * onto these keys one to one (`latentDim` <-> `--latent-dim`), and the resolved object is saved in the
 * checkpoint and the run manifest. Defaults follow the paper (arXiv 1707.05776, sections 3-4) unless
 * the field says otherwise.
 */
export const gloConfigSchema = z
  .strictObject({
    imageSize: z.literal([32, 64, 128]).default(64)
      .describe('Training image side in pixels; the DCGAN generator has log2(size)-2 upsampling blocks.'),
    channels: z.literal([1, 3]).default(3)
      .describe('1 for grayscale (MNIST), 3 for RGB.'),
    latentDim: z.number().int().min(2).max(1024).default(100)
      .describe('Size of each latent code; the paper uses 100 (and 512 for big datasets).'),
    generatorWidth: z.number().int().min(4).max(256).default(64)
      .describe('DCGAN width (ngf): channels of the last hidden block, doubled at each coarser block.'),
    latentProjection: z.enum(['ball', 'sphere']).default('ball')
      .describe('Latent set Z: "ball" (paper) clips updated codes to norm <= 1, "sphere" normalizes them to norm 1.'),
    latentInit: z.enum(['pca', 'gaussian']).default('pca')
      .describe('Initial codes: PCA of the pixels (paper; converges far faster) or N(0, I/d), each then projected.'),
    loss: z.enum(['lap1+l2', 'lap1', 'l2']).default('lap1+l2')
      .describe('Reconstruction loss: Laplacian-pyramid L1, squared error, or their sum (the paper\'s final choice).'),
    lapLevels: z.number().int().min(1).max(7).default(4)
      .describe('Laplacian pyramid levels including the low-pass residual (4 at 32 px ends at a 4x4 residual).'),
    lapNormalization: z.enum(['sums', 'means']).optional()
      .describe('How Lap1 weighs its levels (the paper leaves it open): "sums" weighs each level\'s summed |difference| equally (per-level means by 4^-j, finest first), "means" weighs each level\'s mean |difference| equally (mtyka/laploss, minimal_glo). Default by measurement (docs/quality.md): "sums" with l2 (it adds fine detail to what L2 already fits) and for lap1 alone on grayscale, "means" for lap1 alone on colour images (with "sums" it cannot learn colour).'),
    lapWeights: z.array(z.number().nonnegative()).optional()
      .describe('Explicit weight of each level\'s mean absolute difference, finest first; overrides lapNormalization.'),
    l2Weight: z.number().nonnegative().default(1)
      .describe('Weight of the mean squared error term in "lap1+l2".'),
    optimizer: z.enum(['sgd', 'adam']).default('sgd')
      .describe('Plain SGD as in the paper, or Adam (generator) with a row-wise lazy Adam for the codes.'),
    lrGenerator: z.number().positive().optional()
      .describe('Generator learning rate; default 1 for SGD (paper), 0.001 for Adam.'),
    lrLatent: z.number().positive().optional()
      .describe('Latent code learning rate; default 10 for SGD (paper), 10 x lrGenerator for Adam.'),
    codeRefinementSteps: z.number().int().min(0).max(1000).default(10)
      .describe('After the last epoch, Adam steps that refit each code alone to the finished generator (run\'s loss, generator frozen) before publishing; 0 publishes the codes as trained. Beyond the paper: each code gets only one update per epoch and lags the generator.'),
    codeRefinementLr: z.number().positive().default(0.01)
      .describe('Adam step size of that final code pass (measured best between 0.005 and 0.02; 0.03 gained less than half as much, docs/quality.md).'),
    batchSize: z.number().int().min(1).max(4096).default(64)
      .describe('Images per step; every step updates the generator and exactly these images\' codes.'),
    epochs: z.number().int().min(1).max(100_000).default(25)
      .describe('Passes over the dataset; the paper trains 25 epochs.'),
    seed: z.number().int().min(0).default(1)
      .describe('Seeds weight init, latent init and the shuffle order: same seed + backend = same run.'),
    limit: z.number().int().min(1).optional()
      .describe('Use only the first N images of the dataset (quick runs).'),
    background: z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)])
      .default([255, 255, 255])
      .describe('RGB that transparent pixels are composited onto when decoding.'),
    checkpointMinutes: z.number().positive().default(5)
      .describe('Write a checkpoint at least this often (and at every epoch end and on SIGINT/SIGTERM).'),
    evalImages: z.number().int().min(1).default(256)
      .describe('Size of the fixed subset on which each epoch reports reconstruction PSNR.'),
    atlasMaxImages: z.number().int().min(1).default(4096)
      .describe('At most this many training images go into atlas.png (the site\'s gallery).'),
    holdout: z.number().min(0).max(0.5).default(0)
      .describe('Fraction of the (limited) images set aside by seed before PCA and training, written to holdout.png for `glo eval`; 0 trains on all.'),
    sampler: z.enum(['gaussian', 'imle']).default('gaussian')
      .describe('Sampler published with the run: the Gaussian prior (paper) always, and with "imle" also a GLANN-style IMLE network (sampler/).'),
  });

export type GloConfigInput = z.input<typeof gloConfigSchema>;
export type GloConfigParsed = z.output<typeof gloConfigSchema>;

/** A config with every derived default filled in: what the trainer runs and the manifest records. */
export interface GloConfig extends GloConfigParsed {
  lapNormalization: 'sums' | 'means';
  lapWeights: number[];
  lrGenerator: number;
  lrLatent: number;
}

/** Named starting points; explicit options override them. */
export const presets = {
  /** The paper's setup at 64 px. */
  paper: {},
  /** `npm start`: a run worth looking at in about five minutes on two CPU cores. */
  quick: { imageSize: 32, epochs: 20, limit: 2048, batchSize: 32 },
  /** Seconds, for tests and smoke checks. */
  tiny: { imageSize: 32, epochs: 2, limit: 64, batchSize: 16, latentDim: 16, generatorWidth: 8, evalImages: 16 },
} satisfies Record<string, GloConfigInput>;

export type PresetName = keyof typeof presets;

/** Invalid training options; the message names each offending option and what it accepts. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function formatIssues(error: z.ZodError): string {
  const lines = error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}" (--${toFlag(k)})`).join(', ')}`;
    }
    const key = String(issue.path[0] ?? '');
    const where = issue.path.length ? `"${issue.path.join('.')}" (--${toFlag(key)})` : 'options';
    return `${where}: ${issue.message}`;
  });
  return `Invalid training options:\n  ${lines.join('\n  ')}`;
}

/** The CLI flag of a config key: latentDim -> latent-dim. */
export function toFlag(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Validates options (unknown keys are errors that name them) and fills the derived defaults. */
export function resolveConfig(input: GloConfigInput, preset?: PresetName): GloConfig {
  const base = preset ? presets[preset] : {};
  const result = gloConfigSchema.safeParse({ ...base, ...input });
  if (!result.success) throw new ConfigError(formatIssues(result.error));
  const parsed = result.data;
  // Measured (docs/quality.md, "Lap1's level normalization"): "sums" wherever it trains, which is beside L2
  // and on grayscale; Lap1 alone on colour images needs "means" (with "sums" its residual, the colour, is
  // weighed 1/64 and never learned).
  const lapNormalization = parsed.lapNormalization ?? (parsed.loss === 'lap1' && parsed.channels === 3 ? 'means' : 'sums');
  const lapWeights = parsed.lapWeights ?? lapLevelWeights(lapNormalization, parsed.lapLevels);
  if (lapWeights.length !== parsed.lapLevels) {
    throw new ConfigError(`lapWeights has ${lapWeights.length} entries but lapLevels is ${parsed.lapLevels}: give one weight per level.`);
  }
  const minSide = parsed.imageSize / 2 ** (parsed.lapLevels - 1);
  if (minSide < 2) {
    throw new ConfigError(`lapLevels ${parsed.lapLevels} is too many for ${parsed.imageSize} px images (the residual would be ${minSide} px).`);
  }
  const lrGenerator = parsed.lrGenerator ?? (parsed.optimizer === 'sgd' ? 1 : 0.001);
  const lrLatent = parsed.lrLatent ?? (parsed.optimizer === 'sgd' ? 10 : 10 * lrGenerator);
  return { ...parsed, lapNormalization, lapWeights, lrGenerator, lrLatent };
}

/**
 * The weights Lap1 puts on each level's MEAN absolute difference (finest first) for a normalization.
 * Level j of a P-pixel image has P / 4^j pixels, so "sums" (every level's sum counts alike, divided by P)
 * is 4^-j on the means: the low-pass residual of a 4-level pyramid weighs 1/64 of the finest band.
 * "means" is 1 on every mean: the residual (colour, layout) weighs as much as the finest band.
 */
export function lapLevelWeights(normalization: 'sums' | 'means', levels: number): number[] {
  return Array.from({ length: levels }, (_, j) => (normalization === 'sums' ? 4 ** -j : 1));
}

/** One line per field, for `glo train --help`. */
export function describeConfig(): { key: string; description: string; default?: unknown }[] {
  const shape = gloConfigSchema.shape;
  return Object.entries(shape).map(([key, schema]) => {
    const def = (schema as { def?: { defaultValue?: unknown } }).def?.defaultValue;
    return { key, description: schema.description ?? '', default: def };
  });
}
