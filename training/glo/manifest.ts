import { z } from 'zod';
import { gloConfigSchema } from './config.ts';

/**
 * manifest.json: the contract between the trainer, the pipeline and the site (docs/architecture.md section 3).
 * Written last, so its presence means every file it lists is in place. The site reads dimensions,
 * labels and counts from here, never from constants.
 */
export const MANIFEST_FORMAT = 'glo-run';
export const MANIFEST_VERSION = 1;

const fileEntry = z.strictObject({
  path: z.string().min(1).describe('Path relative to the run folder.'),
  bytes: z.number().int().nonnegative().describe('Size in bytes, to detect truncated copies.'),
});

/** The run's final figures: the manifest's metrics.final and metrics.json's final. */
export const finalMetricsSchema = z.strictObject({
  loss: z.number().describe('Training loss of the last epoch (mean over its steps).'),
  reconstructionMse: z.number().describe('Mean per-image MSE of g(z_i) vs x_i over all training images, pixels in [0, 1].'),
  reconstructionPsnr: z.number().describe('Mean per-image PSNR (dB) of the same.'),
  pcaReconstructionMse: z.number().describe('The same for PCA with latentDim components (the paper\'s baseline).'),
  pcaReconstructionPsnr: z.number().describe('The same for PCA, in dB.'),
  imagesPerSecond: z.number().describe('Training throughput over the whole run.'),
  wallSeconds: z.number().describe('Wall time of the training loop.'),
});

/** A config after resolveConfig: every field, with the loss weights and learning rates filled in. */
export const resolvedConfigSchema = gloConfigSchema.extend({
  // Runs from before the field existed weighed the levels by 4^-j on their means, which is "sums".
  lapNormalization: z.enum(['sums', 'means']).default('sums'),
  // ... and published their codes as trained.
  codeRefinementSteps: z.number().int().min(0).default(0),
  lapWeights: z.array(z.number()),
  lrGenerator: z.number(),
  lrLatent: z.number(),
});

export const runManifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  formatVersion: z.literal(MANIFEST_VERSION),
  runId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/).describe('Unique id; also the run folder name under runs/.'),
  createdAt: z.iso.datetime().describe('When the run was published (UTC).'),
  codeVersion: z.string().describe('glo package version (and git commit when known) that trained it.'),
  dataset: z.strictObject({
    source: z.string().describe('Where the images came from: emoji, mnist, a folder or s3:// URI.'),
    imageCount: z.number().int().positive().describe('Images trained on; latent row i is image i.'),
    skippedCount: z.number().int().nonnegative().describe('Files that could not be used (see skipped).'),
    skipped: z.array(z.strictObject({ name: z.string(), reason: z.string() })).describe('The first skipped files with reasons (capped at 1000).'),
    imageSize: z.number().int().positive(),
    channels: z.union([z.literal(1), z.literal(3)]),
    labels: z.strictObject({
      classes: z.array(z.string()).min(1).describe('Class names; labels.json holds each image\'s class index.'),
      file: z.string(),
    }).optional(),
  }),
  config: resolvedConfigSchema.describe('The fully resolved training configuration.'),
  latents: z.strictObject({
    file: z.string(),
    dim: z.number().int().positive(),
    count: z.number().int().positive(),
    projection: z.enum(['ball', 'sphere']),
    dtype: z.literal('float32'),
    byteOrder: z.literal('little'),
  }),
  model: z.strictObject({ file: z.string().describe('tfjs LayersModel JSON; weights beside it.') }),
  atlas: z.strictObject({
    file: z.string(),
    tileSize: z.number().int().positive(),
    columns: z.number().int().positive(),
    count: z.number().int().positive().describe('Tiles: training images 0..count-1 in row-major order.'),
  }),
  prior: z.strictObject({ file: z.string() }),
  holdout: z.strictObject({
    fraction: z.number().describe('The --holdout fraction the trainer was given.'),
    count: z.number().int().positive().describe('Images set aside before PCA and training: never trained on.'),
    file: z.string().describe('holdout.json: their names, positions in the loaded dataset and class indices.'),
    atlas: z.string().describe('The held-out images as a sprite sheet (same tiling as atlas), for `glo eval`.'),
    columns: z.number().int().positive(),
    tileSize: z.number().int().positive(),
  }).optional().describe('Held-out images (runs trained with --holdout > 0).'),
  sampler: z.strictObject({
    kind: z.literal('imle').describe('A GLANN-style IMLE network mapping noise to codes (training/glo/imle.ts).'),
    file: z.string().describe('tfjs LayersModel JSON (weights beside it): noise [n, noiseDim] -> codes [n, latentDim].'),
    noiseDim: z.number().int().positive().describe('Draw noise from N(0, I) of this size.'),
    projection: z.enum(['ball', 'sphere']).describe('Project the network\'s outputs into the latent set before generating.'),
    matchingLoss: z.number().describe('Mean squared distance of each code to its nearest generated candidate after training.'),
    scale: z.number().optional().describe('Mean norm of fresh samples over the codes\' mean norm after training (1 = the right scale; absent before 2026-12-01).'),
  }).optional().describe('A learned sampler beside the Gaussian prior (--sampler imle or `glo fit-sampler`).'),
  metrics: z.strictObject({ file: z.string(), final: finalMetricsSchema }),
  codeRefinement: z.strictObject({
    steps: z.number().int().positive(),
    learningRate: z.number().positive(),
    psnrBefore: z.number().describe('Reconstruction PSNR over all training images with the codes as training left them.'),
    psnrAfter: z.number().describe('The same after the pass (= metrics.final.reconstructionPsnr).'),
    wallSeconds: z.number(),
  }).optional().describe('The final code pass (config codeRefinementSteps > 0): each code refitted to the finished generator, run\'s loss, before publishing.'),
  previews: z.array(z.string()),
  files: z.array(fileEntry).describe('Every file of the run except manifest.json, with sizes.'),
  backend: z.strictObject({
    name: z.string(),
    package: z.string(),
    device: z.string(),
    gpu: z.boolean(),
  }),
  training: z.strictObject({
    epochs: z.number().int().nonnegative(),
    steps: z.number().int().nonnegative(),
    resumedFrom: z.number().int().nonnegative().optional().describe('Step the run resumed from, when it was interrupted.'),
  }),
});

export type RunManifest = z.infer<typeof runManifestSchema>;

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/** Parses a manifest with messages a user can act on (newer format versions are named as such). */
export function parseManifest(json: unknown, where = 'manifest.json'): RunManifest {
  if (typeof json !== 'object' || json === null) throw new ManifestError(`${where} is not a JSON object.`);
  const header = json as { format?: unknown; formatVersion?: unknown };
  if (header.format !== MANIFEST_FORMAT) {
    throw new ManifestError(`${where} is not a glo run manifest (format is ${JSON.stringify(header.format)}, expected "${MANIFEST_FORMAT}").`);
  }
  if (typeof header.formatVersion === 'number' && header.formatVersion > MANIFEST_VERSION) {
    throw new ManifestError(
      `${where} has format version ${header.formatVersion}; this build reads version ${MANIFEST_VERSION}. Update glo to open this run.`,
    );
  }
  const result = runManifestSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ManifestError(`${where} is malformed:\n  ${issues.join('\n  ')}`);
  }
  return result.data;
}
