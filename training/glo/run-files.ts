import { z } from 'zod';
import { finalMetricsSchema, resolvedConfigSchema, type RunManifest } from './manifest.ts';

/**
 * The JSON files of a run beside manifest.json (prior.json, labels.json, holdout.json), as zod schemas
 * sized by the manifest: the trainer writes them through these types and every reader (glo eval,
 * glo fit-sampler, the site) parses them here before using a number. zod's numbers are finite, so a
 * hand-edited 1e999 (Infinity) or NaN is refused; lengths must match the manifest's dimensions.
 */

/** A run file that is missing pieces, has the wrong sizes or non-finite numbers. The message names the file. */
export class RunFileError extends Error {
  override name = 'RunFileError';
}

/** The Gaussian fitted to codes (gaussian.ts): mean and lower-triangular Cholesky factor, row-major. */
export function gaussianPriorSchema(dim: number) {
  return z.strictObject({
    mean: z.array(z.number()).length(dim),
    choleskyFactor: z.array(z.number()).length(dim * dim),
    dim: z.literal(dim),
    count: z.number().int().positive(),
    jitter: z.number().nonnegative(),
  });
}

/** prior.json: the Gaussian of all codes and, for labelled data, one per class with at least two images. */
export function priorFileSchema(dim: number) {
  return z.strictObject({
    global: gaussianPriorSchema(dim),
    classes: z.record(z.string(), gaussianPriorSchema(dim)).optional(),
  });
}
export type PriorFile = z.infer<ReturnType<typeof priorFileSchema>>;

/** labels.json: the class names (as in the manifest) and each training image's class index. */
export function labelsFileSchema(classes: readonly string[], imageCount: number) {
  return z.strictObject({
    classes: z.array(z.string()).refine((c) => c.length === classes.length && c.every((name, i) => name === classes[i]), {
      message: `must be the manifest's classes (${classes.length})`,
    }),
    index: z.array(z.number().int().min(0).max(classes.length - 1)).length(imageCount),
  });
}
export type LabelsFile = z.infer<ReturnType<typeof labelsFileSchema>>;

/** holdout.json: which images were held out (names as the dataset names them), where they were, their classes. */
export function holdoutFileSchema(count: number, classCount: number | undefined) {
  return z.strictObject({
    names: z.array(z.string()).length(count),
    sourceIndices: z.array(z.number().int().nonnegative()).length(count),
    // Unlabelled runs: the bound -1 admits no class index, so a labels array is refused.
    labels: z.array(z.number().int().min(0).max((classCount ?? 0) - 1)).length(count).optional(),
  });
}
export type HoldoutFile = z.infer<ReturnType<typeof holdoutFileSchema>>;

/** Figures of one finished epoch: the checkpoint's history and metrics.json's epochs. */
export const epochMetricsSchema = z.strictObject({
  epoch: z.number().int().positive(),
  loss: z.number(),
  evalMse: z.number(),
  evalPsnr: z.number(),
  imagesPerSecond: z.number(),
  wallSeconds: z.number(),
});
export type EpochMetrics = z.infer<typeof epochMetricsSchema>;

/** metrics.json: every epoch's figures, the final ones (also in the manifest) and the PCA baseline's size. */
export const metricsFileSchema = z.strictObject({
  epochs: z.array(epochMetricsSchema),
  final: finalMetricsSchema,
  pca: z.strictObject({ components: z.number().int().positive() }),
});
export type MetricsFile = z.infer<typeof metricsFileSchema>;

/** checkpoint/latest.json: which checkpoint/<step>/ is complete, and the latent table's row count. */
export const checkpointLatestSchema = z.strictObject({
  dir: z.string().regex(/^checkpoint\/\d+$/),
  step: z.number().int().nonnegative(),
  count: z.number().int().positive(),
});

/**
 * checkpoint/<step>/state.json: the training state beside the binary files of that folder (generator,
 * optimizer, latents, permutation, lazy-Adam moments). Written by training/trainer/checkpoint.ts.
 */
export const checkpointStateSchema = z.strictObject({
  checkpointVersion: z.literal(1),
  config: resolvedConfigSchema,
  epoch: z.number().int().nonnegative(),
  stepInEpoch: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
  randomState: z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()]),
  history: z.array(epochMetricsSchema),
  epochLossSum: z.number(),
  epochSeconds: z.number().nonnegative(),
  elapsedSeconds: z.number().nonnegative(),
  dataset: z.strictObject({ source: z.string(), count: z.number().int().positive(), namesDigest: z.string() }),
  latentOptimizerKind: z.enum(['sgd', 'adam']),
  optimizerSpecs: z.array(z.strictObject({
    name: z.string(),
    shape: z.array(z.number().int().nonnegative()),
    dtype: z.enum(['float32', 'int32', 'bool', 'complex64', 'string']),
  })),
});
export type CheckpointState = z.infer<typeof checkpointStateSchema>;

/** Parses one run file's JSON value, throwing a RunFileError that names `where` and the first problems. */
export function parseRunFile<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 3).map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  throw new RunFileError(`${where} is not a valid run file: ${problems.join('; ')}.`);
}

/** The schemas of a run's JSON files, sized by its manifest. */
export function runFileSchemas(manifest: RunManifest) {
  const { dim, count } = manifest.latents;
  const classes = manifest.dataset.labels?.classes;
  return {
    prior: priorFileSchema(dim),
    labels: classes ? labelsFileSchema(classes, count) : undefined,
    holdout: manifest.holdout ? holdoutFileSchema(manifest.holdout.count, classes?.length) : undefined,
  };
}

/**
 * Every file the manifest lists is present with the listed size: a run whose weights went missing or were
 * truncated by a copy is refused before anything reads it (or rewrites its manifest). `sizes` maps path to
 * bytes, from a listing of the run folder.
 */
export function checkListedFiles(manifest: RunManifest, sizes: ReadonlyMap<string, number>, where: string): void {
  const problems = manifest.files.flatMap((f) => {
    const size = sizes.get(f.path);
    if (size === undefined) return [`${f.path} is missing`];
    return size === f.bytes ? [] : [`${f.path} has ${size} bytes, the manifest lists ${f.bytes}`];
  });
  if (problems.length) {
    throw new RunFileError(`${where} is incomplete: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}. Publish or copy the run again.`);
  }
}
