import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Dataset } from '../data/dataset.ts';
import { batchTargetValues, reconstruct } from '../trainer/evaluate.ts';
import { sampleGaussian } from '../glo/gaussian.ts';
import { sampleImle } from '../glo/imle.ts';
import { identityOperator, inversionBatchSize, invert } from '../glo/inversion.ts';
import { project } from '../glo/latent.ts';
import { meanImageMetrics } from '../glo/metrics.ts';
import { fitPca, pcaDecode, pcaEncode } from '../glo/pca.ts';
import { Random } from '../glo/random.ts';
import { swdAgainst, swdDescriptors, type SwdOptions } from './swd.ts';
import type { Reporter } from '../trainer/progress.ts';
import { codeVersion } from '../trainer/run-writer.ts';
import { EVAL_FORMAT, EVAL_VERSION, evalReportSchema, type EvalReport, type SamplerName } from './eval-report.ts';
import type { LoadedRun } from './load-run.ts';
import { nearestDistances, quantile } from './memorization.ts';
import { loadImleSampler } from '../trainer/imle-sampler.ts';
import { valuesPerImage } from '../glo/pixels.ts';
import { featureStatistics, frechetDistance } from '../glo/frechet.ts';
import { classifierFeatures, defaultClassifierOptions, FEATURE_DIM, trainFeatureClassifier } from './feature-classifier.ts';

export interface EvalOptions {
  /** Seeds every draw: sample codes, real halves, SWD patches and directions, fit starts. */
  seed: number;
  /** Generated images per sampler. */
  samples: number;
  /** At most this many images per SWD set (also capped by half the training images and by samples). */
  swdImages: number;
  patchesPerImage: number;
  patchSize: number;
  directions: number;
  repeats: number;
  minResolution: number;
  /** Adam steps of the frozen-generator code fit for held-out images. */
  fitSteps: number;
  fitLearningRate: number;
  /** Prior samples tried per image before fitting (plus the prior mean). */
  fitStarts: number;
  /** Epochs of the feature classifier behind the Fréchet distance (labelled runs only). */
  classifierEpochs: number;
}

export const defaultEvalOptions: EvalOptions = {
  seed: 1,
  samples: 1024,
  swdImages: 1024,
  patchesPerImage: 128,
  patchSize: 7,
  directions: 128,
  repeats: 4,
  minResolution: 16,
  // 60 steps at 0.1 come within 0.06 dB of 80 steps' PSNR and move the refit gap by 0.01 dB
  // (docs/quality.md, "The fit budget"), in three quarters of the time.
  fitSteps: 60,
  fitLearningRate: 0.1,
  fitStarts: 8,
  classifierEpochs: defaultClassifierOptions.epochs,
};

type Info = Pick<Reporter, 'info'>;

function generate(generator: tfl.LayersModel, codes: Float32Array, dim: number): Promise<Float32Array> {
  const n = codes.length / dim;
  return reconstruct(generator, codes, dim, Int32Array.from({ length: n }, (_, i) => i), 'inference');
}

function rowsOf(dataset: Dataset, rows: ArrayLike<number>): Float32Array {
  return batchTargetValues(dataset, rows);
}

/**
 * Codes for images the generator never saw, with the generator frozen (training/glo/inversion.ts):
 * squared error (the quantity PSNR measures; Lap1's pyramid makes each step ~7x slower on wasm), no
 * prior term (training had none), best of the prior mean and `fitStarts` prior samples as the start,
 * then Adam steps projected into the latent set.
 */
async function fitCodes(run: LoadedRun, images: Float32Array, count: number, options: EvalOptions): Promise<Float32Array> {
  const { config } = run.manifest;
  const { imageSize: size, channels } = run.manifest.dataset;
  const ppi = valuesPerImage(run.manifest.dataset);
  const restored = new Float32Array(count * ppi);
  const chunk = inversionBatchSize(size);
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const target = tf.tensor4d(images.subarray(start * ppi, (start + n) * ppi), [n, size, size, channels]);
    try {
      const result = await invert({
        generator: run.generator,
        target,
        operator: identityOperator(),
        latentDim: config.latentDim,
        steps: options.fitSteps,
        learningRate: options.fitLearningRate,
        priorWeight: 0,
        prior: run.prior.global,
        loss: 'l2',
        init: { multiStart: options.fitStarts },
        projection: config.latentProjection,
        seed: options.seed + start,
        yieldEvery: options.fitSteps + 1,
      });
      restored.set(result.restored, start * ppi);
    } finally {
      target.dispose();
    }
  }
  return restored;
}

