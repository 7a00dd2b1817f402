import type * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import type { Dataset } from '../data/dataset.ts';
import { decodeLatents } from '../glo/latent-codec.ts';
import type { RunManifest } from '../glo/manifest.ts';
import { runFileSchemas, type PriorFile } from '../glo/run-files.ts';
import { loadModel } from '../trainer/model-io.ts';
import type { Storage } from '../storage/storage.ts';
import { readCompleteManifest, readRunFile } from '../trainer/published-run.ts';

/** A published run, read back: everything `glo eval` needs comes from the run folder alone. */
export interface LoadedRun {
  storage: Storage;
  manifest: RunManifest;
  generator: tfl.LayersModel;
  latents: Float32Array;
  prior: PriorFile;
  /** The training images of the atlas (rows 0..atlas.count-1, which are latent rows 0..count-1), with labels when the run has them. */
  train: Dataset;
  holdout?: Dataset;
}

/** Tiles of a sprite sheet (row-major, no gap, as gridPng writes atlas.png) back to contiguous uint8 HWC images. */
export async function decodeSheet(png: Uint8Array, count: number, tileSize: number, columns: number, channels: 1 | 3): Promise<Uint8Array> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const tiles = new Uint8Array(count * tileSize * tileSize * channels);
  for (let t = 0; t < count; t++) {
    const x0 = (t % columns) * tileSize;
    const y0 = Math.floor(t / columns) * tileSize;
    for (let y = 0; y < tileSize; y++) {
      for (let x = 0; x < tileSize; x++) {
        const src = ((y0 + y) * info.width + x0 + x) * info.channels;
        const dst = ((t * tileSize + y) * tileSize + x) * channels;
        // A grey sheet may decode with 1 (or 2, with alpha) channels; an RGB one with 3 or 4.
        for (let c = 0; c < channels; c++) tiles[dst + c] = data[src + (info.channels >= 3 ? c : 0)];
      }
    }
  }
  return tiles;
}

export async function loadRun(storage: Storage): Promise<LoadedRun> {
  const manifest = await readCompleteManifest(storage);
  const schemas = runFileSchemas(manifest);
  const { dataset: info, atlas, latents: lat } = manifest;
  const generator = await loadModel(storage, manifest.model.file.replace(/\/model\.json$/, ''));
  const latents = decodeLatents(await storage.read(lat.file), lat.count, lat.dim);
  const prior: PriorFile = await readRunFile(storage, manifest.prior.file, schemas.prior);
  const base = { source: info.source, imageSize: info.imageSize, channels: info.channels, skipped: [] };
  const trainPixels = await decodeSheet(await storage.read(atlas.file), atlas.count, atlas.tileSize, atlas.columns, info.channels);
  const train: Dataset = { ...base, count: atlas.count, pixels: trainPixels, names: [] };
  if (info.labels && schemas.labels) {
    const labels = await readRunFile(storage, info.labels.file, schemas.labels);
    train.labels = { classes: labels.classes, index: Int32Array.from(labels.index.slice(0, atlas.count)) };
  }
  let holdout: Dataset | undefined;
  if (manifest.holdout && schemas.holdout) {
    const h = manifest.holdout;
    const list = await readRunFile(storage, h.file, schemas.holdout);
    const pixels = await decodeSheet(await storage.read(h.atlas), h.count, h.tileSize, h.columns, info.channels);
    holdout = { ...base, count: h.count, pixels, names: list.names };
    if (info.labels && list.labels) holdout.labels = { classes: info.labels.classes, index: Int32Array.from(list.labels) };
  }
  return { storage, manifest, generator, latents, prior, train, holdout };
}
