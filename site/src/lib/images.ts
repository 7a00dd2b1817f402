/**
 * Pixels between the generator and the page. The generator speaks NHWC float in [-1, 1] (tanh), 1 or 3
 * channels; canvases speak RGBA uint8. The conversions round and clip exactly as the trainer's previews do
 * (training/trainer/previews.ts toUint8), so a pixel here equals a pixel there. Pure functions on arrays: Node tests
 * call them; toImageData/toCanvas are the only DOM parts.
 */
import { psnrFromMse } from '../../../training/glo/metrics.ts';
import { byteToValue, valueToByte, valuesPerImage } from '../../../training/glo/pixels.ts';

export interface ImageShape {
  size: number;
  channels: 1 | 3;
}

export function pixelsPerImage({ size, channels }: ImageShape): number {
  return valuesPerImage({ imageSize: size, channels });
}


/** Image `index` of a [n, size, size, channels] batch in [-1, 1] to RGBA bytes (grey repeated, alpha 255). */
export function valuesToRgba(values: ArrayLike<number>, shape: ImageShape, index = 0): Uint8ClampedArray<ArrayBuffer> {
  const { size, channels } = shape;
  const pixels = size * size;
  const rgba = new Uint8ClampedArray(new ArrayBuffer(pixels * 4));
  const base = index * pixels * channels;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = valueToByte(values[base + p * channels + (channels === 1 ? 0 : c)]);
    rgba[p * 4 + 3] = 255;
  }
  return rgba;
}

/** RGBA bytes to [size, size, channels] values in [-1, 1] (grey from the red channel, as the atlas stores it). */
export function rgbaToValues(rgba: ArrayLike<number>, shape: ImageShape): Float32Array {
  const { size, channels } = shape;
  const out = new Float32Array(pixelsPerImage(shape));
  for (let p = 0; p < size * size; p++) {
    for (let c = 0; c < channels; c++) out[p * channels + c] = byteToValue(rgba[p * 4 + c]);
  }
  return out;
}

/** RGBA bytes to [size, size, channels] bytes (the atlas tiles' layout, for nearest-neighbour search). */
export function rgbaToBytes(rgba: ArrayLike<number>, shape: ImageShape): Uint8Array {
  const { size, channels } = shape;
  const out = new Uint8Array(pixelsPerImage(shape));
  for (let p = 0; p < size * size; p++) for (let c = 0; c < channels; c++) out[p * channels + c] = rgba[p * 4 + c];
  return out;
}

/** One tile of a row-major sprite sheet (RGBA, `sheetWidth` px wide) as RGBA bytes. */
export function sheetTile(sheet: ArrayLike<number>, sheetWidth: number, tileSize: number, columns: number, index: number): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(new ArrayBuffer(tileSize * tileSize * 4));
  const x0 = (index % columns) * tileSize;
  const y0 = Math.floor(index / columns) * tileSize;
  for (let y = 0; y < tileSize; y++) {
    const from = ((y0 + y) * sheetWidth + x0) * 4;
    for (let i = 0; i < tileSize * 4; i++) out[y * tileSize * 4 + i] = sheet[from + i];
  }
  return out;
}

/**
 * PSNR (dB, pixels in [0, 1]) of two images in [-1, 1]; the prediction is clipped to [-1, 1] first and the
 * result capped at 100 dB, as training/glo/metrics.ts meanImageMetrics does for the run's figures.
 */
export function psnr(predicted: ArrayLike<number>, target: ArrayLike<number>, offset = 0, length = target.length): number {
  let s = 0;
  for (let i = 0; i < length; i++) {
    const p = Math.min(1, Math.max(-1, predicted[offset + i]));
    const d = (p - target[i]) * 0.5;
    s += d * d;
  }
  return Math.min(psnrFromMse(s / length), 100);
}

/** Lays RGBA tiles side by side (a strip) or in a grid, with `gap` px of white between them. */
export function tileRgba(tiles: Uint8ClampedArray[], tileSize: number, columns: number, gap = 0): { rgba: Uint8ClampedArray<ArrayBuffer>; width: number; height: number } {
  const rows = Math.max(1, Math.ceil(tiles.length / columns));
  const width = columns * tileSize + (columns - 1) * gap;
  const height = rows * tileSize + (rows - 1) * gap;
  const rgba = new Uint8ClampedArray(new ArrayBuffer(width * height * 4)).fill(255);
  tiles.forEach((tile, t) => {
    const x0 = (t % columns) * (tileSize + gap);
    const y0 = Math.floor(t / columns) * (tileSize + gap);
    for (let y = 0; y < tileSize; y++) rgba.set(tile.subarray(y * tileSize * 4, (y + 1) * tileSize * 4), ((y0 + y) * width + x0) * 4);
  });
  return { rgba, width, height };
}

/** Each pixel repeated `scale` x `scale` times (nearest neighbour: no smoothing invents pixels). */
export function upscaleNearest(rgba: ArrayLike<number>, width: number, height: number, scale: number): { rgba: Uint8ClampedArray<ArrayBuffer>; width: number; height: number } {
  const w = width * scale;
  const out = new Uint8ClampedArray(new ArrayBuffer(w * height * scale * 4));
  for (let y = 0; y < height * scale; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < w; x++) {
      const from = (sy * width + Math.floor(x / scale)) * 4;
      const to = (y * w + x) * 4;
      out[to] = rgba[from];
      out[to + 1] = rgba[from + 1];
      out[to + 2] = rgba[from + 2];
      out[to + 3] = rgba[from + 3];
    }
  }
  return { rgba: out, width: w, height: height * scale };
}

/** A download's file name: the run, the view, and the state that reproduces it, in safe characters. */
export function downloadName(runId: string, view: string, parts: (string | number | undefined)[] = []): string {
  const text = [runId, view, ...parts.filter((p) => p !== undefined && p !== '')].join('-');
  return `${text.replace(/[^A-Za-z0-9._=+-]+/g, '_').replace(/_+/g, '_').slice(0, 180)}.png`;
}

// --- DOM ---

export function toImageData(rgba: Uint8ClampedArray<ArrayBuffer>, width: number, height = width): ImageData {
  return new ImageData(rgba, width, height);
}

/** Paints RGBA bytes on a canvas at their native size (CSS scales it, pixelated). */
export function paint(canvas: HTMLCanvasElement, rgba: Uint8ClampedArray<ArrayBuffer>, width: number, height = width): void {
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  canvas.getContext('2d')!.putImageData(toImageData(rgba, width, height), 0, 0);
}

/** A canvas's pixels back as RGBA bytes. */
export function readCanvas(canvas: HTMLCanvasElement): Uint8ClampedArray {
  return canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
}

/** Saves RGBA bytes as a PNG download, `scale` times larger by nearest neighbour. */
export async function downloadPng(rgba: Uint8ClampedArray<ArrayBuffer>, width: number, height: number, filename: string, scale = 1): Promise<void> {
  const big = scale === 1 ? { rgba, width, height } : upscaleNearest(rgba, width, height, scale);
  const canvas = document.createElement('canvas');
  paint(canvas, big.rgba, big.width, big.height);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('The browser could not encode the PNG.');
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
