import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeLatents } from '../../../training/glo/latent-codec.ts';
import type { RunManifest } from '../../../training/glo/manifest.ts';
import { loadModel } from '../../../training/trainer/model-io.ts';
import { openStorage } from '../../../training/storage/open-storage.ts';

/** g(codes) in Node on the pure-JS cpu backend: the reference the browser's pixels are compared with. */
export async function nodeGenerator(runDir: string, manifest: RunManifest) {
  await tf.setBackend('cpu');
  const model = await loadModel(openStorage(runDir), 'model');
  const latents = decodeLatents(new Uint8Array(await readFile(path.join(runDir, manifest.latents.file))), manifest.latents.count, manifest.latents.dim);
  const dim = manifest.latents.dim;
  return {
    latents,
    dim,
    code: (i: number) => latents.slice(i * dim, (i + 1) * dim),
    /** NHWC values in [-1, 1] for codes [n, dim]. */
    generate(codes: Float32Array): Float32Array {
      return tf.tidy(() => (model.predict(tf.tensor2d(codes, [codes.length / dim, dim])) as tf.Tensor).dataSync() as Float32Array);
    },
  };
}

/** Largest absolute difference between RGBA bytes from the page and generator values (image `index`). */
export function maxByteDifference(rgba: ArrayLike<number>, values: ArrayLike<number>, channels: number, index = 0): number {
  const pixels = rgba.length / 4;
  let worst = 0;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      const v = values[index * pixels * channels + p * channels + (channels === 1 ? 0 : c)];
      const expected = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
      worst = Math.max(worst, Math.abs(rgba[p * 4 + c] - expected));
    }
  }
  return worst;
}
