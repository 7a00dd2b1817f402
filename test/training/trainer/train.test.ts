import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../../training/data/dataset.ts';
import { EmptyDatasetError } from '../../../training/data/dataset.ts';
import { batchTargetValues } from '../../../training/trainer/evaluate.ts';
import { resolveConfig, type GloConfigInput } from '../../../training/glo/config.ts';
import { decodeLatents } from '../../../training/glo/latent-codec.ts';
import { gatherRows } from '../../../training/glo/latent.ts';
import { parseManifest } from '../../../training/glo/manifest.ts';
import { meanImageMetrics } from '../../../training/glo/metrics.ts';
import type { Reporter } from '../../../training/trainer/progress.ts';
import { openStorage } from '../../../training/storage/open-storage.ts';
import { train, TrainingInterrupted } from '../../../training/trainer/train.ts';
import { startMoto, type Moto } from '../../helpers/moto.ts';
import { makeImageFolder, tempDir } from '../training-fixtures.ts';

const tiny: GloConfigInput = { imageSize: 32, epochs: 3, batchSize: 8, latentDim: 8, generatorWidth: 8, evalImages: 8, seed: 7 };
let images: string;

beforeAll(async () => {
  images = await makeImageFolder(24);
});

/** A reporter that aborts the run (like SIGTERM) once `step` steps of the whole run are done. */
function abortAfter(totalSteps: number, controller: AbortController, stepsPerEpoch: number): Reporter {
  let epoch = 0;
  return {
    info() {},
    startEpoch(e) {
      epoch = e;
    },
    update(u) {
      if (epoch * stepsPerEpoch + u.step >= totalSteps) controller.abort();
    },
    endEpoch() {},
  };
}

describe('glo train to a folder', () => {
  let out: string;
  let manifest: Awaited<ReturnType<typeof train>>;

  beforeAll(async () => {
    out = path.join(await tempDir(), 'tiny-run');
    manifest = await train({ data: images, out, config: resolveConfig(tiny), backend: 'wasm' });
  });

  it('publishes every artifact of the run, manifest last and valid', async () => {
    const reread = parseManifest(JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8')));
    expect(reread).toEqual(manifest);
    expect(manifest.dataset.imageCount).toBe(24);
    expect(manifest.training.steps).toBe(3 * 3);
    expect(manifest.backend.name).toBe('wasm');
    for (const f of manifest.files) {
      const bytes = (await readFile(path.join(out, f.path))).byteLength;
      expect(bytes, f.path).toBe(f.bytes);
    }
    for (const name of ['model/model.json', 'model/weights.bin', 'latents.bin', 'atlas.png', 'prior.json', 'metrics.json', 'previews/reconstructions.png', 'previews/samples.png', 'previews/interpolation.png']) {
      expect(manifest.files.map((f) => f.path)).toContain(name);
    }
    // Checkpoints are removed once the run is published.
    const checkpointFiles = existsSync(path.join(out, 'checkpoint')) ? await readdir(path.join(out, 'checkpoint'), { recursive: true }) : [];
    expect(checkpointFiles).toEqual([]);
    const metrics = JSON.parse(await readFile(path.join(out, 'metrics.json'), 'utf8'));
    expect(metrics.epochs).toHaveLength(3);
    expect(metrics.final.pcaReconstructionPsnr).toBeGreaterThan(10);
  });

  it('previews reconstructions of images spread over the dataset, not its first rows', async () => {
    // 24 images, 8 shown: images 1, 4, 7, ..., 22 (floor((i + 1/2) * 24 / 8)), originals on the top row.
    const { data, info } = await sharp(await readFile(path.join(out, 'previews', 'reconstructions.png'))).raw().toBuffer({ resolveWithObject: true });
    const atlas = await sharp(await readFile(path.join(out, 'atlas.png'))).raw().toBuffer({ resolveWithObject: true });
    const tile = (buffer: Buffer, width: number, channels: number, x0: number, y0: number) => {
      const out: number[] = [];
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) out.push(buffer[((y0 + y) * width + x0 + x) * channels + c]);
      return out;
    };
    const atlasColumns = manifest.atlas.columns;
    for (let i = 0; i < 8; i++) {
      const row = Math.floor(((i + 0.5) * 24) / 8);
      const shown = tile(data, info.width, info.channels, i * (32 + 2), 0);
      const original = tile(atlas.data, atlas.info.width, atlas.info.channels, (row % atlasColumns) * 32, Math.floor(row / atlasColumns) * 32);
      expect(shown, `column ${i}`).toEqual(original);
    }
  });

  it('round-trips: the saved generator and latents regenerate the reported reconstructions', async () => {
    const storage = openStorage(out);
    const modelJson = JSON.parse(new TextDecoder().decode(await storage.read('model/model.json')));
    const weights = await storage.read('model/weights.bin');
    // Plain tf.loadLayersModel, as the site does (fromMemory stands in for the HTTP fetch).
    const generator = await tfl.loadLayersModel(
      tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0].weights, weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer }),
    );
    const latents = decodeLatents(await storage.read('latents.bin'), manifest.latents.count, manifest.latents.dim);
    const dataset = await loadDataset(images, { imageSize: 32, channels: 3 });
    const rows = Array.from({ length: 24 }, (_, i) => i);
    const out2 = tf.tidy(() => (generator.predict(tf.tensor2d(gatherRows(latents, 8, rows), [24, 8])) as tf.Tensor).dataSync());
    const { psnr } = meanImageMetrics(out2, batchTargetValues(dataset, rows), 32 * 32 * 3);
    expect(psnr).toBeCloseTo(manifest.metrics.final.reconstructionPsnr, 3);
  });

  it('refits every code to the finished generator before publishing, and says so in the manifest', async () => {
    // The default final code pass: 10 Adam steps per code, the run's loss, generator frozen. The published
    // codes (latents.bin, which the round-trip test decodes) reconstruct better than the learned ones.
    const pass = manifest.codeRefinement!;
    expect(pass.steps).toBe(10);
    expect(pass.psnrAfter).toBe(manifest.metrics.final.reconstructionPsnr);
    expect(pass.psnrAfter).toBeGreaterThan(pass.psnrBefore);
    // Without it the codes are published as trained: the 'before' figure of the same run.
    const plain = await train({ data: images, out: path.join(await tempDir(), 'no-pass'), config: resolveConfig({ ...tiny, codeRefinementSteps: 0 }), backend: 'wasm' });
    expect(plain.codeRefinement).toBeUndefined();
    expect(plain.metrics.final.reconstructionPsnr).toBeCloseTo(pass.psnrBefore, 6);
  });

  it('is deterministic for a seed on a backend, and reports its stages in order', async () => {
    const again = path.join(await tempDir(), 'tiny-run-again');
    const stages: string[] = [];
    const second = await train({ data: images, out: again, config: resolveConfig(tiny), backend: 'wasm', onStage: (s) => stages.push(s) });
    expect(stages).toEqual(['data', 'training', 'publishing']);
    expect(second.metrics.final.loss).toBe(manifest.metrics.final.loss);
    expect(await readFile(path.join(again, 'latents.bin'))).toEqual(await readFile(path.join(out, 'latents.bin')));
  });

  it('resumes after an interrupt and ends where the uninterrupted run did', async () => {
    const resumedOut = path.join(await tempDir(), 'interrupted');
    const controller = new AbortController();
    await expect(
      train({ data: images, out: resumedOut, config: resolveConfig(tiny), backend: 'wasm', signal: controller.signal, reporter: abortAfter(4, controller, 3) }),
    ).rejects.toBeInstanceOf(TrainingInterrupted);
    expect(existsSync(path.join(resumedOut, 'manifest.json'))).toBe(false);
    expect(existsSync(path.join(resumedOut, 'checkpoint', 'latest.json'))).toBe(true);
    // The resumed process gets a different config on purpose: the checkpoint's config must win.
    const stages: string[] = [];
    const resumed = await train({ data: images, out: resumedOut, config: resolveConfig({ ...tiny, epochs: 1 }), backend: 'wasm', resume: true, onStage: (s) => stages.push(s) });
    expect(stages).toEqual(['data', 'training', 'publishing']);
    expect(resumed.training.steps).toBe(manifest.training.steps);
    expect(resumed.training.resumedFrom).toBe(4);
    expect(resumed.metrics.final.loss).toBeCloseTo(manifest.metrics.final.loss, 5);
    const a = new Float32Array((await readFile(path.join(out, 'latents.bin'))).buffer.slice(0));
    const b = new Float32Array((await readFile(path.join(resumedOut, 'latents.bin'))).buffer.slice(0));
    expect(b.reduce((m, v, i) => Math.max(m, Math.abs(v - a[i])), 0)).toBeLessThan(1e-4);
  });
});

