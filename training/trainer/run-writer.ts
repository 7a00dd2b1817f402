import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { readFileSync } from 'node:fs';
import type { BackendInfo } from '../backend/backend.ts';
import type { TrainingState } from './checkpoint.ts';
import type { Dataset } from '../data/dataset.ts';
import { holdoutFile, type HoldoutSet } from '../data/holdout.ts';
import { fitImleSampler, saveImleSampler } from './imle-sampler.ts';
import { refineCodes } from './code-refinement.ts';
import { batchTargetValues, evaluateReconstructions } from './evaluate.ts';
import { fitGaussian, sampleGaussian, type GaussianPrior } from '../glo/gaussian.ts';
import { recalibrateBatchNorm } from '../glo/generator.ts';
import { uninterrupted, type InterruptCheck } from '../glo/interrupt.ts';
import { encodeLatents } from '../glo/latent-codec.ts';
import { gatherRows, latentRow, interpolate } from '../glo/latent.ts';
import { MANIFEST_FORMAT, MANIFEST_VERSION, runManifestSchema, type RunManifest } from '../glo/manifest.ts';
import { metricsFileSchema, type LabelsFile, type PriorFile } from '../glo/run-files.ts';
import { meanImageMetrics } from '../glo/metrics.ts';
import { pcaDecode, pcaEncode, type PcaModel } from '../glo/pca.ts';
import { Random } from '../glo/random.ts';
import { saveModel } from './model-io.ts';
import { gridPng, toUint8 } from './previews.ts';
import type { Reporter } from './progress.ts';
import type { Storage } from '../storage/storage.ts';
import { valuesPerImage } from '../glo/pixels.ts';

export interface PublishInput {
  storage: Storage;
  runId?: string;
  generator: tfl.LayersModel;
  state: TrainingState;
  dataset: Dataset;
  pca: PcaModel;
  batchSize: number;
  backend: BackendInfo;
  resumedFrom?: number;
  reporter: Reporter;
  /** Images set aside before training (--holdout): written as holdout.png + holdout.json for `glo eval`. */
  holdout?: HoldoutSet;
  /**
   * Awaited between the parts of publishing and inside the long ones (recalibration, reconstructions,
   * the IMLE fit): it throws to stop on an interrupt. manifest.json is written last, so a stopped publish
   * leaves an unfinished run that resuming from the last checkpoint publishes again.
   */
  interrupt?: InterruptCheck;
}

export function codeVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Finishes a trained model and publishes the run (docs/architecture.md section 3): recalibrates BatchNorm,
 * measures reconstructions of every image against PCA with as many components, fits the prior, renders
 * previews and the atlas, then writes every file and manifest.json LAST, so a reader that sees the
 * manifest sees a complete run.
 */
