import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../training/glo/random.ts';
import { normalizePerChannel, randomDirections, slicedWasserstein, swd, swdAgainst, swdBetween, swdDescriptors, swdResolutions } from '../../training/eval/swd.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Smooth coloured blobs on a light background, NHWC in [-1, 1]. */
function blobs(count: number, size: number, seed: number): Float32Array {
  const random = new Random(seed);
  const out = new Float32Array(count * size * size * 3);
  for (let n = 0; n < count; n++) {
    const cx = random.uniform() * size;
    const cy = random.uniform() * size;
    const r = 3 + random.uniform() * size * 0.3;
    const colour = [random.uniform() * 2 - 1, random.uniform() * 2 - 1, random.uniform() * 2 - 1];
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
      const inside = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (r * r));
      for (let c = 0; c < 3; c++) out[((n * size + y) * size + x) * 3 + c] = 0.8 * (1 - inside) + colour[c] * inside;
    }
  }
  return out;
}

const options = { patchesPerImage: 32, directions: 32, repeats: 2, seed: 3 };

describe('sliced Wasserstein distance (ProGAN protocol)', () => {
  it('levels run from the image size down to 16 px', () => {
    expect(swdResolutions(32)).toEqual([32, 16]);
    expect(swdResolutions(64)).toEqual([64, 32, 16]);
    expect(swdResolutions(128, 32)).toEqual([128, 64, 32]);
  });

  it('is the exact 1-D Wasserstein-1 distance for 1-D descriptors', () => {
    // In one dimension every unit direction is +1 or -1, and W1 of equal-size sets is mean |sorted a - sorted b|.
    const a = Float32Array.from([0.3, -1, 2, 0.5]);
    const b = Float32Array.from([1, 0, -0.5, 4]);
    const sa = Array.from(a).sort((x, y) => x - y);
    const sb = Array.from(b).sort((x, y) => x - y);
    const exact = sa.reduce((s, v, i) => s + Math.abs(v - sb[i]), 0) / 4;
    expect(slicedWasserstein(a, b, 4, 1, { directions: 5, repeats: 2, seed: 1 })).toBeCloseTo(exact, 6);
  });

  it('directions are unit vectors; descriptors are normalized per channel', () => {
    const d = randomDirections(6, 4, new Random(1));
    for (let j = 0; j < 4; j++) {
      let s = 0;
      for (let i = 0; i < 6; i++) s += d[i * 4 + j] ** 2;
      expect(s).toBeCloseTo(1, 6);
    }
    const rows = 50;
    const x = new Random(2).normalArray(rows * 2 * 3);
    for (let i = 0; i < x.length; i++) x[i] = x[i] * (i % 6 < 3 ? 5 : 0.1) + (i % 6 < 3 ? 10 : -2);
    normalizePerChannel(x, rows, 2, 3);
    for (const c of [0, 1]) {
      const v = Array.from({ length: rows * 3 }, (_, k) => x[Math.floor(k / 3) * 6 + c * 3 + (k % 3)]);
      const mean = v.reduce((s, t) => s + t, 0) / v.length;
      const variance = v.reduce((s, t) => s + (t - mean) ** 2, 0) / v.length;
      expect(mean).toBeCloseTo(0, 5);
      expect(variance).toBeCloseTo(1, 4);
    }
  });

  it('is 0 between identical sets and deterministic for a seed', () => {
    const images = blobs(12, 32, 1);
    const result = swd(images, images.slice(), 12, 32, 3, options);
    expect(result.resolutions).toEqual([32, 16]);
    for (const v of result.levels) expect(v).toBeLessThan(1e-6);
    const other = blobs(12, 32, 2);
    const once = swd(images, other, 12, 32, 3, options);
    expect(swd(images, other, 12, 32, 3, options)).toEqual(once);
    expect(once.mean).toBeGreaterThan(1);
  });

  it('grows monotonically with added noise', () => {
    const count = 16;
    const clean = blobs(count, 32, 5);
    const reference = swdDescriptors(clean, count, 32, 3, options);
    const noise = new Random(9).normalArray(clean.length);
    const distances = [0, 0.02, 0.05, 0.1, 0.2, 0.4].map((sigma) => {
      const noisy = Float32Array.from(clean, (v, i) => v + sigma * noise[i]);
      const d = swdDescriptors(noisy, count, 32, 3, options);
      const levels = reference.levels.map((l, j) => 1e3 * slicedWasserstein(l, d.levels[j], d.rows, d.dim, options));
      return levels.reduce((s, v) => s + v, 0) / levels.length;
    });
    expect(distances[0]).toBeLessThan(1e-6);
    for (let i = 1; i < distances.length; i++) expect(distances[i], `sigma step ${i}: ${distances.join(', ')}`).toBeGreaterThan(distances[i - 1]);
  });

  it('swdAgainst gives each set exactly what swdBetween gives it against the same reference', () => {
    const count = 16;
    const reference = swdDescriptors(blobs(count, 32, 5), count, 32, 3, options);
    const others = [6, 7, 8].map((seed) => swdDescriptors(blobs(count, 32, seed), count, 32, 3, options));
    const together = swdAgainst(reference, others, options);
    others.forEach((set, k) => expect(together[k]).toEqual(swdBetween(set, reference, options)));
    expect(new Set(together.map((r) => r.mean)).size).toBe(3);
  });
});

