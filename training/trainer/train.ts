import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendInfo, type BackendName } from '../backend/backend.ts';
import { deleteCheckpoints, loadCheckpoint, saveCheckpoint, type TrainingState } from './checkpoint.ts';
import { DatasetTooSmallError, loadDataset, type Dataset } from '../data/dataset.ts';
import { evaluateReconstructions, datasetDigest } from './evaluate.ts';
import { splitHoldout } from '../data/holdout.ts';
import type { GloConfig } from '../glo/config.ts';
import { buildGenerator } from '../glo/generator.ts';
import { interruptCheck, type InterruptCheck } from '../glo/interrupt.ts';
import { project } from '../glo/latent.ts';
import { latentLazyAdam, latentSgd, type LatentOptimizer } from '../glo/latent-optimizer.ts';
import type { RunManifest } from '../glo/manifest.ts';
import { fitPca, pcaEncode, type PcaModel } from '../glo/pca.ts';
import { Random } from '../glo/random.ts';
import { silentReporter, type Reporter } from './progress.ts';
import { publishRun } from './run-writer.ts';
import { checkRunOutput, clearRunFiles, lockRun } from './run-output.ts';
import { type Storage } from '../storage/storage.ts';
import { openStorage } from '../storage/open-storage.ts';
import { trainingStep } from './training-step.ts';
import { valuesPerImage } from '../glo/pixels.ts';

export interface TrainOptions {
  /** emoji | mnist | a folder | s3://bucket/prefix, or the Storage of one the caller has opened. */
  data: string | Storage;
  /** The run folder: a path or s3://bucket/prefix, or its Storage when the caller has opened it (glo job). */
  out: string | Storage;
  config: GloConfig;
  /** A backend to start (default 'auto'), or the one the caller has started already (glo job). */
  backend?: BackendName | BackendInfo;
  /** With a backend name: fail unless it runs on a GPU. */
  requireGpu?: boolean;
  /** With a backend name: CPU threads for the wasm backend (pthreads) or TensorFlow's pool; default 1 for wasm. */
  threads?: number;
  /** Continue from out/checkpoint/ when there is one (the saved config wins over `config`). */
  resume?: boolean;
  /** Replace what `out` holds (a finished run, files that are not glo's); otherwise such an `out` is refused. */
  overwrite?: boolean;
  runId?: string;
  reporter?: Reporter;
  /** Aborting (SIGINT/SIGTERM) makes the loop checkpoint after the current step and throw TrainingInterrupted. */
  signal?: AbortSignal;
  /** Called as the run enters each stage, so a caller (glo job) can say where a failure happened. */
  onStage?: (stage: TrainingStage) => void;
}

/** Where train() is: loading the dataset, the epoch loop, or the final evaluation and publishing. */
export type TrainingStage = 'data' | 'training' | 'publishing';

export class TrainingInterrupted extends Error {
  override name = 'TrainingInterrupted';
  /** `checkpoint` is undefined when the run stopped before its first step (nothing to save yet). */
  constructor(readonly checkpoint: string | undefined, readonly step: number) {
    super(checkpoint === undefined
      ? 'Training interrupted before its first step: there was nothing to save yet. Run the same command again to start.'
      : `Training interrupted at step ${step}; checkpoint saved to ${checkpoint}. Run again with --resume to continue.`);
  }
}

/**
 * GLO training (paper, section 3) from start to published run. Read top to bottom: set up (backend,
 * data, generator, codes, optimizers, or all of it from a checkpoint), the epoch loop with one GLO step
 * per batch, then the final evaluation and the run.
 */
