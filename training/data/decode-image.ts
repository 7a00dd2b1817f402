// Turns one image file into the exact tensor layout training wants: imageSize x imageSize, uint8, HWC,
// 1 or 3 channels. Everything a photo can carry that would silently corrupt training is normalized here:
// EXIF orientation, alpha, 16-bit depth, CMYK or grey colour spaces, non-square aspect.
import sharp from 'sharp';
import { resizePixels } from './resize-pixels.ts';

export interface DecodeImageOptions {
  /** Output width and height in pixels. */
  imageSize: number;
  /** 1 = greyscale, 3 = sRGB. */
  channels: 1 | 3;
  /** RGB that transparent pixels are composited onto; white by default (emoji and logos are drawn for white pages). */
  background?: [number, number, number];
  /** Refuse images with more pixels than this (a decompression bomb guard); default 100 megapixels. */
  maxInputPixels?: number;
}

export const DEFAULT_MAX_INPUT_PIXELS = 100_000_000;
export const DEFAULT_BACKGROUND: [number, number, number] = [255, 255, 255];

export type ImageDecodeReason = 'empty' | 'not-an-image' | 'unsupported-format' | 'too-many-pixels' | 'corrupt';

/** A file that cannot become a training image; `reason` is the category, the message says what exactly. */
export class ImageDecodeError extends Error {
  readonly reason: ImageDecodeReason;
  constructor(reason: ImageDecodeReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageDecodeError';
    this.reason = reason;
  }
}

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff' | 'avif';

const ascii = (bytes: Uint8Array, start: number, end: number) =>
  String.fromCharCode(...bytes.subarray(start, Math.min(end, bytes.length)));

