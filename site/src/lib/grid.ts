/**
 * The interpolation grid between four codes: corner a top-left, b top-right, c bottom-left, d bottom-right, and
 * bilinear interpolation in code space in between (lerp along the rows, then down the columns), as the paper's
 * figures do between four images. Built from training/glo's lerp.
 */
import { lerp, project, type LatentProjection } from '../../../training/glo/latent.ts';

/** side x side codes, row-major, as one [side * side, dim] array; projected into the latent set when asked. */
export function bilinearGrid(a: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>, d: ArrayLike<number>, side: number, projection?: LatentProjection): Float32Array {
  const dim = a.length;
  const out = new Float32Array(side * side * dim);
  for (let row = 0; row < side; row++) {
    const v = side === 1 ? 0 : row / (side - 1);
    for (let col = 0; col < side; col++) {
      const u = side === 1 ? 0 : col / (side - 1);
      out.set(lerp(lerp(a, b, u), lerp(c, d, u), v), (row * side + col) * dim);
    }
  }
  if (projection) project(out, dim, projection);
  return out;
}
