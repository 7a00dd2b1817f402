import { describe, expect, it } from 'vitest';
import { sortFloat32 } from '../../training/glo/radix-sort.ts';
import { Random } from '../../training/glo/random.ts';

describe('sortFloat32', () => {
  it('orders exactly like Float32Array.prototype.sort: negatives, -0 before +0, infinities, duplicates, NaN last', () => {
    const random = new Random(3);
    const special = [0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 3.4e38, -3.4e38, 1, 1, -1];
    for (const n of [0, 1, 2, 17, 5000, 70_000]) {
      const values = Float32Array.from({ length: n }, (_, i) => (i < special.length && n > 20 ? special[i] : (random.uniform() - 0.5) * 10 ** random.int(8)));
      const expected = values.slice().sort();
      sortFloat32(values);
      expect(values.length).toBe(n);
      for (let i = 0; i < n; i++) expect(Object.is(values[i], expected[i]) || (Number.isNaN(values[i]) && Number.isNaN(expected[i]))).toBe(true);
    }
  });

  it('sorts a subarray in place and leaves the rest of its buffer alone', () => {
    const buffer = Float32Array.from([9, 3, 1, 2, -5, 7]);
    sortFloat32(buffer.subarray(1, 5));
    expect(Array.from(buffer)).toEqual([9, -5, 1, 2, 3, 7]);
  });
});
