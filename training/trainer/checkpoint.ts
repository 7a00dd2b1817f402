import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { GloConfig } from '../glo/config.ts';
import { decodeLatents, encodeLatents } from '../glo/latent-codec.ts';
import type { LatentOptimizerState } from '../glo/latent-optimizer.ts';
import type { RandomState } from '../glo/random.ts';
import { checkpointLatestSchema, checkpointStateSchema, parseRunFile, type CheckpointState, type EpochMetrics } from '../glo/run-files.ts';
import { decodeNamedTensors, encodeNamedTensors, loadModel, saveModel } from './model-io.ts';
import type { Storage } from '../storage/storage.ts';

/**
 * Everything a resumed run needs to continue exactly where an uninterrupted one would be: position in
 * the epoch (with that epoch's shuffle order), RNG state, the latent table and its optimizer state,
 * the generator with its BatchNorm statistics and its optimizer state, and the history so far.
 */
export interface TrainingState {
  config: GloConfig;
  epoch: number;
  stepInEpoch: number;
  step: number;
  permutation: Int32Array;
  randomState: RandomState;
  latents: Float32Array;
  latentOptimizer: LatentOptimizerState;
  history: EpochMetrics[];
  epochLossSum: number;
  epochSeconds: number;
  elapsedSeconds: number;
  dataset: { source: string; count: number; namesDigest: string };
}


const ROOT = 'checkpoint';
const int32Bytes = (a: Int32Array) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
const bytesInt32 = (b: Uint8Array) => new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

/**
 * Writes a checkpoint into checkpoint/<step>/ and only then points checkpoint/latest.json at it, so an
 * interruption while writing leaves the previous checkpoint intact; older ones are deleted afterwards.
 */
export async function saveCheckpoint(storage: Storage, state: TrainingState, generator: tfl.LayersModel, optimizer: tf.Optimizer): Promise<string> {
  const dir = `${ROOT}/${String(state.step).padStart(9, '0')}`;
  const optimizerWeights = await optimizer.getWeights();
  const { data: optimizerData, specs: optimizerSpecs } = await encodeNamedTensors(optimizerWeights);
  const { permutation, latents, latentOptimizer, ...rest } = state;
  const count = latents.length / state.config.latentDim;
  const writes: Promise<unknown>[] = [
    saveModel(generator, storage, `${dir}/generator`),
    storage.write(`${dir}/optimizer.bin`, optimizerData),
    storage.write(`${dir}/latents.bin`, encodeLatents(latents)),
    storage.write(`${dir}/permutation.bin`, int32Bytes(permutation)),
  ];
  if (latentOptimizer.kind === 'adam') {
    writes.push(
      storage.write(`${dir}/latent-adam-m.bin`, encodeLatents(latentOptimizer.m!)),
      storage.write(`${dir}/latent-adam-v.bin`, encodeLatents(latentOptimizer.v!)),
      storage.write(`${dir}/latent-adam-steps.bin`, int32Bytes(latentOptimizer.rowSteps!)),
    );
  }
  await Promise.all(writes);
  const file: CheckpointState = { ...rest, checkpointVersion: 1, latentOptimizerKind: latentOptimizer.kind, optimizerSpecs: optimizerSpecs as CheckpointState['optimizerSpecs'] };
  await storage.write(`${dir}/state.json`, JSON.stringify(file));
  await storage.write(`${ROOT}/latest.json`, JSON.stringify({ dir, step: state.step, count }));
  const stale = (await storage.list(`${ROOT}/`)).filter((o) => !o.key.startsWith(`${dir}/`) && o.key !== `${ROOT}/latest.json`);
  await storage.delete(stale.map((o) => o.key));
  return dir;
}

export interface LoadedCheckpoint {
  state: TrainingState;
  generator: tfl.LayersModel;
  optimizerWeights: { name: string; tensor: tf.Tensor }[];
}

export async function loadCheckpoint(storage: Storage): Promise<LoadedCheckpoint | undefined> {
  const latestBytes = await storage.readIfExists(`${ROOT}/latest.json`);
  if (!latestBytes) return undefined;
  const json = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  const latest = parseRunFile(checkpointLatestSchema, json(latestBytes), `${storage.uri}/${ROOT}/latest.json`);
  const dir = latest.dir;
  const stateJson = json(await storage.read(`${dir}/state.json`)) as { checkpointVersion?: unknown };
  if (stateJson?.checkpointVersion !== 1) throw new Error(`${storage.uri}/${dir}/state.json has checkpoint version ${String(stateJson?.checkpointVersion)}; this build reads 1.`);
  const file = parseRunFile(checkpointStateSchema, stateJson, `${storage.uri}/${dir}/state.json`);
  const { checkpointVersion: _v, latentOptimizerKind, optimizerSpecs, ...rest } = file;
  const dim = file.config.latentDim;
  const latents = decodeLatents(await storage.read(`${dir}/latents.bin`), latest.count, dim);
  const latentOptimizer: LatentOptimizerState =
    latentOptimizerKind === 'adam'
      ? {
          kind: 'adam',
          m: decodeLatents(await storage.read(`${dir}/latent-adam-m.bin`), latest.count, dim),
          v: decodeLatents(await storage.read(`${dir}/latent-adam-v.bin`), latest.count, dim),
          rowSteps: bytesInt32(await storage.read(`${dir}/latent-adam-steps.bin`)),
        }
      : { kind: 'sgd' };
  const state: TrainingState = {
    ...rest,
    permutation: bytesInt32(await storage.read(`${dir}/permutation.bin`)),
    latents,
    latentOptimizer,
  };
  const generator = await loadModel(storage, `${dir}/generator`);
  const optimizerWeights = decodeNamedTensors(await storage.read(`${dir}/optimizer.bin`), optimizerSpecs);
  return { state, generator, optimizerWeights };
}

export async function deleteCheckpoints(storage: Storage): Promise<void> {
  await storage.delete((await storage.list(`${ROOT}/`)).map((o) => o.key));
}
