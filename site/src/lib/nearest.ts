/**
 * The memorization check: which training images are closest, in pixels, to an image on screen? A generator
 * that only memorized its training set would show near-copies (distance ~0) for samples and morphs. Plain L2 over
 * the atlas bytes; a few million operations for a few thousand small tiles, fast enough without tfjs.
 */
import { valueToByte } from '../../../training/glo/pixels.ts';

export interface Neighbour {
  index: number;
  /** Root-mean-square pixel difference, pixels in [0, 1]. */
  rmse: number;
}

/** The k tiles of `tiles` ([count, ppi] bytes) nearest to `query` ([ppi] values in [-1, 1]), closest first. */
export function nearestTiles(query: ArrayLike<number>, tiles: Uint8Array, pixelsPerImage: number, k: number): Neighbour[] {
  const count = Math.floor(tiles.length / pixelsPerImage);
  const target = new Float32Array(pixelsPerImage);
  // Compare in bytes, as the tiles are stored; the query is rounded and clipped the way it is displayed.
  for (let i = 0; i < pixelsPerImage; i++) target[i] = valueToByte(query[i]);
  const best: Neighbour[] = [];
  for (let n = 0; n < count; n++) {
    let s = 0;
    const base = n * pixelsPerImage;
    for (let i = 0; i < pixelsPerImage; i++) {
      const d = tiles[base + i] - target[i];
      s += d * d;
    }
    if (best.length < k || s < best[best.length - 1].rmse) {
      best.push({ index: n, rmse: s });
      best.sort((x, y) => x.rmse - y.rmse);
      if (best.length > k) best.pop();
    }
  }
  return best.map(({ index, rmse }) => ({ index, rmse: Math.sqrt(rmse / pixelsPerImage) / 255 }));
}