/**
 * Fréchet distances in the feature space of a classifier trained on the run's labelled training images
 * (training/eval/feature-classifier.ts): each sampler's first n samples and the second real half against
 * the first real half (sets of equal size, as for SWD: the distance's bias depends on the set size), and,
 * when the run has held-out images, those against as many images of the first half.
 */
async function frechetOfSamplers(
  run: LoadedRun,
  samplers: { sampler: SamplerName; images: Float32Array }[],
  realHalfA: Float32Array,
  realHalfB: Float32Array,
  n: number,
  options: EvalOptions,
  reporter?: Info,
): Promise<EvalReport['frechet']> {
  const ppi = valuesPerImage(run.manifest.dataset);
  reporter?.info(`Fréchet distance: training a classifier on ${run.train.count} labelled training images (${options.classifierEpochs} epochs)`);
  const classifier = await trainFeatureClassifier(run.train, { seed: options.seed, epochs: options.classifierEpochs });
  try {
    const statisticsOf = (images: Float32Array, count: number) => featureStatistics(classifierFeatures(classifier, images, count).features, FEATURE_DIM);
    const referenceFeatures = classifierFeatures(classifier, realHalfA, n).features;
    const reference = featureStatistics(referenceFeatures, FEATURE_DIM);
    let holdoutFloor: NonNullable<EvalReport['frechet']>['holdoutFloor'];
    if (run.holdout && run.holdout.count >= 2) {
      const m = Math.min(run.holdout.count, n);
      const held = statisticsOf(rowsOf(run.holdout, Int32Array.from({ length: m }, (_, i) => i)), m);
      const sameSize = m === n ? reference : featureStatistics(referenceFeatures.subarray(0, m * FEATURE_DIM), FEATURE_DIM);
      holdoutFloor = { images: m, distance: frechetDistance(held, sameSize) };
    }
    return {
      featureDim: FEATURE_DIM,
      classifier: {
        classes: classifier.classes.length,
        epochs: options.classifierEpochs,
        trainImages: classifier.trainImages,
        validationImages: classifier.validationImages,
        accuracy: classifier.accuracy,
        validationConfidence: classifier.validationConfidence,
      },
      imagesPerSet: n,
      floor: frechetDistance(statisticsOf(realHalfB, n), reference),
      holdoutFloor,
      samplers: samplers.map(({ sampler, images }) => {
        const count = images.length / ppi;
        const { features, confidence } = classifierFeatures(classifier, images, count);
        return {
          sampler,
          distance: frechetDistance(featureStatistics(features.subarray(0, n * FEATURE_DIM), FEATURE_DIM), reference),
          confidence: confidence.reduce((s, v) => s + v, 0) / count,
        };
      }),
    };
  } finally {
    classifier.model.dispose();
  }
}

const withCount = (m: { mse: number; psnr: number }, images: number) => ({ mse: m.mse, psnr: m.psnr, images });

