import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Storage } from '../storage/storage.ts';
// Registers glo's BatchNormalization under the layer's class name, so every model loaded here (a run's
// generator for glo eval, a checkpoint's on resume) gets its faster inference and training passes.
import '../glo/batch-norm.ts';

/**
 * Saves a LayersModel as model.json + weights.bin under `prefix` of any Storage: the same layout as
 * tfjs-node's file:// handler, so `tf.loadLayersModel('.../model.json')` works on it in a browser or
 * in Node. Returns the written files with their sizes. BatchNorm moving statistics are included.
 */
export async function saveModel(model: tfl.LayersModel, storage: Storage, prefix: string): Promise<{ path: string; bytes: number }[]> {
  const written: { path: string; bytes: number }[] = [];
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0)));
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      const json = JSON.stringify(modelJson);
      await storage.write(`${prefix}/weights.bin`, weights);
      await storage.write(`${prefix}/model.json`, json);
      written.push({ path: `${prefix}/model.json`, bytes: Buffer.byteLength(json) }, { path: `${prefix}/weights.bin`, bytes: weights.byteLength });
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  return written;
}

/** Loads what saveModel wrote (weights paths are resolved relative to model.json, as tfjs does over HTTP). */
export async function loadModel(storage: Storage, prefix: string): Promise<tfl.LayersModel> {
  const modelJson = JSON.parse(new TextDecoder().decode(await storage.read(`${prefix}/model.json`))) as tf.io.ModelJSON;
  const manifest = modelJson.weightsManifest ?? [];
  const buffers: ArrayBuffer[] = [];
  for (const group of manifest) {
    for (const path of group.paths) {
      const bytes = await storage.read(`${prefix}/${path}`);
      buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    }
  }
  return tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: manifest.flatMap((g) => g.weights),
      weightData: tf.io.CompositeArrayBuffer.join(buffers),
    }),
  );
}

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Named tensors (e.g. optimizer state) to one binary blob + its specs, with tfjs' own weight codec. */
export async function encodeNamedTensors(tensors: NamedTensor[]): Promise<{ data: Uint8Array; specs: tf.io.WeightsManifestEntry[] }> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  return { data: new Uint8Array(data), specs };
}

export function decodeNamedTensors(data: Uint8Array, specs: tf.io.WeightsManifestEntry[]): NamedTensor[] {
  const map = tf.io.decodeWeights(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer, specs);
  return specs.map((s) => ({ name: s.name, tensor: map[s.name] }));
}
