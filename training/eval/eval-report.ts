import { z } from 'zod';

/**
 * eval.json: what `glo eval` measured on a run (docs/quality.md explains how to read it). Written into
 * the run folder beside manifest.json; imports only zod, so the site may read it too. Pixels are in
 * [0, 1] for MSE, PSNR is 10 log10(1 / MSE) per image then averaged, SWD is x1e3 (ProGAN's scale).
 */
export const EVAL_FORMAT = 'glo-eval';
export const EVAL_VERSION = 1;

const imageMetrics = z.strictObject({
  mse: z.number().describe('Mean per-image MSE, pixels in [0, 1].'),
  psnr: z.number().describe('Mean per-image PSNR in dB (each capped at 100).'),
  images: z.number().int().nonnegative().describe('Images it was measured on.'),
});

const swdResult = z.strictObject({
  levels: z.array(z.number()).describe('SWD x1e3 per pyramid level, finest first (resolutions in swd.resolutions).'),
  mean: z.number().describe('SWD x1e3 averaged over levels: the headline figure.'),
});

export const samplerNames = ['normal', 'gaussian', 'imle'] as const;
export const samplerName = z.enum(samplerNames)
  .describe('normal: N(0, I) codes projected into the latent set; gaussian: the run\'s prior.json; imle: the run\'s IMLE sampler.');

const memorization = z.strictObject({
  sampler: samplerName,
  samples: z.number().int().positive(),
  median: z.number().describe('Median over samples of the RMS pixel distance ([0, 1] units) to the nearest training image.'),
  p5: z.number().describe('5th percentile of the same.'),
  min: z.number().describe('The closest any sample came to a training image.'),
  ratio: z.number().describe('median / the training images\' own median nearest-neighbour distance: well below 1 suggests copies.'),
  belowTrainP5: z.number().describe('Fraction of samples nearer to a training image than 95% of training images are to their nearest other one.'),
});