/** Everything eval.json holds, computed from a loaded run. Deterministic for options.seed on a backend. */
export async function evaluateRun(
  run: LoadedRun,
  partial: Partial<EvalOptions>,
  backend: string,
  reporter?: Info,
  /** Receives each sampler's samples (values in [-1, 1]), e.g. to save a grid of them. */
  onSamples?: (sampler: SamplerName, images: Float32Array) => Promise<void>,
): Promise<EvalReport> {
  const options = { ...defaultEvalOptions, ...partial };
  const started = performance.now();
  const { manifest, generator, latents, train } = run;
  const { config } = manifest;
  const dim = manifest.latents.dim;
  const projection = manifest.latents.projection;
  const size = manifest.dataset.imageSize;
  const channels = manifest.dataset.channels;
  const ppi = valuesPerImage(manifest.dataset);
  if (train.count < 2) throw new Error(`${run.storage.uri}: eval needs at least 2 training images in the atlas, found ${train.count}.`);
  const allRows = Int32Array.from({ length: train.count }, (_, i) => i);
  const trainImages = rowsOf(train, allRows);

  // Reconstruction: GLO's codes against PCA with as many components, on the same images.
  reporter?.info(`reconstruction: ${train.count} training images, GLO and PCA with ${dim} components`);
  const gloTrain = meanImageMetrics(await reconstruct(generator, latents, dim, allRows, 'inference'), trainImages, ppi);
  const pca = await fitPca(train.pixels, train.count, ppi, dim, new Random(config.seed + 1));
  const pcaTrain = meanImageMetrics(pcaDecode(pca, pcaEncode(pca, train.pixels, train.count), train.count), trainImages, ppi);
  const reconstruction: EvalReport['reconstruction'] = {
    latentDim: dim,
    train: { glo: withCount(gloTrain, train.count), pca: withCount(pcaTrain, train.count) },
  };

  if (run.holdout) {
    const h = run.holdout;
    reporter?.info(`held-out: fitting codes to ${h.count} held-out images (generator frozen, ${options.fitSteps} steps)`);
    const heldImages = rowsOf(h, Int32Array.from({ length: h.count }, (_, i) => i));
    const gloHeld = meanImageMetrics(await fitCodes(run, heldImages, h.count, options), heldImages, ppi);
    const pcaHeld = meanImageMetrics(pcaDecode(pca, pcaEncode(pca, h.pixels, h.count), h.count), heldImages, ppi);
    // The same fit on as many training images: a fit budget that falls short shows here too, not as a generalization gap.
    const refitCount = Math.min(h.count, train.count);
    const refitRows = Array.from(new Random(options.seed + 3).permutation(train.count).subarray(0, refitCount)).sort((a, b) => a - b);
    const refitImages = rowsOf(train, refitRows);
    reporter?.info(`held-out: the same fit on ${refitCount} training images`);
    const refit = meanImageMetrics(await fitCodes(run, refitImages, refitCount, options), refitImages, ppi);
    reconstruction.holdout = {
      glo: withCount(gloHeld, h.count),
      pca: withCount(pcaHeld, h.count),
      trainRefit: withCount(refit, refitCount),
      gapDb: gloTrain.psnr - gloHeld.psnr,
      refitGapDb: refit.psnr - gloHeld.psnr,
    };
  }

  // Samples of each sampler the run has.
  const samplers: { sampler: SamplerName; images: Float32Array }[] = [];
  const normal = new Random(options.seed + 21).normalArray(options.samples * dim);
  project(normal, dim, projection);
  samplers.push({ sampler: 'normal', images: await generate(generator, normal, dim) });
  samplers.push({ sampler: 'gaussian', images: await generate(generator, sampleGaussian(run.prior.global, options.samples, new Random(options.seed + 22), { projection }), dim) });
  const imle = await loadImleSampler(run.storage, manifest);
  if (imle) {
    samplers.push({ sampler: 'imle', images: await generate(generator, sampleImle(imle, options.samples, new Random(options.seed + 23), projection), dim) });
    imle.dispose();
  }

  if (onSamples) for (const { sampler, images } of samplers) await onSamples(sampler, images);

  // SWD: every set has n images; the real sets are two disjoint halves of the training images.
  const swdOptions: Partial<SwdOptions> = {
    patchesPerImage: options.patchesPerImage,
    patchSize: options.patchSize,
    directions: options.directions,
    repeats: options.repeats,
    minResolution: options.minResolution,
    seed: options.seed,
  };
  const n = Math.min(options.swdImages, options.samples, Math.floor(train.count / 2));
  reporter?.info(`SWD: ${n} images per set, ${samplers.map((s) => s.sampler).join(', ')} and the real-vs-real floor`);
  const order = new Random(options.seed + 11).permutation(train.count);
  const realHalfA = rowsOf(train, order.subarray(0, n));
  const realHalfB = rowsOf(train, order.subarray(n, 2 * n));
  const describe = (images: Float32Array, count: number) => swdDescriptors(images, count, size, channels, swdOptions);
  const realA = describe(realHalfA, n);
  // Every set against the same real half: its projections are sorted once for all of them.
  const [floor, ...perSampler] = swdAgainst(realA, [
    describe(realHalfB, n),
    ...samplers.map(({ images }) => describe(images.subarray(0, n * ppi), n)),
  ], swdOptions);
  const swd: EvalReport['swd'] = {
    resolutions: realA.resolutions,
    imagesPerSet: n,
    floor: { levels: floor.levels, mean: floor.mean },
    samplers: samplers.map(({ sampler }, k) => ({ sampler, levels: perSampler[k].levels, mean: perSampler[k].mean })),
  };

  if (train.labels && run.prior.classes) {
    const labels = train.labels;
    swd.classes = [];
    for (const [c, name] of labels.classes.entries()) {
      const classPrior = run.prior.classes![name];
      const members = allRows.filter((i) => labels.index[i] === c);
      const nc = Math.min(options.swdImages, Math.floor(members.length / 2));
      // Fewer than 8 images per set measure the sampling noise of a handful of patches more than the class.
      if (!classPrior || nc < 8) continue;
      const shuffled = new Random(options.seed + 31 + c).permutation(members.length).map((k) => members[k]);
      const a = describe(rowsOf(train, shuffled.subarray(0, nc)), nc);
      const b = describe(rowsOf(train, shuffled.subarray(nc, 2 * nc)), nc);
      const samples = await generate(generator, sampleGaussian(classPrior, nc, new Random(options.seed + 41 + c), { projection }), dim);
      const [f, g] = swdAgainst(a, [b, describe(samples, nc)], swdOptions);
      swd.classes!.push({ name, imagesPerSet: nc, floor: { levels: f.levels, mean: f.mean }, gaussian: { levels: g.levels, mean: g.mean } });
    }
  }

  const frechet = train.labels && train.labels.classes.length >= 2
    ? await frechetOfSamplers(run, samplers, realHalfA, realHalfB, n, options, reporter)
    : undefined;

  // Memorization: each sample's nearest training image against the training images' own spacing.
  reporter?.info(`memorization: nearest training image of ${options.samples} samples per sampler`);
  const trainNearest = nearestDistances(trainImages, trainImages, ppi, true);
  const trainMedian = quantile(trainNearest, 0.5);
  const trainP5 = quantile(trainNearest, 0.05);
  const memorization: EvalReport['memorization'] = {
    trainNearestTrain: { median: trainMedian, p5: trainP5 },
    samplers: samplers.map(({ sampler, images }) => {
      const d = nearestDistances(images, trainImages, ppi);
      const median = quantile(d, 0.5);
      return {
        sampler,
        samples: d.length,
        median,
        p5: quantile(d, 0.05),
        min: d.reduce((m, v) => Math.min(m, v), Infinity),
        ratio: median / trainMedian,
        belowTrainP5: d.filter((v) => v < trainP5).length / d.length,
      };
    }),
  };

  return evalReportSchema.parse({
    format: EVAL_FORMAT,
    formatVersion: EVAL_VERSION,
    runId: manifest.runId,
    createdAt: new Date().toISOString(),
    codeVersion: codeVersion(),
    backend,
    wallSeconds: (performance.now() - started) / 1000,
    options,
    images: { train: train.count, trainTotal: manifest.dataset.imageCount, holdout: run.holdout?.count ?? 0 },
    reconstruction,
    swd,
    frechet,
    memorization,
  });
}

