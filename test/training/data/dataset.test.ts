// loadDataset respects three promises: bad files are reported, never fatal; the result is deterministic
// (sorted names, same pixels from a folder and from S3); and "nothing usable" is an error a user can act on.
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmptyDatasetError, loadDataset, type Dataset } from '../../../training/data/dataset.ts';
import { S3Storage } from '../../../training/storage/s3-storage.ts';
import { BLUE, GREEN, makeImageCorpus, RED, type ImageCorpus, type Rgb } from '../../helpers/image-corpus.ts';
import { startMoto, type Moto } from '../../helpers/moto.ts';

const SIZE = 16;
const imageOf = (dataset: Dataset, name: string) => {
  const i = dataset.names.indexOf(name);
  expect(i, name).toBeGreaterThanOrEqual(0);
  const bytes = dataset.imageSize * dataset.imageSize * dataset.channels;
  return dataset.pixels.subarray(i * bytes, (i + 1) * bytes);
};
const pixelAt = (image: Uint8Array, x: number, y: number) => Array.from(image.subarray((y * SIZE + x) * 3, (y * SIZE + x + 1) * 3));
const near = (actual: number[], expected: Rgb, tolerance: number) => actual.every((v, c) => Math.abs(v - expected[c]) <= tolerance);

let root = '';
let corpus: ImageCorpus;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'glo-dataset-'));
  corpus = await makeImageCorpus(path.join(root, 'corpus'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const solidPng = (colour: Rgb) =>
  sharp({ create: { width: 20, height: 20, channels: 3, background: { r: colour[0], g: colour[1], b: colour[2] } } }).png().toBuffer();

async function writeTree(dir: string, files: Record<string, Buffer | string>) {
  for (const [name, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), data);
  }
}

describe('loadDataset from a folder', () => {
  let dataset: Dataset;
  beforeAll(async () => {
    dataset = await loadDataset(corpus.dir, { imageSize: SIZE, channels: 3, maxFileBytes: corpus.maxFileBytes, background: [0, 0, 255] });
  });

  it('loads every good image, sorted by name, as contiguous uint8 HWC', () => {
    expect(dataset.source).toBe(corpus.dir);
    expect(dataset.names).toEqual(corpus.good.map((g) => g.name));
    expect(dataset.count).toBe(corpus.good.length);
    expect(dataset.pixels).toBeInstanceOf(Uint8Array);
    expect(dataset.pixels).toHaveLength(corpus.good.length * SIZE * SIZE * 3);
    expect(dataset.labels).toBeUndefined();
    for (const { name, colour } of corpus.good) {
      if (!colour) continue;
      const image = imageOf(dataset, name);
      for (const [x, y] of [[0, 0], [8, 8], [15, 15]]) expect(near(pixelAt(image, x, y), colour, 8), `${name} at ${x},${y}`).toBe(true);
    }
  });

  it('applies EXIF orientation and flattens transparency onto the background', () => {
    const rotated = imageOf(dataset, 'h-rotated.jpg');
    expect(near(pixelAt(rotated, 2, 2), RED, 20)).toBe(true);
    expect(near(pixelAt(rotated, 13, 2), RED, 20)).toBe(true);
    expect(near(pixelAt(rotated, 2, 13), BLUE, 20)).toBe(true);
    const transparent = imageOf(dataset, 'i-transparent.png');
    expect(pixelAt(transparent, 2, 8)).toEqual([0, 0, 255]);
    expect(pixelAt(transparent, 13, 8)).toEqual(GREEN);
  });

  it('reports every bad file in skipped with a reason, and ignores hidden files and glo.json silently', () => {
    expect(dataset.skipped.map((s) => s.name)).toEqual(corpus.bad.map((b) => b.name));
    for (const [i, { reason }] of corpus.bad.entries()) expect(dataset.skipped[i].reason).toMatch(reason);
    for (const name of corpus.ignored) {
      expect(dataset.names).not.toContain(name);
      expect(dataset.skipped.map((s) => s.name)).not.toContain(name);
    }
  });

  it('is deterministic whatever the concurrency, and reports progress to completion', async () => {
    const progress: [number, number][] = [];
    const serial = await loadDataset(corpus.dir, {
      imageSize: SIZE,
      channels: 3,
      maxFileBytes: corpus.maxFileBytes,
      background: [0, 0, 255],
      concurrency: 1,
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(serial.names).toEqual(dataset.names);
    expect(Buffer.compare(Buffer.from(serial.pixels), Buffer.from(dataset.pixels))).toBe(0);
    expect(serial.skipped).toEqual(dataset.skipped);
    expect(progress.at(-1)).toEqual([15, 15]);
    expect(progress.map(([done]) => done)).toEqual(progress.map((_, i) => i + 1));
  });

  it('stops reading when its signal is aborted and rejects with the reason, starting no file after it', async () => {
    const controller = new AbortController();
    let decodedCount = 0;
    const loading = loadDataset(corpus.dir, {
      imageSize: SIZE,
      channels: 3,
      maxFileBytes: corpus.maxFileBytes,
      concurrency: 2,
      signal: controller.signal,
      onProgress: (done) => {
        decodedCount = done;
        if (done === 3) controller.abort(new Error('SIGINT'));
      },
    });
    await expect(loading).rejects.toThrow('SIGINT');
    // The two in flight when the signal came finish; nothing new starts.
    expect(decodedCount).toBeLessThanOrEqual(4);
  });

  it('decodes to one grey channel', async () => {
    const grey = await loadDataset(corpus.dir, { imageSize: 8, channels: 1, maxFileBytes: corpus.maxFileBytes });
    expect(grey.channels).toBe(1);
    expect(grey.pixels).toHaveLength(grey.count * 8 * 8);
  });

  it('takes the first N good images under limit, letting skipped files make room', async () => {
    const limited = await loadDataset(corpus.dir, { imageSize: 8, channels: 3, maxFileBytes: corpus.maxFileBytes, limit: 3 });
    expect(limited.names).toEqual(['a-solid.png', 'b-solid.jpg', 'c-solid.webp']);
    expect(limited.count).toBe(3);
    // The bad-* files sort before the good ones: they were examined and skipped on the way.
    expect(limited.skipped.map((s) => s.name)).toEqual(corpus.bad.map((b) => b.name));
  });

  it('uses immediate subfolder names as labels', async () => {
    const dir = path.join(root, 'labelled');
    await writeTree(dir, {
      'dogs/rex.png': await solidPng(BLUE),
      'cats/tom.png': await solidPng(RED),
      'cats/kitten/felix.png': await solidPng(RED),
      'cats/broken.png': 'not a png',
      'birds/readme.txt': 'only a text file: birds must not become a class',
    });
    const labelled = await loadDataset(dir, { imageSize: 8, channels: 3 });
    expect(labelled.names).toEqual(['cats/kitten/felix.png', 'cats/tom.png', 'dogs/rex.png']);
    expect(labelled.labels?.classes).toEqual(['cats', 'dogs']);
    expect(Array.from(labelled.labels?.index ?? [])).toEqual([0, 0, 1]);
    expect(labelled.skipped.map((s) => s.name)).toEqual(['birds/readme.txt', 'cats/broken.png']);

    // Under a limit, a labelled folder is sampled across classes rather than taking the first class only
    // (cats/broken.png is tried first and makes room for the next cat).
    const spread = await loadDataset(dir, { imageSize: 8, channels: 3, limit: 2 });
    expect(spread.names).toEqual(['cats/kitten/felix.png', 'dogs/rex.png']);
    expect(spread.labels?.classes).toEqual(['cats', 'dogs']);
  });

  it('skips a symbolic link loop with its reason, and does not follow links to folders', async () => {
    const dir = path.join(root, 'links');
    await writeTree(dir, { 'a.png': await solidPng(RED), 'b.png': await solidPng(BLUE) });
    await symlink('loop.png', path.join(dir, 'loop.png')); // points at itself: ELOOP
    await symlink(dir, path.join(dir, 'self')); // a folder link back up: a cycle if followed
    const linked = await loadDataset(dir, { imageSize: 8, channels: 3 });
    expect(linked.names).toEqual(['a.png', 'b.png']);
    expect(linked.skipped).toEqual([{ name: 'loop.png', reason: 'unreadable: a symbolic link loop (ELOOP)' }]);
  });

  it('has no labels when images sit at the top level', async () => {
    const dir = path.join(root, 'mixed');
    await writeTree(dir, { 'top.png': await solidPng(RED), 'cats/tom.png': await solidPng(BLUE), 'dogs/rex.png': await solidPng(GREEN) });
    const mixed = await loadDataset(dir, { imageSize: 8, channels: 3 });
    expect(mixed.count).toBe(3);
    expect(mixed.labels).toBeUndefined();
  });
});

describe('EmptyDatasetError', () => {
  it('says an empty folder has no files and what to do', async () => {
    const dir = path.join(root, 'empty');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, '.hidden.png'), 'x');
    const error = await loadDataset(dir, { imageSize: 8, channels: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmptyDatasetError);
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toMatch(/found no files \(ignored 1 hidden or metadata files\)/);
    expect((error as Error).message).toMatch(/--data emoji/);
  });

  it('lists what was skipped and why when every file is bad', async () => {
    const dir = path.join(root, 'all-bad');
    await writeTree(dir, {
      'a.txt': 'text',
      'b.png': '',
      'c.jpg': 'garbage bytes',
      'd.json': '{}',
      'e.md': '#',
      'f.csv': '1,2',
      'g.heic': 'x',
    });
    const error = (await loadDataset(dir, { imageSize: 8, channels: 3 }).catch((e: unknown) => e)) as EmptyDatasetError;
    expect(error).toBeInstanceOf(EmptyDatasetError);
    expect(error.skipped).toHaveLength(7);
    expect(error.message).toContain(dir);
    expect(error.message).toMatch(/looked at 7 files and skipped all of them/);
    expect(error.message).toMatch(/a\.txt: not an image file extension/);
    expect(error.message).toMatch(/b\.png: empty file/);
    expect(error.message).toMatch(/c\.jpg: not a PNG, JPEG/);
    expect(error.message).toMatch(/\.\.\. and 2 more/);
  });

  it('says when the folder does not exist', async () => {
    const missing = path.join(root, 'no-such-folder');
    await expect(loadDataset(missing, { imageSize: 8, channels: 3 })).rejects.toThrow(/no-such-folder: the folder does not exist/);
  });
});

describe('embedded datasets', () => {
  it('loads emoji with category labels, spread across categories under a limit', async () => {
    const emoji = await loadDataset('emoji', { imageSize: 32, channels: 3, limit: 40 });
    expect(emoji.source).toBe('emoji');
    expect(emoji.count).toBe(40);
    expect(emoji.pixels).toHaveLength(40 * 32 * 32 * 3);
    expect(emoji.names.every((name) => name.endsWith('.png'))).toBe(true);
    expect([...emoji.names].sort()).toEqual(emoji.names);
    expect(emoji.labels?.classes).toEqual([
      'Activities', 'Animals & Nature', 'Component', 'Flags', 'Food & Drink',
      'Objects', 'People & Body', 'Smileys & Emotion', 'Symbols', 'Travel & Places',
    ]);
    expect(emoji.labels?.index).toHaveLength(40);
    // Transparent corners flattened onto white; the drawing itself is not white.
    expect(Array.from(emoji.pixels.subarray(0, 3))).toEqual([255, 255, 255]);
    expect(emoji.pixels.some((v) => v < 128)).toBe(true);
    expect(emoji.skipped).toEqual([]);
  });

  it('loads mnist digits with labels 0-9 at the requested size', async () => {
    const mnist = await loadDataset('mnist', { imageSize: 32, channels: 1, limit: 100 });
    expect(mnist.source).toBe('mnist');
    expect(mnist.count).toBe(100);
    expect(mnist.pixels).toHaveLength(100 * 32 * 32);
    expect(mnist.labels?.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const perClass = new Array(10).fill(0);
    for (const label of mnist.labels?.index ?? []) perClass[label]++;
    expect(perClass).toEqual(new Array(10).fill(10));
    expect(mnist.names[0]).toBe('0-0000');
    // White digits on black: the border is black, the strokes reach full intensity.
    expect(mnist.pixels[0]).toBe(0);
    expect(Math.max(...mnist.pixels.subarray(0, 32 * 32))).toBeGreaterThan(200);
  });

  it('loads all 10,000 mnist digits at their native 28 px, and as RGB', async () => {
    const mnist = await loadDataset('mnist', { imageSize: 28, channels: 1 });
    expect(mnist.count).toBe(10_000);
    expect(new Set(mnist.labels?.index).size).toBe(10);
    const rgb = await loadDataset('mnist', { imageSize: 28, channels: 3, limit: 2 });
    const grey = mnist.pixels.subarray(0, 28 * 28);
    expect(Array.from(rgb.pixels.subarray(0, 28 * 28 * 3)).filter((_, i) => i % 3 === 0)).toEqual(Array.from(grey));
  });
});

describe('loadDataset from S3', () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
    await moto.createBucket('glo-datasets');
  });
  afterAll(() => moto?.stop());

  it('loads the same pixels, names and skipped files as from the folder', async () => {
    const storage = new S3Storage('s3://glo-datasets/datasets/corpus');
    const { readdir } = await import('node:fs/promises');
    for (const name of await readdir(corpus.dir)) await storage.write(name, await readFile(path.join(corpus.dir, name)));
    const opts = { imageSize: SIZE, channels: 3 as const, maxFileBytes: corpus.maxFileBytes };
    const [fromFolder, fromS3] = await Promise.all([loadDataset(corpus.dir, opts), loadDataset('s3://glo-datasets/datasets/corpus/', opts)]);
    expect(fromS3.source).toBe('s3://glo-datasets/datasets/corpus');
    expect(fromS3.names).toEqual(fromFolder.names);
    expect(Buffer.compare(Buffer.from(fromS3.pixels), Buffer.from(fromFolder.pixels))).toBe(0);
    expect(fromS3.skipped).toEqual(fromFolder.skipped);
  });

  it('labels S3 images by their subfolder, and explains an empty prefix', async () => {
    const storage = new S3Storage('s3://glo-datasets/datasets/pets');
    await storage.write('cats/tom 1.png', await solidPng(RED));
    await storage.write('dogs/rëx.png', await solidPng(BLUE));
    await storage.write('glo.json', '{}');
    const pets = await loadDataset('s3://glo-datasets/datasets/pets', { imageSize: 8, channels: 3 });
    expect(pets.names).toEqual(['cats/tom 1.png', 'dogs/rëx.png']);
    expect(pets.labels?.classes).toEqual(['cats', 'dogs']);
    expect(pets.skipped).toEqual([]);

    // 'pet' is not a folder prefix of 'pets/': nothing there.
    await expect(loadDataset('s3://glo-datasets/datasets/pet', { imageSize: 8, channels: 3 })).rejects.toThrow(
      /No usable images in s3:\/\/glo-datasets\/datasets\/pet: found no files\. Check the bucket and prefix/,
    );
  });
});