/**
 * The format the first bytes announce, or a description of a known format sharp cannot read here, or
 * undefined for anything else. Checking the signature ourselves (instead of letting sharp guess) keeps
 * SVG, PDF and friends out of training data whatever their extension, and lets errors say what a file is.
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | { unsupported: string } | undefined {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 4) === 'PNG') return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  // Classic TIFF (II*\0 / MM\0*) and BigTIFF (II+\0 / MM\0+).
  if (['II*\0', 'MM\0*', 'II+\0', 'MM\0+'].includes(ascii(b, 0, 4))) return 'tiff';
  if (ascii(b, 4, 8) === 'ftyp') {
    // ISO-BMFF: the major brand plus compatible brands up to the end of the ftyp box.
    const boxSize = Math.min(b.length, ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0);
    const brands = [ascii(b, 8, 12)];
    for (let offset = 16; offset + 4 <= boxSize; offset += 4) brands.push(ascii(b, offset, offset + 4));
    if (brands.includes('avif') || brands.includes('avis')) return 'avif';
    if (brands.some((brand) => ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(brand))) {
      // The prebuilt libvips in sharp decodes AV1 (AVIF) but has no HEVC decoder.
      return { unsupported: 'HEIC/HEIF (HEVC)' };
    }
    return undefined;
  }
  if (ascii(b, 0, 2) === 'BM') return { unsupported: 'BMP' };
  if (ascii(b, 0, 4) === '8BPS') return { unsupported: 'Photoshop PSD' };
  if (ascii(b, 0, 4) === '%PDF') return { unsupported: 'PDF' };
  if ((b[0] === 0xff && b[1] === 0x0a) || ascii(b, 4, 8) === 'JXL ') return { unsupported: 'JPEG XL' };
  if (/^\s*(<\?xml|<svg)/i.test(ascii(b, 0, 64))) return { unsupported: 'SVG' };
  return undefined;
}

// Up to this many pixels an image is decoded by sharp as is and cropped/resized in JS (resize-pixels.ts):
// sharp's per-operation overhead dominates for small images. Above it sharp does everything, which is
// faster there and can shrink JPEG/WebP while decoding. At 256x256 the JS work is still ~1-2 ms.
const SMALL_IMAGE_PIXELS = 256 * 256;

/** Decodes, orients, flattens, center-crops and resizes one image to raw uint8 HWC pixels. */
export async function decodeImage(bytes: Uint8Array, opts: DecodeImageOptions): Promise<Uint8Array> {
  const { imageSize, channels } = opts;
  if (!Number.isInteger(imageSize) || imageSize < 1) throw new RangeError(`imageSize must be a positive integer, got ${imageSize}`);
  if (channels !== 1 && channels !== 3) throw new RangeError(`channels must be 1 or 3, got ${channels as number}`);
  const background = opts.background ?? DEFAULT_BACKGROUND;
  const maxInputPixels = opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;

  if (bytes.length === 0) throw new ImageDecodeError('empty', 'empty file (0 bytes)');
  const format = sniffImageFormat(bytes);
  if (format === undefined) {
    const head = Buffer.from(bytes.subarray(0, 8)).toString('hex');
    throw new ImageDecodeError('not-an-image', `not a PNG, JPEG, WebP, GIF, TIFF or AVIF image (first bytes: ${head})`);
  }
  if (typeof format === 'object') {
    throw new ImageDecodeError('unsupported-format', `${format.unsupported} is not supported: convert it to PNG or JPEG`);
  }
  // libvips keeps one error buffer for all threads, so under concurrent decodes a failure's text can be
  // repeated, replaced by "Warning treated as error due to failOn setting", or even be another file's.
  // The pass/fail decision is reliable; the text is only a hint (loadDataset re-reads failures one at a
  // time for an exact, deterministic reason). Keep the first line.
  const corrupt = (error: unknown) =>
    new ImageDecodeError('corrupt', `corrupt or truncated ${format.toUpperCase()}: ${String((error as Error)?.message ?? error).split('\n')[0]}`, {
      cause: error,
    });

  // The header alone: the size for the pixel limit (with a precise message) and which path to take.
  // PNG headers are read here directly, saving one sharp call per image (~10% of loading emoji).
  const header = (format === 'png' ? pngHeader(bytes) : undefined) ?? (await sharpHeader(bytes).catch((error) => {
    throw corrupt(error);
  }));
  const { width, height } = header;
  if (width * height > maxInputPixels) {
    throw new ImageDecodeError(
      'too-many-pixels',
      `${width}x${height} = ${((width * height) / 1e6).toFixed(1)} megapixels exceeds the limit of ` +
        `${(maxInputPixels / 1e6).toFixed(1)} megapixels (maxInputPixels): downscale it first`,
    );
  }

  // Both paths keep sharp's default failOn: 'warning', which rejects truncated files instead of padding
  // them with grey (that would teach the generator grey bars), and read only the first frame of animated
  // GIF/WebP or multi-page TIFF (sharp's default pages: 1).
  try {
    if (width * height <= SMALL_IMAGE_PIXELS && header.plain8BitSrgb) {
      // Small path: sharp decodes and applies EXIF orientation; flatten, crop and resize happen in JS.
      const { data, info } = await sharp(bytes, { limitInputPixels: maxInputPixels })
        .autoOrient()
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (info.channels >= 1 && info.channels <= 4) {
        const flat = flattenToChannels(data, info.width * info.height, info.channels, channels, background);
        return resizePixels(flat, info.width, info.height, channels, imageSize);
      }
    }

    const [r, g, b] = background;
    let pipeline = sharp(bytes, { limitInputPixels: maxInputPixels })
      // Before any geometry, so a portrait photo is cropped as the camera meant it.
      .autoOrient()
      // Composite alpha onto the background first: resizing premultiplied transparent pixels with an
      // arbitrary hidden colour would otherwise bleed into edges. A no-op without alpha.
      .flatten({ background: { r, g, b } })
      // 'cover' + centre = center-crop to a square then resize: no distortion, no letterbox borders.
      .resize(imageSize, imageSize, { fit: 'cover', position: 'centre' });
    // Explicit colour spaces make CMYK JPEGs, grey PNGs, ICC profiles and 16-bit TIFFs all come out as
    // `channels` bands of 8-bit sRGB.
    pipeline = channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.width !== imageSize || info.height !== imageSize || info.channels !== channels) {
      throw new Error(`decoder produced ${info.width}x${info.height}x${info.channels}, expected ${imageSize}x${imageSize}x${channels}`);
    }
    return data;
  } catch (error) {
    if (/pixel limit/i.test((error as Error)?.message ?? '')) {
      throw new ImageDecodeError('too-many-pixels', `exceeds the limit of ${(maxInputPixels / 1e6).toFixed(1)} megapixels (maxInputPixels)`, {
        cause: error,
      });
    }
    throw corrupt(error);
  }
}