const samplerLabel = { normal: 'N(0, I) projected', gaussian: 'Gaussian prior', imle: 'IMLE sampler' } as const;

/** The report as the table `glo eval` prints. */
export function formatEvalTable(report: EvalReport, where: string): string {
  const f = (v: number, d = 2) => v.toFixed(d);
  const lines: string[] = [];
  const r = report.reconstruction;
  lines.push(`glo eval ${where}: run ${report.runId}, backend ${report.backend}, seed ${report.options.seed}, ${f(report.wallSeconds, 1)} s`);
  lines.push('');
  lines.push(`reconstruction (d = ${r.latentDim})              images      MSE     PSNR`);
  const row = (name: string, m: { mse: number; psnr: number; images: number }) =>
    lines.push(`  ${name.padEnd(40)} ${String(m.images).padStart(6)}  ${m.mse.toFixed(5)}  ${f(m.psnr).padStart(6)} dB`);
  row('train, GLO codes', r.train.glo);
  row(`train, PCA (${r.latentDim} components)`, r.train.pca);
  if (r.holdout) {
    row(`held-out, GLO (codes fitted, ${report.options.fitSteps} steps)`, r.holdout.glo);
    row('held-out, PCA of the training images', r.holdout.pca);
    row('train, codes refitted the same way', r.holdout.trainRefit);
    lines.push(`  gap train - held-out: ${f(r.holdout.gapDb)} dB; at equal fitting effort: ${f(r.holdout.refitGapDb)} dB`);
  } else {
    lines.push('  (no held-out images: train with --holdout 0.1 to measure generalization)');
  }
  lines.push('');
  const s = report.swd;
  const levels = s.resolutions.map((px) => `${px}px`.padStart(8)).join('');
  lines.push(`SWD x1e3, ${s.imagesPerSet} images per set (lower is better)${' '.repeat(Math.max(0, 2))}${levels}    mean`);
  const swdRow = (name: string, v: { levels: number[]; mean: number }) =>
    lines.push(`  ${name.padEnd(40)}${v.levels.map((x) => f(x).padStart(8)).join('')}${f(v.mean).padStart(8)}`);
  swdRow('real vs real (floor)', s.floor);
  for (const x of s.samplers) swdRow(samplerLabel[x.sampler], x);
  if (s.classes?.length) {
    lines.push('  per class (Gaussian of the class vs its images; floor in brackets):');
    for (const c of s.classes) lines.push(`    ${c.name.slice(0, 36).padEnd(36)} ${String(c.imagesPerSet).padStart(5)} img  ${f(c.gaussian.mean).padStart(8)}  (${f(c.floor.mean)})`);
  }
  const fd = report.frechet;
  if (fd) {
    lines.push('');
    const c = fd.classifier;
    lines.push(`Fréchet distance in the features of a classifier trained on the run's labels, ${fd.imagesPerSet} images per set (lower is better)`);
    lines.push(`  classifier: ${c.classes} classes, ${c.trainImages} training images, ${c.epochs} epochs; accuracy ${(100 * c.accuracy).toFixed(1)}% on ${c.validationImages} images it never saw (confidence ${f(c.validationConfidence, 3)})`);
    lines.push(`  ${''.padEnd(40)}  distance  confidence`);
    lines.push(`  ${'real vs real (floor)'.padEnd(40)}${f(fd.floor, 3).padStart(10)}`);
    if (fd.holdoutFloor) lines.push(`  ${`held-out vs training (${fd.holdoutFloor.images} images)`.padEnd(40)}${f(fd.holdoutFloor.distance, 3).padStart(10)}`);
    for (const x of fd.samplers) lines.push(`  ${samplerLabel[x.sampler].padEnd(40)}${f(x.distance, 3).padStart(10)}${f(x.confidence, 3).padStart(12)}`);
  }
  lines.push('');
  const m = report.memorization;
  lines.push(`memorization: RMS pixel distance to the nearest training image (training images to each other: median ${f(m.trainNearestTrain.median, 4)}, p5 ${f(m.trainNearestTrain.p5, 4)})`);
  lines.push(`  ${'sampler'.padEnd(24)}   median       p5      min   ratio   below train p5`);
  for (const x of m.samplers) {
    lines.push(`  ${samplerLabel[x.sampler].padEnd(24)} ${f(x.median, 4).padStart(8)} ${f(x.p5, 4).padStart(8)} ${f(x.min, 4).padStart(8)} ${f(x.ratio).padStart(7)} ${(100 * x.belowTrainP5).toFixed(1).padStart(15)}%`);
  }
  return lines.join('\n') + '\n';
}
