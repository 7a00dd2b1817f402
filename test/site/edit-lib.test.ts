// The Edit view's logic in Node (site/src/lib/edit.ts): crop, mask painting, damage, restore and scores, with a
// tiny generator on the cpu backend. The browser test (edit.test.ts) drives the same code through the page.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGenerator, recalibrateBatchNorm } from '../../training/glo/generator.ts';
import { projectToUnitBall } from '../../training/glo/latent.ts';
import { Random } from '../../training/glo/random.ts';
import {
  applyDamage,
  centerSquare,
  downsampleFactors,
  emptyMask,
  paintStroke,
  pasteKnown,
  restore,
  scoreEdit,
  squareHole,
  uploadRgbaToValues,
} from '../../site/src/lib/edit.ts';

const shape = { size: 32, channels: 3 as const };
const DIM = 16;
let model: tfl.LayersModel;
let clean: Float32Array;

beforeAll(async () => {
  await tf.setBackend('cpu');
  model = buildGenerator({ imageSize: 32, channels: 3, latentDim: DIM, generatorWidth: 8 }, 5);
  const codes = new Random(2).normalArray(32 * DIM, 1 / Math.sqrt(DIM));
  projectToUnitBall(codes, DIM);
  const batch = tf.tensor2d(codes, [32, DIM]);
  await recalibrateBatchNorm(model, [batch]);
  batch.dispose();
  const last = model.layers[model.layers.length - 1];
  last.setWeights([tf.tidy(() => tf.mul(last.getWeights()[0], 4))]);
  // A clean image the generator can produce (as a training image's reconstruction is).
  const z = new Random(3).normalArray(DIM, 0.2);
  clean = tf.tidy(() => (model.predict(tf.tensor2d(z, [1, DIM])) as tf.Tensor).dataSync() as Float32Array);
});

describe('edit: images in', () => {
  it('crops the centred square like the trainer', () => {
    expect(centerSquare(100, 60)).toEqual({ x: 20, y: 0, side: 60 });
    expect(centerSquare(40, 41)).toEqual({ x: 0, y: 0, side: 40 });
  });

  it('flattens alpha onto white and makes grey from luminance', () => {
    const rgba = [255, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 0, 255, 0, 255];
    expect(Array.from(uploadRgbaToValues(rgba, { size: 2, channels: 3 }).slice(0, 6))).toEqual([1, 1, 1, -1, -1, -1]);
    const grey = uploadRgbaToValues(rgba, { size: 2, channels: 1 });
    expect(Array.from(grey.slice(0, 3))).toEqual([1, -1, 1]);
    // Pure green is brighter than mid grey in luminance (0.7152 linear).
    expect(grey[3]).toBeGreaterThan(0.7);
  });
});

describe('edit: damage', () => {
  it('paints a stroke as removed pixels and nothing else', () => {
    const keep = paintStroke(emptyMask(16), 16, { x: 2, y: 8 }, { x: 13, y: 8 }, 1.5);
    expect(keep[8 * 16 + 2]).toBe(0);
    expect(keep[8 * 16 + 8]).toBe(0);
    expect(keep[8 * 16 + 13]).toBe(0);
    expect(keep[2 * 16 + 8]).toBe(1);
    expect(keep[8 * 16 + 15]).toBe(1);
  });

  it('offers downsampling factors that divide the size', () => {
    expect(downsampleFactors(32)).toEqual([2, 4, 8]);
    expect(downsampleFactors(64)).toEqual([2, 4, 8, 16]);
  });

  it('damages with the operators: mask greys the hole, noise is seeded, downsample shows blocks', async () => {
    const keep = squareHole(32, 0.5);
    const masked = await applyDamage(clean, shape, { kind: 'mask', keep });
    expect(masked.shown[(16 * 32 + 16) * 3]).toBe(0);
    expect(masked.shown[0]).toBeCloseTo(clean[0], 6);
    const a = await applyDamage(clean, shape, { kind: 'noise', sigma: 0.3, seed: 4 });
    const b = await applyDamage(clean, shape, { kind: 'noise', sigma: 0.3, seed: 4 });
    expect(Array.from(a.shown)).toEqual(Array.from(b.shown));
    const low = await applyDamage(clean, shape, { kind: 'downsample', factor: 4 });
    expect(low.observationSize).toBe(8);
    expect(low.observation).toHaveLength(8 * 8 * 3);
    expect(low.shown).toHaveLength(32 * 32 * 3);
    expect(low.shown[3]).toBe(low.shown[0]);
  });
});

describe('edit: restore', () => {
  it.each([
    ['mask', { kind: 'mask' as const, keep: squareHole(32, 0.5) }],
    ['noise', { kind: 'noise' as const, sigma: 0.4, seed: 1 }],
    ['downsample', { kind: 'downsample' as const, factor: 4 }],
  ])('%s: the restored image scores a higher PSNR than the damaged one, leaking no tensors', async (_name, damage) => {
    const before = tf.memory().numTensors;
    const damaged = await applyDamage(clean, shape, damage);
    const lossConfig = { loss: 'lap1+l2' as const, lapWeights: [1, 0.25, 0.0625], l2Weight: 1 };
    const steps: number[] = [];
    const result = await restore(damaged, { model, shape, latentDim: DIM, lossConfig, steps: 40, starts: 4, onStep: ({ step }) => void steps.push(step) });
    expect(tf.memory().numTensors).toBe(before);
    expect(steps).toHaveLength(40);
    expect(result.lossHistory[40]).toBeLessThan(result.lossHistory[0]);
    const scores = scoreEdit(clean, damaged, result);
    expect(scores.restored).toBeGreaterThan(scores.damaged + 3);
  });

  it('pastes the known pixels back for inpainting', () => {
    const keep = new Float32Array([1, 0]);
    expect(Array.from(pasteKnown(new Float32Array([1, 2, 0, 0]), new Float32Array([5, 6, 7, 8]), keep, 2))).toEqual([1, 2, 7, 8]);
  });

  it('stops when cancelled', async () => {
    const damaged = await applyDamage(clean, shape, { kind: 'noise', sigma: 0.2, seed: 2 });
    const controller = new AbortController();
    const result = await restore(damaged, { model, shape, latentDim: DIM, steps: 100, starts: 0, signal: controller.signal, onStep: ({ step }) => void (step === 2 && controller.abort()) });
    expect(result.aborted).toBe(true);
    expect(result.steps).toBe(2);
  });
});