interface ImageHeader {
  width: number;
  height: number;
  /** 8-bit sRGB or grey without an ICC profile: nothing for colour management to do, so the JS path is exact. */
  plain8BitSrgb: boolean;
}

async function sharpHeader(bytes: Uint8Array): Promise<ImageHeader> {
  const metadata = await sharp(bytes).metadata();
  return {
    width: metadata.width ?? 0,
    height: metadata.height ?? 0,
    plain8BitSrgb: metadata.depth === 'uchar' && !metadata.hasProfile && (metadata.space === 'srgb' || metadata.space === 'b-w'),
  };
}

/**
 * IHDR gives the size and bit depth; an iCCP chunk (which must precede IDAT) means an ICC profile. PNG is
 * always grey, RGB or palette, never CMYK. Undefined when the chunk structure looks wrong: sharp then
 * gets to say what is broken.
 */
function pngHeader(bytes: Uint8Array): ImageHeader | undefined {
  if (bytes.length < 33) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (ascii(bytes, 12, 16) !== 'IHDR') return undefined;
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const bitDepth = bytes[24];
  let hasProfile = false;
  for (let offset = 8; offset + 8 <= bytes.length; ) {
    const type = ascii(bytes, offset + 4, offset + 8);
    if (type === 'IDAT' || type === 'IEND') break;
    if (type === 'iCCP') hasProfile = true;
    offset += 12 + view.getUint32(offset);
  }
  // Bit depths below 8 (palette, grey) are expanded to 8 by the decoder; 16 needs sharp's conversion.
  return { width, height, plain8BitSrgb: bitDepth <= 8 && !hasProfile };
}

const SRGB_TO_LINEAR = Float64Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});
// Linear luminance quantized to 16 bits -> sRGB byte: a table instead of a pow() per pixel; the coarsest
// step (near black, where sRGB is steepest) is 0.05 of a grey level.
const LINEAR_STEPS = 65535;
const LINEAR_TO_SRGB = Uint8Array.from({ length: LINEAR_STEPS + 1 }, (_, i) => {
  const y = i / LINEAR_STEPS;
  return Math.round(255 * (y <= 0.0031308 ? 12.92 * y : 1.055 * y ** (1 / 2.4) - 0.055));
});
const srgbLuminance = (r: number, g: number, b: number) =>
  LINEAR_TO_SRGB[Math.round((0.2126 * SRGB_TO_LINEAR[r] + 0.7152 * SRGB_TO_LINEAR[g] + 0.0722 * SRGB_TO_LINEAR[b]) * LINEAR_STEPS)];

/**
 * 1-4 band uint8 pixels (grey, grey+alpha, RGB, RGBA) -> `outChannels` bands, alpha composited onto the
 * background in sRGB space, as sharp's flatten does. Grey is luminance with Rec. 709 weights in linear
 * light, re-encoded as sRGB: libvips' sRGB -> b-w conversion, so both decode paths agree.
 */
function flattenToChannels(
  data: Uint8Array,
  pixelCount: number,
  inChannels: number,
  outChannels: 1 | 3,
  background: [number, number, number],
): Uint8Array {
  const hasAlpha = inChannels === 2 || inChannels === 4;
  if (!hasAlpha && inChannels === outChannels) return data;
  const isGrey = inChannels <= 2;
  const [backR, backG, backB] = background;
  const out = new Uint8Array(pixelCount * outChannels);
  for (let p = 0, i = 0, o = 0; p < pixelCount; p++, i += inChannels, o += outChannels) {
    let r = data[i];
    let g = isGrey ? r : data[i + 1];
    let b = isGrey ? r : data[i + 2];
    if (hasAlpha) {
      const alpha = data[i + inChannels - 1];
      if (alpha !== 255) {
        const t = alpha / 255;
        r = Math.round(r * t + backR * (1 - t));
        g = Math.round(g * t + backG * (1 - t));
        b = Math.round(b * t + backB * (1 - t));
      }
    }
    if (outChannels === 3) {
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    } else {
      // Grey stays exactly itself: its round trip through linear light is the identity.
      out[o] = r === g && g === b ? r : srgbLuminance(r, g, b);
    }
  }
  return out;
}
