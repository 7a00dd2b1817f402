// A small folder of good and bad image files, generated with sharp so no binary fixtures live in the repo.
// Each good file is a solid colour (or a known pattern) so tests can check decoded pixels, and each bad
// file stands for one way real datasets go wrong.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

export type Rgb = [number, number, number];

export interface GoodImage {
  name: string;
  /** Expected colour of every output pixel (lossy formats: approximately); absent for patterned files. */
  colour?: Rgb;
}

export interface ImageCorpus {
  dir: string;
  /** Sorted by name, as a dataset orders them. */
  good: GoodImage[];
  /** Files that must be reported in Dataset.skipped, with a pattern their reason must match. */
  bad: { name: string; reason: RegExp }[];
  /** Files that must be ignored silently (neither loaded nor reported). */
  ignored: string[];
  /** maxFileBytes to pass so that the oversized file is skipped and every good one is kept. */
  maxFileBytes: number;
}

const solid = (width: number, height: number, [r, g, b]: Rgb) =>
  sharp({ create: { width, height, channels: 3, background: { r, g, b } } });

/** Left half `left`, right half `right`: orientation and cropping become visible in the output pixels. */
export async function halves(width: number, height: number, left: Rgb, right: Rgb): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels.set(x < width / 2 ? left : right, (y * width + x) * 3);
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** Random RGB noise: incompressible, so the PNG's size is predictable (about width*height*3 bytes). */
export function noisePng(width: number, height: number, seed = 1): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  let state = seed;
  for (let i = 0; i < pixels.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    pixels[i] = state >>> 24;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

export const RED: Rgb = [220, 30, 40];
export const BLUE: Rgb = [30, 40, 220];
export const GREEN: Rgb = [20, 200, 60];

export async function makeImageCorpus(dir: string): Promise<ImageCorpus> {
  await mkdir(dir, { recursive: true });
  const files: Record<string, Buffer | string> = {};

  files['a-solid.png'] = await solid(48, 48, RED).png().toBuffer();
  files['b-solid.jpg'] = await solid(48, 48, BLUE).jpeg({ quality: 95 }).toBuffer();
  files['c-solid.webp'] = await solid(48, 48, GREEN).webp({ quality: 95 }).toBuffer();
  files['d-solid.gif'] = await solid(48, 48, RED).gif().toBuffer();
  files['e-solid.tiff'] = await solid(48, 48, BLUE).tiff().toBuffer();
  files['f-solid.avif'] = await solid(48, 48, GREEN).avif({ quality: 90 }).toBuffer();
  // A large photo-sized file takes sharp's own resize path rather than the small-image JS path.
  files['g-large.jpg'] = await solid(640, 480, RED).jpeg({ quality: 95 }).toBuffer();
  // Stored 60x30 (red left, blue right) with EXIF orientation 6 ("rotate 90 degrees clockwise to display"):
  // displayed 30x60 with red on top, so the center crop is red above blue, not red beside blue.
  files['h-rotated.jpg'] = await sharp(await halves(60, 30, RED, BLUE)).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  // Left half fully transparent, right half opaque green: the left must come out as the background colour.
  const rgba = Buffer.alloc(32 * 32 * 4);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) rgba.set(x < 16 ? [255, 0, 0, 0] : [...GREEN, 255], (y * 32 + x) * 4);
  }
  files['i-transparent.png'] = await sharp(rgba, { raw: { width: 32, height: 32, channels: 4 } }).png().toBuffer();

  const oversized = await noisePng(100, 100);
  const maxFileBytes = Math.max(...Object.values(files).map((f) => f.length)) + 1000;
  if (oversized.length <= maxFileBytes) throw new Error('corpus: the oversized file is not larger than maxFileBytes');

  const truncated = await noisePng(40, 40, 7);
  files['bad-empty.png'] = Buffer.alloc(0);
  files['bad-truncated.png'] = truncated.subarray(0, Math.floor(truncated.length / 2));
  files['bad-notes.txt'] = 'not an image\n';
  files['bad-random.jpg'] = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 7919 + 13) % 256));
  files['bad-oversized.png'] = oversized;
  files['bad-drawing.svg'] = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>';
  // Ignored without a report: hidden files and the job spec `glo upload` puts next to the images.
  files['.DS_Store'] = 'mac litter';
  files['glo.json'] = '{"epochs":1}';

  for (const [name, data] of Object.entries(files)) await writeFile(path.join(dir, name), data);

  return {
    dir,
    good: [
      { name: 'a-solid.png', colour: RED },
      { name: 'b-solid.jpg', colour: BLUE },
      { name: 'c-solid.webp', colour: GREEN },
      { name: 'd-solid.gif', colour: RED },
      { name: 'e-solid.tiff', colour: BLUE },
      { name: 'f-solid.avif', colour: GREEN },
      { name: 'g-large.jpg', colour: RED },
      { name: 'h-rotated.jpg' },
      { name: 'i-transparent.png' },
    ],
    bad: [
      { name: 'bad-drawing.svg', reason: /unsupported image format \.svg/ },
      { name: 'bad-empty.png', reason: /empty file \(0 bytes\)/ },
      { name: 'bad-notes.txt', reason: /not an image file extension \(\.txt\)/ },
      { name: 'bad-oversized.png', reason: /over the .* limit \(maxFileBytes\)/ },
      { name: 'bad-random.jpg', reason: /not a PNG, JPEG, WebP, GIF, TIFF or AVIF image/ },
      { name: 'bad-truncated.png', reason: /corrupt or truncated PNG/ },
    ],
    ignored: ['.DS_Store', 'glo.json'],
    maxFileBytes,
  };
}