export async function publishRun(input: PublishInput): Promise<RunManifest> {
  const { storage, generator, state, dataset, pca, batchSize, interrupt = uninterrupted } = input;
  const config = state.config;
  const dim = config.latentDim;
  const count = dataset.count;
  const ppi = valuesPerImage(dataset);
  const allRows = Int32Array.from({ length: count }, (_, i) => i);

  await recalibrateBatchNorm(generator, codeBatches(state.latents, dim, count, batchSize), interrupt);
  // The final code pass (code-refinement.ts): everything below (latents.bin, prior, sampler, previews) uses
  // the refined codes; the checkpoint keeps the learned ones, so a resumed publish refines them again.
  const refinement = config.codeRefinementSteps > 0 ? await refineCodes(generator, state.latents, dataset, config, interrupt, input.reporter) : undefined;
  const latents = refinement?.latents ?? state.latents;
  const glo = await evaluateReconstructions(generator, latents, dataset, allRows, 'inference', interrupt);
  if (refinement) input.reporter.info(`code refinement: ${refinement.psnrBefore.toFixed(2)} -> ${glo.psnr.toFixed(2)} dB in ${refinement.wallSeconds.toFixed(1)} s`);
  await interrupt();
  const pcaRecon = pcaDecode(pca, pcaEncode(pca, dataset.pixels, count), count);
  const pcaMetrics = meanImageMetrics(pcaRecon, batchTargetValues(dataset, allRows), ppi);

  const prior: PriorFile = { global: fitGaussian(latents, dim) };
  if (dataset.labels) {
    prior.classes = {};
    dataset.labels.classes.forEach((name, c) => {
      const members = allRows.filter((i) => dataset.labels!.index[i] === c);
      if (members.length >= 2) prior.classes![name] = fitGaussian(latents, dim, members);
    });
  }

  const files: { path: string; bytes: number }[] = [];
  const write = async (path: string, data: Uint8Array | string) => {
    await interrupt();
    await storage.write(path, data);
    files.push({ path, bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength });
  };

  await interrupt();
  files.push(...(await saveModel(generator, storage, 'model')));
  await write('latents.bin', encodeLatents(latents));
  const atlasCount = Math.min(count, config.atlasMaxImages);
  const atlas = await gridPng({ pixels: dataset.pixels.subarray(0, atlasCount * ppi), count: atlasCount, size: dataset.imageSize, channels: dataset.channels }, Math.ceil(Math.sqrt(atlasCount)));
  await write('atlas.png', atlas.png);
  await write('prior.json', JSON.stringify(prior));
  if (dataset.labels) {
    const labels: LabelsFile = { classes: dataset.labels.classes, index: Array.from(dataset.labels.index) };
    await write('labels.json', JSON.stringify(labels));
  }

  let holdout: RunManifest['holdout'];
  if (input.holdout) {
    const h = input.holdout.dataset;
    const sheet = await gridPng({ pixels: h.pixels, count: h.count, size: h.imageSize, channels: h.channels }, Math.ceil(Math.sqrt(h.count)));
    await write('holdout.png', sheet.png);
    await write('holdout.json', JSON.stringify(holdoutFile(input.holdout)));
    holdout = { fraction: input.holdout.fraction, count: h.count, file: 'holdout.json', atlas: 'holdout.png', columns: sheet.columns, tileSize: h.imageSize };
  }

  let sampler: RunManifest['sampler'];
  if (config.sampler === 'imle') {
    const fitted = await fitImleSampler(latents, dim, config.latentProjection, { seed: config.seed }, input.reporter, interrupt);
    const saved = await saveImleSampler(storage, fitted.model, fitted.fit, fitted.options, config.latentProjection);
    fitted.model.dispose();
    files.push(...saved.files);
    sampler = saved.entry;
  }

  const previews = await renderPreviews(generator, latents, dataset, glo.reconstructions, prior.global, config.seed);
  for (const [name, png] of Object.entries(previews)) await write(`previews/${name}.png`, png);

  const final = {
    loss: state.history.at(-1)?.loss ?? NaN,
    reconstructionMse: glo.mse,
    reconstructionPsnr: glo.psnr,
    pcaReconstructionMse: pcaMetrics.mse,
    pcaReconstructionPsnr: pcaMetrics.psnr,
    imagesPerSecond: state.history.length ? (state.step * batchSize) / state.elapsedSeconds : 0,
    wallSeconds: state.elapsedSeconds,
  };
  const metrics = metricsFileSchema.parse({ epochs: state.history, final, pca: { components: pca.componentCount } });
  await write('metrics.json', JSON.stringify(metrics, null, 2));

  const manifest: RunManifest = runManifestSchema.parse({
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    runId: input.runId ?? defaultRunId(storage.uri),
    createdAt: new Date().toISOString(),
    codeVersion: codeVersion(),
    dataset: {
      source: dataset.source,
      imageCount: count,
      skippedCount: dataset.skipped.length,
      skipped: dataset.skipped.slice(0, 1000),
      imageSize: dataset.imageSize,
      channels: dataset.channels,
      labels: dataset.labels ? { classes: dataset.labels.classes, file: 'labels.json' } : undefined,
    },
    config,
    latents: { file: 'latents.bin', dim, count, projection: config.latentProjection, dtype: 'float32', byteOrder: 'little' },
    model: { file: 'model/model.json' },
    atlas: { file: 'atlas.png', tileSize: dataset.imageSize, columns: atlas.columns, count: atlasCount },
    prior: { file: 'prior.json' },
    holdout,
    sampler,
    metrics: { file: 'metrics.json', final },
    previews: Object.keys(previews).map((n) => `previews/${n}.png`),
    files,
    backend: input.backend,
    training: { epochs: state.epoch, steps: state.step, resumedFrom: input.resumedFrom },
    codeRefinement: refinement && { steps: config.codeRefinementSteps, learningRate: config.codeRefinementLr, psnrBefore: refinement.psnrBefore, psnrAfter: glo.psnr, wallSeconds: refinement.wallSeconds },
  });
  await interrupt();
  await storage.write('manifest.json', JSON.stringify(manifest, null, 2));
  return manifest;
}

