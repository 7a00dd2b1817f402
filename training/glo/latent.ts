/**
 * Operations on latent codes and on the latent table (a Float32Array [count, dim], row i = code of
 * training image i). Plain arrays, not tensors: the table lives outside tf.variables so that a step
 * touches only the batch's rows (see the trainer), and the site can use the same functions.
 */
export type LatentProjection = 'ball' | 'sphere';

export function norm(v: ArrayLike<number>, offset = 0, dim = v.length): number {
  let s = 0;
  for (let i = 0; i < dim; i++) s += v[offset + i] * v[offset + i];
  return Math.sqrt(s);
}

/** z <- z / max(|z|, 1): the paper's constraint to the closed unit ball; shorter codes are left alone. */
export function projectToUnitBall(table: Float32Array, dim: number, rows?: ArrayLike<number>): void {
  forRows(table, dim, rows, (offset) => {
    const n = norm(table, offset, dim);
    if (n > 1) for (let i = 0; i < dim; i++) table[offset + i] /= n;
  });
}

/** z <- z / |z|: codes on the unit sphere (a zero code is left at zero, it has no direction). */
export function projectToSphere(table: Float32Array, dim: number, rows?: ArrayLike<number>): void {
  forRows(table, dim, rows, (offset) => {
    const n = norm(table, offset, dim);
    if (n > 0) for (let i = 0; i < dim; i++) table[offset + i] /= n;
  });
}

export function project(table: Float32Array, dim: number, mode: LatentProjection, rows?: ArrayLike<number>): void {
  if (mode === 'ball') projectToUnitBall(table, dim, rows);
  else projectToSphere(table, dim, rows);
}

function forRows(table: Float32Array, dim: number, rows: ArrayLike<number> | undefined, f: (offset: number) => void) {
  if (rows) for (let r = 0; r < rows.length; r++) f(rows[r] * dim);
  else for (let offset = 0; offset < table.length; offset += dim) f(offset);
}

/** Row i of the table (a copy). */
export function latentRow(table: Float32Array, dim: number, i: number): Float32Array {
  return table.slice(i * dim, (i + 1) * dim);
}

/** The rows `indices`, stacked into a new [indices.length, dim] array. */
export function gatherRows(table: Float32Array, dim: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * dim);
  for (let r = 0; r < indices.length; r++) out.set(table.subarray(indices[r] * dim, (indices[r] + 1) * dim), r * dim);
  return out;
}

/** Arrays of rows (codes, images) stacked end to end into one new array, in order. */
export function stackRows(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function lerp(a: ArrayLike<number>, b: ArrayLike<number>, t: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + (b[i] - a[i]) * t;
  return out;
}

/**
 * Spherical interpolation (Shoemake): moves along the great circle between the directions of a and b
 * while interpolating the norms linearly, so intermediate codes keep a typical norm instead of
 * shrinking through the centre of the ball as lerp does. Falls back to lerp for (anti)parallel codes.
 */
export function slerp(a: ArrayLike<number>, b: ArrayLike<number>, t: number): Float32Array {
  const na = norm(a);
  const nb = norm(b);
  if (na === 0 || nb === 0) return lerp(a, b, t);
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] / na) * (b[i] / nb);
  dot = Math.min(1, Math.max(-1, dot));
  const omega = Math.acos(dot);
  if (Math.sin(omega) < 1e-6) return lerp(a, b, t);
  const wa = Math.sin((1 - t) * omega) / Math.sin(omega);
  const wb = Math.sin(t * omega) / Math.sin(omega);
  const scale = na + (nb - na) * t;
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = scale * (wa * (a[i] / na) + wb * (b[i] / nb));
  return out;
}

/** `steps` codes from a to b inclusive. */
export function interpolate(a: ArrayLike<number>, b: ArrayLike<number>, steps: number, mode: 'lerp' | 'slerp' = 'slerp'): Float32Array[] {
  const f = mode === 'lerp' ? lerp : slerp;
  return Array.from({ length: steps }, (_, i) => f(a, b, steps === 1 ? 0 : i / (steps - 1)));
}

/** Latent arithmetic a - b + c (e.g. "smiling woman" - "woman" + "man"), projected back into Z. */
export function arithmetic(a: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>, projection: LatentProjection = 'ball'): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] - b[i] + c[i];
  project(out, out.length, projection);
  return out;
}

/** Mean code of the given rows (e.g. a class), for class-mean arithmetic. */
export function meanCode(table: Float32Array, dim: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(dim);
  for (let r = 0; r < rows.length; r++) for (let i = 0; i < dim; i++) out[i] += table[rows[r] * dim + i];
  for (let i = 0; i < dim; i++) out[i] /= Math.max(rows.length, 1);
  return out;
}