describe('glo train with bad input', () => {
  it('refuses to resume from a checkpoint whose state.json fails its schema, naming the file and the field', async () => {
    const out = path.join(await tempDir(), 'tampered');
    const controller = new AbortController();
    await expect(
      train({ data: images, out, config: resolveConfig(tiny), backend: 'wasm', signal: controller.signal, reporter: abortAfter(2, controller, 3) }),
    ).rejects.toBeInstanceOf(TrainingInterrupted);
    const latest = JSON.parse(await readFile(path.join(out, 'checkpoint', 'latest.json'), 'utf8')) as { dir: string };
    const stateFile = path.join(out, latest.dir, 'state.json');
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, unknown>;
    // A hand edit: JSON.parse reads 1e999 as Infinity, which the loss average would carry into every epoch.
    await writeFile(stateFile, JSON.stringify({ ...state, epochLossSum: '__INF__' }).replace('"__INF__"', '1e999'));
    await expect(train({ data: images, out, config: resolveConfig(tiny), backend: 'wasm', resume: true })).rejects.toThrow(/state\.json is not a valid run file: epochLossSum/);
  });

  it('fails before training on a folder with no usable image, and writes nothing', async () => {
    const empty = await tempDir('glo-empty-');
    await mkdir(path.join(empty, 'sub'));
    const out = path.join(await tempDir(), 'never');
    await expect(train({ data: empty, out, config: resolveConfig(tiny), backend: 'wasm' })).rejects.toBeInstanceOf(EmptyDatasetError);
    expect(existsSync(out)).toBe(false);
  });
});

describe('glo train to S3', () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it('writes the same run through the same storage code path', async () => {
    const bucket = 'glo-artifacts';
    await moto.createBucket(bucket);
    const uri = `s3://${bucket}/runs/s3-tiny`;
    const manifest = await train({ data: images, out: uri, config: resolveConfig({ ...tiny, epochs: 1 }), backend: 'wasm' });
    const storage = openStorage(uri);
    const keys = (await storage.list()).map((o) => o.key);
    expect(keys).toContain('manifest.json');
    for (const f of manifest.files) expect(keys).toContain(f.path);
    expect(keys.filter((k) => k.startsWith('checkpoint/'))).toEqual([]);
    expect(manifest.runId).toBe('s3-tiny');
  });
});
