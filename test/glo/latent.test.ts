import { describe, expect, it } from 'vitest';
import { arithmetic, gatherRows, interpolate, lerp, meanCode, norm, projectToSphere, projectToUnitBall, slerp } from '../../training/glo/latent.ts';
import { decodeLatents, encodeLatents } from '../../training/glo/latent-codec.ts';
import { latentLazyAdam, latentSgd } from '../../training/glo/latent-optimizer.ts';
import { Random } from '../../training/glo/random.ts';

describe('projection', () => {
  it('projectToUnitBall leaves short vectors alone and scales long ones to norm 1', () => {
    const table = new Float32Array([0.3, 0.4, 3, 4, 0, 0]);
    projectToUnitBall(table, 2);
    expect(Array.from(table)).toEqual([0.30000001192092896, 0.4000000059604645, 0.6000000238418579, 0.800000011920929, 0, 0]);
  });

  it('projects only the given rows', () => {
    const table = new Float32Array([3, 4, 3, 4]);
    projectToUnitBall(table, 2, [1]);
    expect(Array.from(table.slice(0, 2))).toEqual([3, 4]);
    expect(norm(table, 2, 2)).toBeCloseTo(1, 6);
  });

  it('projectToSphere puts every non-zero code at norm 1', () => {
    const table = new Random(1).normalArray(50 * 8, 0.1);
    projectToSphere(table, 8);
    for (let r = 0; r < 50; r++) expect(norm(table, r * 8, 8)).toBeCloseTo(1, 5);
  });
});

describe('interpolation', () => {
  const random = new Random(2);
  const a = random.normalArray(16, 0.3);
  const b = random.normalArray(16, 0.2);

  it('lerp and slerp hit their endpoints', () => {
    for (const f of [lerp, slerp]) {
      Array.from(f(a, b, 0)).forEach((v, i) => expect(v).toBeCloseTo(a[i], 5));
      Array.from(f(a, b, 1)).forEach((v, i) => expect(v).toBeCloseTo(b[i], 5));
    }
  });

  it('slerp interpolates the norm linearly (no shrinking through the centre) while lerp shrinks', () => {
    const mid = slerp(a, b, 0.5);
    expect(norm(mid)).toBeCloseTo((norm(a) + norm(b)) / 2, 4);
    expect(norm(lerp(a, b, 0.5))).toBeLessThan(norm(mid));
  });

  it('interpolate gives N steps from a to b', () => {
    const steps = interpolate(a, b, 5, 'lerp');
    expect(steps).toHaveLength(5);
    expect(steps[2][0]).toBeCloseTo((a[0] + b[0]) / 2, 6);
  });
});

describe('arithmetic and class means', () => {
  it('a - b + c is computed then projected into the ball', () => {
    const out = arithmetic([0.5, 0], [0, 0.5], [0, 0], 'ball');
    expect(Array.from(out)).toEqual([0.5, -0.5]);
    const big = arithmetic([1, 0], [-1, 0], [0, 1], 'ball');
    expect(norm(big)).toBeCloseTo(1, 6);
  });

  it('meanCode averages the chosen rows', () => {
    const table = new Float32Array([1, 2, 3, 4, 5, 6]);
    expect(Array.from(meanCode(table, 2, [0, 2]))).toEqual([3, 4]);
    expect(Array.from(gatherRows(table, 2, [2, 0]))).toEqual([5, 6, 1, 2]);
  });
});

describe('latent optimizers', () => {
  it('SGD and lazy Adam change only the batch rows', () => {
    for (const make of [() => latentSgd(10), () => latentLazyAdam(0.1, 4, 3)]) {
      const table = new Random(3).normalArray(12);
      const before = table.slice();
      make().update(table, 3, [1, 3], new Float32Array([1, 1, 1, -1, -1, -1]));
      expect(Array.from(table.slice(0, 3))).toEqual(Array.from(before.slice(0, 3)));
      expect(Array.from(table.slice(6, 9))).toEqual(Array.from(before.slice(6, 9)));
      expect(table[3]).toBeLessThan(before[3]);
      expect(table[9]).toBeGreaterThan(before[9]);
    }
  });
});

describe('latents.bin codec', () => {
  it('round-trips float32 little-endian and rejects a wrong size', () => {
    const table = new Random(4).normalArray(30);
    const bytes = encodeLatents(table);
    expect(bytes.byteLength).toBe(120);
    expect(new DataView(bytes.buffer).getFloat32(4, true)).toBe(table[1]);
    expect(Array.from(decodeLatents(bytes, 10, 3))).toEqual(Array.from(table));
    expect(() => decodeLatents(bytes, 10, 4)).toThrow(/120 bytes.*10 x 4/);
  });
});

describe('Random', () => {
  it('continues the same sequence from a saved state', () => {
    const r = new Random(42);
    r.uniform();
    const saved = r.state;
    const expected = [r.uniform(), r.normal(), r.int(100)];
    const resumed = new Random(saved);
    expect([resumed.uniform(), resumed.normal(), resumed.int(100)]).toEqual(expected);
  });

  it('permutation is a permutation', () => {
    const p = Array.from(new Random(5).permutation(100)).sort((x, y) => x - y);
    expect(p).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
