// decodeImage must hand training exactly imageSize x imageSize x channels uint8 pixels, whatever the file
// carries (EXIF rotation, alpha, grey, odd aspect, any supported format), and fail with a typed reason.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, ImageDecodeError, sniffImageFormat } from '../../../training/data/decode-image.ts';
import { resizePixels } from '../../../training/data/resize-pixels.ts';
import { BLUE, GREEN, halves, noisePng, RED, type Rgb } from '../../helpers/image-corpus.ts';

const pixelAt = (pixels: Uint8Array, size: number, channels: number, x: number, y: number) =>
  Array.from(pixels.subarray((y * size + x) * channels, (y * size + x + 1) * channels));

function expectAllPixels(pixels: Uint8Array, colour: number[], tolerance: number) {
  const channels = colour.length;
  for (let i = 0; i < pixels.length; i += channels) {
    for (let c = 0; c < channels; c++) {
      if (Math.abs(pixels[i + c] - colour[c]) > tolerance) {
        throw new Error(`pixel ${i / channels} is ${Array.from(pixels.subarray(i, i + channels))}, expected ${colour} +- ${tolerance}`);
      }
    }
  }
}

async function decodeError(bytes: Uint8Array, opts = { imageSize: 8, channels: 3 as const }) {
  const error = await decodeImage(bytes, opts).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ImageDecodeError);
  return error as ImageDecodeError;
}

const solid = (width: number, height: number, [r, g, b]: Rgb) =>
  sharp({ create: { width, height, channels: 3, background: { r, g, b } } });