export const evalReportSchema = z.strictObject({
  format: z.literal(EVAL_FORMAT),
  formatVersion: z.literal(EVAL_VERSION),
  runId: z.string(),
  createdAt: z.iso.datetime(),
  codeVersion: z.string(),
  backend: z.string().describe('The tfjs backend eval ran on (numbers are deterministic per seed and backend).'),
  wallSeconds: z.number(),
  options: z.strictObject({
    seed: z.number().int(),
    samples: z.number().int().positive().describe('Generated images per sampler (memorization uses all, SWD the first swd.imagesPerSet).'),
    swdImages: z.number().int().positive(),
    patchesPerImage: z.number().int().positive(),
    patchSize: z.number().int().positive(),
    directions: z.number().int().positive(),
    repeats: z.number().int().positive(),
    minResolution: z.number().int().positive(),
    fitSteps: z.number().int().nonnegative().describe('Adam steps of the frozen-generator code fit (held-out and train refit).'),
    fitLearningRate: z.number().positive(),
    fitStarts: z.number().int().nonnegative().describe('Prior samples tried per image before the fit (multi-start), beside the prior mean.'),
    classifierEpochs: z.number().int().positive().optional().describe('Epochs of the Fréchet distance\'s feature classifier (absent in reports from before it).'),
  }),
  images: z.strictObject({
    train: z.number().int().nonnegative().describe('Training images eval used (the atlas: all of them unless atlasMaxImages capped it).'),
    trainTotal: z.number().int().positive().describe('Images the run trained on.'),
    holdout: z.number().int().nonnegative().describe('Held-out images (0 when the run has none).'),
  }),
  reconstruction: z.strictObject({
    latentDim: z.number().int().positive(),
    train: z.strictObject({
      glo: imageMetrics.describe('g(z_i) with the learned codes (inference-mode BatchNorm).'),
      pca: imageMetrics.describe('PCA with latentDim components fitted on the same images (randomized SVD, as the trainer).'),
    }),
    holdout: z.strictObject({
      glo: imageMetrics.describe('Codes fitted to the held-out images with the generator frozen.'),
      pca: imageMetrics.describe('The training images\' PCA applied to the held-out images.'),
      trainRefit: imageMetrics.describe('The same code fit, from scratch, on as many training images: separates the fit budget from generalization.'),
      gapDb: z.number().describe('train.glo.psnr - holdout.glo.psnr.'),
      refitGapDb: z.number().describe('trainRefit.psnr - holdout.glo.psnr: the generalization gap at equal fitting effort.'),
    }).optional(),
  }),
  swd: z.strictObject({
    resolutions: z.array(z.number().int()),
    imagesPerSet: z.number().int().positive().describe('Images in each compared set (real sets are disjoint halves of the training images).'),
    floor: swdResult.describe('Real vs real: one half of the training images against the other. Samples cannot be expected to do better.'),
    samplers: z.array(swdResult.extend({ sampler: samplerName })).describe('Generated vs the first real half.'),
    classes: z.array(z.strictObject({
      name: z.string(),
      imagesPerSet: z.number().int().positive(),
      floor: swdResult,
      gaussian: swdResult.describe('Samples of that class\'s Gaussian (prior.json classes) vs half of its images.'),
    })).optional().describe('Per class, for labelled runs (classes with at least 16 training images: 8 per set).'),
  }),
  frechet: z.strictObject({
    featureDim: z.number().int().positive().describe('Size of the feature vector (the classifier\'s last hidden layer).'),
    classifier: z.strictObject({
      classes: z.number().int().min(2),
      epochs: z.number().int().positive(),
      trainImages: z.number().int().positive(),
      validationImages: z.number().int().positive().describe('Training images of the run kept out of the classifier\'s training.'),
      accuracy: z.number().describe('Top-1 accuracy on those images.'),
      validationConfidence: z.number().describe('Mean top-class probability on those images: real images\' confidence.'),
    }),
    imagesPerSet: z.number().int().positive().describe('Images in each compared set (the same real halves as SWD).'),
    floor: z.number().describe('Real vs real: the second half of the training images against the first.'),
    holdoutFloor: z.strictObject({ images: z.number().int().positive(), distance: z.number() }).optional()
      .describe('Held-out images (never trained on) against as many images of the first half.'),
    samplers: z.array(z.strictObject({
      sampler: samplerName,
      distance: z.number().describe('Samples vs the first real half.'),
      confidence: z.number().describe('Mean top-class probability on all samples: well below validationConfidence means the classifier sees no class in them.'),
    })),
  }).optional().describe('Fréchet distance in the feature space of a classifier trained on the run\'s labelled images (labelled runs only).'),
  memorization: z.strictObject({
    trainNearestTrain: z.strictObject({
      median: z.number().describe('Median RMS distance of each training image to its nearest OTHER training image.'),
      p5: z.number(),
    }),
    samplers: z.array(memorization),
  }),
});

export type EvalReport = z.infer<typeof evalReportSchema>;

export type SamplerName = (typeof samplerNames)[number];

/**
 * Each sampler's headline sample-quality figure (lower is better): the Fréchet distance when eval measured one
 * (it says whether samples look like the data's classes), else the mean SWD.
 */
export function samplerFigures(report: EvalReport): { sampler: SamplerName; figure: 'frechet' | 'swd'; value: number }[] {
  return report.frechet
    ? report.frechet.samplers.map((s) => ({ sampler: s.sampler, figure: 'frechet' as const, value: s.distance }))
    : report.swd.samplers.map((s) => ({ sampler: s.sampler, figure: 'swd' as const, value: s.mean }));
}

/**
 * The sampler with the best figure among `available`: what the site's Sample view starts with; undefined when
 * the report measured none of them.
 */
export function bestSampler(report: EvalReport, available: readonly SamplerName[]): { sampler: SamplerName; figure: 'frechet' | 'swd'; value: number } | undefined {
  return samplerFigures(report).filter((m) => available.includes(m.sampler)).sort((a, b) => a.value - b.value)[0];
}
