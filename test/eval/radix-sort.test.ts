import { afterAll, describe, expect, it } from 'vitest';
import { closeColumnSortHelpers, columnSortHelpersReady, setColumnSortHelpers, sharedFloat32, sortColumns } from '../../training/eval/column-sort.ts';
import { sortFloat32 } from '../../training/eval/radix-sort.ts';
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

describe('sortColumns (several threads)', () => {
  const rows = 65_536;
  const columns = 48;
  const unsorted = (seed: number) => new Random(seed).normalArray(rows * columns);
  const expectColumnsSorted = (values: Float32Array, original: Float32Array) => {
    for (let j = 0; j < columns; j++) {
      const expected = original.slice(j * rows, (j + 1) * rows).sort();
      const got = values.subarray(j * rows, (j + 1) * rows);
      let same = true;
      for (let i = 0; i < rows && same; i++) same = Object.is(got[i], expected[i]);
      expect(same, `column ${j}`).toBe(true);
    }
  };

  afterAll(async () => {
    await closeColumnSortHelpers();
  });

  it('sorts every column exactly as sortFloat32 would, a helper thread taking part', async () => {
    setColumnSortHelpers(1);
    await columnSortHelpersReady();
    const original = unsorted(5);
    const values = sharedFloat32(rows * columns);
    values.set(original);
    const byCaller = sortColumns(values, rows, columns);
    expectColumnsSorted(values, original);
    // Not vacuous: the helper sorted some columns, the calling thread the others.
    expect(byCaller).toBeGreaterThan(0);
    expect(byCaller).toBeLessThan(columns);
  });

  it('sorts on the calling thread alone without helpers, or when the values are not shared', async () => {
    const original = unsorted(6);
    const plain = Float32Array.from(original);
    expect(sortColumns(plain, rows, columns)).toBe(columns);
    expectColumnsSorted(plain, original);
    setColumnSortHelpers(0);
    const shared = sharedFloat32(rows * columns);
    shared.set(original);
    expect(sortColumns(shared, rows, columns)).toBe(columns);
    expectColumnsSorted(shared, original);
  });
});
