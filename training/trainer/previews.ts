import sharp from 'sharp';
import { valueToByte } from '../glo/pixels.ts';

/**
 * Sprite sheets and preview grids as PNG. Tiles are uint8 HWC images of one size; a grid is filled row
 * by row. Grayscale tiles stay one channel.
 */
export interface TileSet {
  pixels: Uint8Array;
  count: number;
  size: number;
  channels: 1 | 3;
}

/** Generator output in [-1, 1] to uint8 (rounded, clipped). */
export function toUint8(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = valueToByte(values[i]);
  return out;
}

export async function gridPng(tiles: TileSet, columns: number, gap = 0, background = 255): Promise<{ png: Uint8Array; columns: number; rows: number }> {
  const { size, channels, count } = tiles;
  const rows = Math.max(1, Math.ceil(count / columns));
  const width = columns * size + (columns - 1) * gap;
  const height = rows * size + (rows - 1) * gap;
  const canvas = new Uint8Array(width * height * channels).fill(background);
  const tileBytes = size * size * channels;
  for (let t = 0; t < count; t++) {
    const x0 = (t % columns) * (size + gap);
    const y0 = Math.floor(t / columns) * (size + gap);
    for (let y = 0; y < size; y++) {
      const src = t * tileBytes + y * size * channels;
      canvas.set(tiles.pixels.subarray(src, src + size * channels), ((y0 + y) * width + x0) * channels);
    }
  }
  const png = await sharp(canvas, { raw: { width, height, channels } }).png({ compressionLevel: 9 }).toBuffer();
  return { png: new Uint8Array(png), columns, rows };
}