/** The run id: the last segment of the run folder, reduced to the characters ids allow. */
export function defaultRunId(uri: string): string {
  const last = uri.replace(/\/+$/, '').split('/').pop() ?? 'run';
  return last.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'run';
}

function* codeBatches(latents: Float32Array, dim: number, count: number, batchSize: number): Generator<tf.Tensor2D> {
  for (let start = 0; start + batchSize <= count; start += batchSize) {
    const rows = Array.from({ length: batchSize }, (_, i) => start + i);
    const t = tf.tensor2d(gatherRows(latents, dim, rows), [batchSize, dim]);
    yield t;
    t.dispose();
  }
}

/** Reconstruction grid (originals over reconstructions), 8x8 prior samples, a 10-step slerp strip. */
async function renderPreviews(
  generator: tfl.LayersModel,
  latents: Float32Array,
  dataset: Dataset,
  reconstructions: Float32Array,
  prior: GaussianPrior,
  seed: number,
): Promise<Record<string, Uint8Array>> {
  const size = dataset.imageSize;
  const channels = dataset.channels;
  const ppi = valuesPerImage(dataset);
  const dim = prior.dim;
  // Images spread evenly over the dataset, not its first rows (on emoji, sorted by category, those are
  // eight keycaps): row i of the grid is image floor((i + 1/2) * count / shown).
  const shown = Math.min(8, dataset.count);
  const pairs = new Uint8Array(2 * shown * ppi);
  for (let i = 0; i < shown; i++) {
    const row = Math.floor(((i + 0.5) * dataset.count) / shown);
    pairs.set(dataset.pixels.subarray(row * ppi, (row + 1) * ppi), i * ppi);
    pairs.set(toUint8(reconstructions.subarray(row * ppi, (row + 1) * ppi)), (shown + i) * ppi);
  }
  const generate = (codes: Float32Array, n: number) =>
    tf.tidy(() => toUint8((generator.predict(tf.tensor2d(codes, [n, dim])) as tf.Tensor).dataSync()));
  const samples = sampleGaussian(prior, 64, new Random(seed + 3));
  const b = Math.min(1, dataset.count - 1);
  const strip = interpolate(latentRow(latents, dim, 0), latentRow(latents, dim, b), 10, 'slerp');
  const stripCodes = new Float32Array(10 * dim);
  strip.forEach((code, i) => stripCodes.set(code, i * dim));
  return {
    reconstructions: (await gridPng({ pixels: pairs, count: 2 * shown, size, channels }, shown, 2)).png,
    samples: (await gridPng({ pixels: generate(samples, 64), count: 64, size, channels }, 8, 2)).png,
    interpolation: (await gridPng({ pixels: generate(stripCodes, 10), count: 10, size, channels }, 10, 2)).png,
  };
}
