/**
 * Pixels are stored as bytes (datasets, the atlas, PNGs) and generated in [-1, 1] (the generator's tanh).
 * These two maps are the only conversion between them, shared by the trainer and the site.
 */

/** A byte 0..255 to the generator's range [-1, 1]. */
export const byteToValue = (byte: number): number => byte / 127.5 - 1;

/** A generator value in [-1, 1] to a byte, rounded and clipped (what displaying or saving it shows). */
export const valueToByte = (value: number): number => Math.max(0, Math.min(255, Math.round((value + 1) * 127.5)));

/** The length of one image in a dataset's bytes or a batch's values: imageSize x imageSize x channels, HWC. */
export const valuesPerImage = ({ imageSize, channels }: { imageSize: number; channels: number }): number => imageSize * imageSize * channels;