export async function train(options: TrainOptions): Promise<RunManifest> {
  const reporter = options.reporter ?? silentReporter;
  const backend = typeof options.backend === 'object' ? options.backend
    : await initBackend(options.backend ?? 'auto', { requireGpu: options.requireGpu, threads: options.threads });
  reporter.info(`backend: ${backend.name} (${backend.package}) on ${backend.device}`);
  const out = typeof options.out === 'string' ? openStorage(options.out) : options.out;
  // Before any data is loaded: --out must not be another trainer's, must be writable (taking the lock
  // writes to it) and must not hold something this run would replace.
  const lock = await lockRun(out);
  try {
    await checkRunOutput(out, { resume: Boolean(options.resume), overwrite: Boolean(options.overwrite) });
    if (options.overwrite) {
      const removed = await clearRunFiles(out);
      if (removed > 0) reporter.info(`--overwrite: removed ${removed} files of the earlier run in ${out.uri}`);
    }
    return await trainLocked(options, out, backend, reporter);
  } finally {
    await lock.release();
  }
}

async function trainLocked(options: TrainOptions, out: Storage, backend: BackendInfo, reporter: Reporter): Promise<RunManifest> {
  const checkpoint = options.resume ? await loadCheckpoint(out) : undefined;
  if (options.resume && !checkpoint) reporter.info(`no checkpoint under ${out.uri}/checkpoint: starting from scratch`);
  const config = checkpoint?.state.config ?? options.config;
  if (checkpoint) reporter.info(`resuming from step ${checkpoint.state.step} (epoch ${checkpoint.state.epoch + 1}, the checkpoint's config)`);

  options.onStage?.('data');
  // Before the first step an interrupt stops at once (loading a large S3 dataset and PCA take minutes); a
  // resumed run's checkpoint is still the one to resume from.
  const resumeFrom = checkpoint ? `${out.uri}/checkpoint` : undefined;
  const stopIfInterrupted = async (where: string | undefined, step: number) => {
    await yieldToEventLoop(); // a signal that came during synchronous work (PCA) is delivered here
    if (options.signal?.aborted) throw new TrainingInterrupted(where, step);
  };
  const loaded = await loadDataset(options.data, {
    imageSize: config.imageSize,
    channels: config.channels,
    limit: config.limit,
    background: config.background,
    signal: options.signal,
  }).catch((error: unknown) => {
    if (options.signal?.aborted) throw new TrainingInterrupted(resumeFrom, checkpoint?.state.step ?? 0);
    throw error;
  });
  reporter.info(`dataset ${loaded.source}: ${loaded.count} images at ${config.imageSize} px, ${loaded.skipped.length} skipped`);
  for (const s of loaded.skipped.slice(0, 20)) reporter.info(`  skipped ${s.name}: ${s.reason}`);
  await stopIfInterrupted(resumeFrom, checkpoint?.state.step ?? 0);
  // Held-out images leave here, before PCA and the codes: nothing below ever sees them.
  const { train: dataset, holdout } = splitHoldout(loaded, config.holdout, config.seed);
  if (dataset.count < 2) throw new DatasetTooSmallError(loaded.source, dataset.count, holdout?.dataset.count ?? 0);
  if (holdout) reporter.info(`holdout: ${holdout.dataset.count} of ${loaded.count} images set aside (never trained on) for glo eval`);
  const digest = datasetDigest(dataset);
  if (checkpoint && (checkpoint.state.dataset.count !== dataset.count || checkpoint.state.dataset.namesDigest !== digest)) {
    throw new Error(`The checkpoint in ${out.uri} was made on a different dataset (${checkpoint.state.dataset.count} images, now ${dataset.count}); use another --out or drop --resume.`);
  }

  const { latentDim: dim, batchSize: wantedBatch } = config;
  const count = dataset.count;
  const pixelsPerImage = valuesPerImage(config);
  // PCA serves the code init and the baseline; its own RNG stream keeps the shuffle order independent.
  let pca: PcaModel | undefined;
  const getPca = async (interrupt: InterruptCheck) => (pca ??= await fitPca(dataset.pixels, count, pixelsPerImage, dim, new Random(config.seed + 1), { interrupt }));
  // PCA init takes seconds to tens of seconds: an interrupt during it stops the run (nothing to save yet).
  const initInterrupt = interruptCheck(options.signal, () => new TrainingInterrupted(resumeFrom, 0));

  const generator = checkpoint?.generator ?? buildGenerator(config, config.seed);
  const optimizer = config.optimizer === 'sgd' ? tf.train.sgd(config.lrGenerator) : tf.train.adam(config.lrGenerator);
  if (checkpoint) await optimizer.setWeights(checkpoint.optimizerWeights);
  const state: TrainingState = checkpoint?.state ?? {
    config,
    epoch: 0,
    stepInEpoch: 0,
    step: 0,
    permutation: new Int32Array(0),
    randomState: new Random(config.seed).state,
    latents: await initialLatents(config, dataset, () => getPca(initInterrupt), reporter),
    latentOptimizer: { kind: config.optimizer },
    history: [],
    epochLossSum: 0,
    epochSeconds: 0,
    elapsedSeconds: 0,
    dataset: { source: dataset.source, count, namesDigest: digest },
  };
  await stopIfInterrupted(resumeFrom, state.step);
  const resumedFrom = checkpoint ? state.step : undefined;
  const random = new Random(state.randomState);
  const latentOptimizer: LatentOptimizer =
    config.optimizer === 'sgd' ? latentSgd(config.lrLatent) : latentLazyAdam(config.lrLatent, count, dim, state.latentOptimizer);

  // Batches smaller than batchSize only for datasets smaller than it; a ragged last batch is dropped
  // (a different one each epoch) so BatchNorm always sees full batches.
  const batchSize = Math.min(wantedBatch, count);
  const stepsPerEpoch = Math.floor(count / batchSize);
  const evalRows = Int32Array.from({ length: Math.min(config.evalImages, count) }, (_, i) => Math.floor((i * count) / Math.min(config.evalImages, count)));

  const checkpointNow = async () => {
    state.randomState = random.state;
    state.latentOptimizer = latentOptimizer.state();
    return saveCheckpoint(out, state, generator, optimizer);
  };
  let lastCheckpoint = Date.now();

  // The table is updated in place, so one step state serves the whole run.
  const stepState = { generator, optimizer, latents: state.latents, latentOptimizer, dataset, config };
  options.onStage?.('training');
  while (state.epoch < config.epochs) {
    if (state.stepInEpoch === 0) state.permutation = random.permutation(count);
    reporter.startEpoch(state.epoch, config.epochs, stepsPerEpoch, state.stepInEpoch);
    while (state.stepInEpoch < stepsPerEpoch) {
      const started = performance.now();
      const rows = state.permutation.subarray(state.stepInEpoch * batchSize, (state.stepInEpoch + 1) * batchSize);
      const loss = trainingStep(stepState, rows);
      const lossValue = (await loss.data())[0];
      loss.dispose();
      // Signal handlers run as macrotasks, and on wasm the read above resolves without one: this turn of the
      // event loop is what lets a SIGINT/SIGTERM reach options.signal mid-epoch (it costs microseconds).
      await yieldToEventLoop();
      if (!Number.isFinite(lossValue)) {
        throw new Error(`The loss became ${lossValue} at step ${state.step + 1}: training diverged. Lower --lr-generator / --lr-latent or try --optimizer adam.`);
      }
      state.stepInEpoch++;
      state.step++;
      state.epochLossSum += lossValue;
      state.epochSeconds += (performance.now() - started) / 1000;
      reporter.update({
        epoch: state.epoch,
        epochs: config.epochs,
        step: state.stepInEpoch,
        steps: stepsPerEpoch,
        loss: state.epochLossSum / state.stepInEpoch,
        imagesPerSecond: (state.stepInEpoch * batchSize) / state.epochSeconds,
        runEtaSeconds: ((config.epochs - state.epoch) * stepsPerEpoch - state.stepInEpoch) * (state.epochSeconds / state.stepInEpoch),
      });
      if (options.signal?.aborted) {
        reporter.endEpoch();
        const where = await checkpointNow();
        throw new TrainingInterrupted(`${out.uri}/${where}`, state.step);
      }
      if (Date.now() - lastCheckpoint > config.checkpointMinutes * 60_000 && state.stepInEpoch < stepsPerEpoch) {
        await checkpointNow();
        lastCheckpoint = Date.now();
      }
    }
    reporter.endEpoch();
    const evaluation = await evaluateReconstructions(generator, state.latents, dataset, evalRows, 'batch-statistics');
    state.history.push({
      epoch: state.epoch + 1,
      loss: state.epochLossSum / stepsPerEpoch,
      evalMse: evaluation.mse,
      evalPsnr: evaluation.psnr,
      imagesPerSecond: (stepsPerEpoch * batchSize) / state.epochSeconds,
      wallSeconds: state.epochSeconds,
    });
    state.elapsedSeconds += state.epochSeconds;
    reporter.info(
      `epoch ${state.epoch + 1}/${config.epochs}: loss ${(state.epochLossSum / stepsPerEpoch).toFixed(4)}, ` +
        `reconstruction PSNR ${evaluation.psnr.toFixed(2)} dB on ${evalRows.length} images, ${((stepsPerEpoch * batchSize) / state.epochSeconds).toFixed(1)} img/s`,
    );
    state.epoch++;
    state.stepInEpoch = 0;
    state.epochLossSum = 0;
    state.epochSeconds = 0;
    await checkpointNow();
    lastCheckpoint = Date.now();
  }

  // The last epoch's checkpoint is written: an interrupt from here on (publishing takes minutes on a large
  // dataset, with an IMLE sampler) stops at once, and --resume goes straight into publishing.
  await stopIfInterrupted(`${out.uri}/checkpoint`, state.step);
  const interrupt = interruptCheck(options.signal, () => new TrainingInterrupted(`${out.uri}/checkpoint`, state.step));
  options.onStage?.('publishing');
  reporter.info('final evaluation: recalibrating BatchNorm, reconstructing every image, PCA baseline');
  const baseline = await getPca(interrupt); // already fitted for a PCA init; fitted now (seconds) for a Gaussian one
  await interrupt();
  const manifest = await publishRun({
    storage: out,
    runId: options.runId,
    generator,
    state,
    dataset,
    pca: baseline,
    batchSize,
    backend,
    resumedFrom,
    reporter,
    holdout,
    interrupt,
  });
  await deleteCheckpoints(out);
  const final = manifest.metrics.final;
  reporter.info(
    `published ${out.uri}: reconstruction PSNR ${final.reconstructionPsnr.toFixed(2)} dB (PCA with ${dim} components: ${final.pcaReconstructionPsnr.toFixed(2)} dB)`,
  );
  return manifest;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Initial codes (paper, section 3.3): PCA projections, or N(0, I/d); then projected into Z. */
async function initialLatents(config: GloConfig, dataset: Dataset, getPca: () => Promise<PcaModel>, reporter: Reporter): Promise<Float32Array> {
  const dim = config.latentDim;
  let latents: Float32Array;
  if (config.latentInit === 'pca') {
    const started = performance.now();
    const pca = await getPca();
    latents = new Float32Array(dataset.count * dim);
    // Fewer images or pixels than dimensions leave trailing components at zero.
    const codes = pcaEncode(pca, dataset.pixels, dataset.count);
    for (let n = 0; n < dataset.count; n++) latents.set(codes.subarray(n * pca.componentCount, (n + 1) * pca.componentCount), n * dim);
    reporter.info(`PCA init: ${pca.componentCount} components in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } else {
    latents = new Random(config.seed + 2).normalArray(dataset.count * dim, 1 / Math.sqrt(dim));
  }
  project(latents, dim, config.latentProjection);
  return latents;
}