describe('decodeImage', () => {
  it.each([
    ['PNG', () => solid(40, 40, RED).png().toBuffer(), 0],
    ['JPEG', () => solid(40, 40, RED).jpeg({ quality: 95 }).toBuffer(), 4],
    ['WebP', () => solid(40, 40, RED).webp({ quality: 95 }).toBuffer(), 6],
    ['GIF', () => solid(40, 40, RED).gif().toBuffer(), 6],
    ['TIFF', () => solid(40, 40, RED).tiff().toBuffer(), 0],
    ['AVIF', () => solid(40, 40, RED).avif({ quality: 90 }).toBuffer(), 6],
    ['large JPEG (sharp resize path)', () => solid(900, 700, RED).jpeg({ quality: 95 }).toBuffer(), 4],
    ['16-bit PNG', () => solid(40, 40, RED).toColourspace('rgb16').png().toBuffer(), 1],
    // Stored as Display P3 values (about 202, 54, 50): only a colour-managed decode gets RED back.
    ['PNG with a Display P3 profile', () => solid(40, 40, RED).withIccProfile('p3').png().toBuffer(), 3],
    ['JPEG with a Display P3 profile', () => solid(40, 40, RED).withIccProfile('p3').jpeg({ quality: 95 }).toBuffer(), 5],
  ])('decodes %s to imageSize x imageSize x 3', async (_name, make, tolerance) => {
    const pixels = await decodeImage(await make(), { imageSize: 16, channels: 3 });
    expect(pixels).toHaveLength(16 * 16 * 3);
    expectAllPixels(pixels, RED, tolerance);
  });

  it('applies the EXIF orientation before cropping', async () => {
    // Stored 60x30, red left / blue right, orientation 6: displayed 30x60 with red on top.
    const jpeg = await sharp(await halves(60, 30, RED, BLUE)).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const pixels = await decodeImage(jpeg, { imageSize: 16, channels: 3 });
    const topLeft = pixelAt(pixels, 16, 3, 1, 1);
    const bottomLeft = pixelAt(pixels, 16, 3, 1, 14);
    const topRight = pixelAt(pixels, 16, 3, 14, 1);
    expect(topLeft[0]).toBeGreaterThan(180); // red
    expect(topRight[0]).toBeGreaterThan(180); // red across the top: the image was rotated
    expect(bottomLeft[2]).toBeGreaterThan(180); // blue at the bottom
  });

  it('center-crops non-square images instead of squashing them', async () => {
    // 90x30 in thirds: blue | red | blue. The centered 30x30 square is all red.
    const raw = Buffer.alloc(90 * 30 * 3);
    for (let y = 0; y < 30; y++) for (let x = 0; x < 90; x++) raw.set(x >= 30 && x < 60 ? RED : BLUE, (y * 90 + x) * 3);
    const png = await sharp(raw, { raw: { width: 90, height: 30, channels: 3 } }).png().toBuffer();
    expectAllPixels(await decodeImage(png, { imageSize: 10, channels: 3 }), RED, 2);
  });

  it('composites transparent pixels onto the background (white by default)', async () => {
    const rgba = Buffer.alloc(32 * 32 * 4);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) rgba.set(x < 16 ? [255, 0, 0, 0] : [...GREEN, 255], (y * 32 + x) * 4);
    const png = await sharp(rgba, { raw: { width: 32, height: 32, channels: 4 } }).png().toBuffer();
    const onBlue = await decodeImage(png, { imageSize: 16, channels: 3, background: [0, 0, 255] });
    expect(pixelAt(onBlue, 16, 3, 2, 8)).toEqual([0, 0, 255]);
    expect(pixelAt(onBlue, 16, 3, 13, 8)).toEqual(GREEN);
    const onWhite = await decodeImage(png, { imageSize: 16, channels: 3 });
    expect(pixelAt(onWhite, 16, 3, 2, 8)).toEqual([255, 255, 255]);
  });

  it('blends half-transparent pixels like sharp flatten, and converts to grey like libvips', async () => {
    const half = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 128 / 255 } } })
      .png()
      .toBuffer();
    expectAllPixels(await decodeImage(half, { imageSize: 8, channels: 3, background: [0, 0, 255] }), [128, 0, 127], 1);
    // Linear-light Rec. 709 luminance of pure red, re-encoded as sRGB: 127 (Rec. 601 luma would say 76).
    const red = await solid(8, 8, [255, 0, 0]).png().toBuffer();
    const grey = await decodeImage(red, { imageSize: 8, channels: 1 });
    expect(grey).toHaveLength(64);
    expectAllPixels(grey, [127], 1);
    // And the large-image path (sharp's own b-w conversion) agrees.
    const bigRed = await solid(400, 400, [255, 0, 0]).png().toBuffer();
    expectAllPixels(await decodeImage(bigRed, { imageSize: 8, channels: 1 }), [127], 1);
  });

  it('replicates grey images into 3 channels', async () => {
    const grey = await solid(20, 20, [90, 90, 90]).toColourspace('b-w').png().toBuffer();
    expectAllPixels(await decodeImage(grey, { imageSize: 8, channels: 3 }), [90, 90, 90], 0);
    expectAllPixels(await decodeImage(grey, { imageSize: 8, channels: 1 }), [90], 0);
  });

  it('fails with a typed reason for empty, non-image, unsupported, truncated and oversized input', async () => {
    expect((await decodeError(new Uint8Array(0))).reason).toBe('empty');
    const random = await decodeError(Uint8Array.from({ length: 500 }, (_, i) => (i * 31 + 7) % 256));
    expect(random.reason).toBe('not-an-image');
    expect(random.message).toMatch(/first bytes: [0-9a-f]{16}/);
    expect((await decodeError(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).reason).toBe('unsupported-format');
    const png = await noisePng(40, 40);
    const truncated = await decodeError(png.subarray(0, png.length / 2));
    expect(truncated.reason).toBe('corrupt');
    expect(truncated.message).toMatch(/corrupt or truncated PNG/);
    const jpeg = await sharp(png).jpeg().toBuffer();
    expect((await decodeError(jpeg.subarray(0, jpeg.length / 2))).reason).toBe('corrupt');
    const big = await decodeError(png, { imageSize: 8, channels: 3, maxInputPixels: 1000 } as never);
    expect(big.reason).toBe('too-many-pixels');
    expect(big.message).toMatch(/40x40 .* exceeds the limit/);
  });

  it('recognizes formats by their signature, not their name', async () => {
    expect(sniffImageFormat(await solid(4, 4, RED).png().toBuffer())).toBe('png');
    expect(sniffImageFormat(await solid(4, 4, RED).avif().toBuffer())).toBe('avif');
    expect(sniffImageFormat(await solid(4, 4, RED).tiff().toBuffer())).toBe('tiff');
    expect(sniffImageFormat(Buffer.from('BM....'))).toEqual({ unsupported: 'BMP' });
    expect(sniffImageFormat(Buffer.from('hello'))).toBeUndefined();
  });
});

describe('resizePixels', () => {
  it('is the identity at the same size and keeps flat images flat', () => {
    const pixels = Uint8Array.from({ length: 5 * 5 * 3 }, (_, i) => (i * 37) % 256);
    expect(resizePixels(pixels, 5, 5, 3, 5)).toEqual(pixels);
    const flat = new Uint8Array(30 * 20).fill(77);
    for (const size of [7, 16, 20, 45]) expect(resizePixels(flat, 30, 20, 1, size).every((v) => v === 77)).toBe(true);
  });

  it('agrees with sharp (lanczos3) to within a grey level on square images', async () => {
    // A smooth but non-trivial image: blurred noise. (On non-square inputs the two differ by where the
    // centered crop starts, a fraction of a pixel: sharp crops after resizing, we crop before.)
    const { data, info } = await sharp(await noisePng(80, 80)).blur(3).raw().toBuffer({ resolveWithObject: true });
    for (const size of [16, 32, 48, 128]) {
      const ours = resizePixels(data, info.width, info.height, 3, size);
      const theirs = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
        .resize(size, size, { fit: 'cover' })
        .raw()
        .toBuffer();
      let total = 0;
      for (let i = 0; i < ours.length; i++) total += Math.abs(ours[i] - theirs[i]);
      expect(total / ours.length, `size ${size}`).toBeLessThan(1);
    }
  });
});
