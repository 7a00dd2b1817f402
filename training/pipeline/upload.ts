// `glo upload`: a folder of images to s3://<datasets>/datasets/<name>/, then glo.json LAST (docs/architecture.md
// section 4): the spec's creation starts the Batch job, so it must only appear once every image is there.
// Files already uploaded unchanged are skipped: every object carries its MD5 as metadata (glo-md5); a
// single-part object's ETag is its MD5 too, a multipart one's is not (MD5 of the part MD5s), so for those the
// metadata decides.
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { GloConfigInput, PresetName } from '../glo/config.ts';
import { S3Storage } from '../storage/s3-storage.ts';
import { StorageError } from '../storage/storage.ts';
import { checkDatasetName, datasetPrefix, parseJobSpec, SPEC_FILE, specJson, specKey } from './job-spec.ts';
import pLimit from 'p-limit';
import { contentTypeOf } from '../storage/content-type.ts';
import { errorNameOf, sharedS3Client } from '../storage/s3-client.ts';

const MiB = 1024 * 1024;
// S3's minimum part size; every part but the last must be at least this big.
const MIN_PART = 5 * MiB;
export const DEFAULT_MULTIPART_THRESHOLD = 16 * MiB;
export const DEFAULT_UPLOAD_CONCURRENCY = 8;
export const MD5_METADATA = 'glo-md5';

// What the trainer can decode (training/data/dataset.ts keeps the same list). Other files are left out
// and counted, so a folder with a README or a .zip does not fail but does not waste upload time either.
const IMAGE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'jpe', 'jfif', 'webp', 'gif', 'tif', 'tiff', 'avif']);

export interface LocalImage {
  /** '/'-separated path relative to the folder (subfolders are class labels for the trainer). */
  name: string;
  file: string;
  size: number;
}

export type UploadEvent =
  | { type: 'plan'; files: number; bytes: number; skipped: number }
  | { type: 'start'; name: string }
  | { type: 'progress'; bytes: number }
  | { type: 'done'; name: string; bytes: number };

export interface UploadOptions {
  folder: string;
  dataset: string;
  bucket: string;
  preset?: PresetName;
  options?: GloConfigInput;
  /** Files uploading at once (default 8). */
  concurrency?: number;
  /** Files at least this big go up as multipart uploads in parts of this size (default 16 MiB, at least 5 MiB). */
  multipartThresholdBytes?: number;
  /** Delete objects under datasets/<name>/ that are not in the folder (else they are reported and kept). */
  deleteExtra?: boolean;
  onEvent?: (event: UploadEvent) => void;
  /** Test hook: every object key written, in the order the writes completed. */
  onWritten?: (key: string) => void;
}

export interface UploadResult {
  uploaded: string[];
  /** Already there unchanged. */
  unchanged: string[];
  /** Objects under the dataset that the folder does not have (deleted with deleteExtra). */
  extra: string[];
  deleted: boolean;
  /** Files in the folder that are not images (not uploaded). */
  notImages: string[];
  /** s3://bucket/datasets/<name>/glo.json */
  spec: string;
  bytesUploaded: number;
}

export class UploadError extends Error {
  override name = 'UploadError';
}

/** The images under `folder`, recursively; hidden files and folders and a glo.json at the top are left out. */
export async function listLocalImages(folder: string): Promise<{ images: LocalImage[]; notImages: string[] }> {
  const root = path.resolve(folder);
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) throw new UploadError(`${folder} is not a folder: give the folder that holds the images.`);
  const images: LocalImage[] = [];
  const notImages: string[] = [];
  const walk = async (dir: string, prefix: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const name = prefix ? `${prefix}/${entry.name}` : entry.name;
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(file, name);
        continue;
      }
      const fileInfo = await stat(file).catch(() => undefined);
      if (!fileInfo?.isFile()) continue;
      if (name === SPEC_FILE) continue;
      const extension = /\.([^./]+)$/.exec(entry.name)?.[1]?.toLowerCase() ?? '';
      if (IMAGE_EXTENSIONS.has(extension)) images.push({ name, file, size: fileInfo.size });
      else notImages.push(name);
    }
  };
  await walk(root, '');
  images.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { images, notImages };
}

async function md5Of(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Runs `work` over `items` with at most `limit` at once; collects failures instead of stopping at the first. */
async function forEachBounded<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<{ item: T; error: unknown }[]> {
  const failures: { item: T; error: unknown }[] = [];
  const bounded = pLimit(limit);
  await Promise.all(items.map((item) => bounded(() => work(item).catch((error: unknown) => void failures.push({ item, error })))));
  return failures;
}

export async function uploadDataset(options: UploadOptions): Promise<UploadResult> {
  const { bucket, onEvent, onWritten } = options;
  // Everything that can be wrong with the request is checked before the first byte goes up.
  const dataset = checkDatasetName(options.dataset);
  const spec = parseJobSpec({ ...(options.preset ? { preset: options.preset } : {}), ...(options.options ?? {}) }, 'the training options');
  const concurrency = options.concurrency ?? DEFAULT_UPLOAD_CONCURRENCY;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new UploadError(`concurrency must be a whole number >= 1, got ${concurrency}.`);
  const partSize = Math.max(MIN_PART, options.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD);
  const { images, notImages } = await listLocalImages(options.folder);
  if (images.length === 0) {
    throw new UploadError(
      `No images in ${options.folder}${notImages.length ? ` (${notImages.length} other files, e.g. ${notImages.slice(0, 3).join(', ')})` : ''}: ` +
        `put PNG, JPEG, WebP, GIF, TIFF or AVIF files there (one subfolder per class to get labels).`,
    );
  }

  const prefix = datasetPrefix(dataset);
  const remote = new Map((await new S3Storage(`s3://${bucket}/${prefix}`).list()).map((o) => [o.key, o]));
  const client = sharedS3Client();

  // Which files need to go up: size first (free), then the MD5 against the ETag or the stored metadata.
  const hashes = new Map<string, string>();
  const todo: LocalImage[] = [];
  const unchanged: string[] = [];
  const hashFailures = await forEachBounded(images, concurrency, async (image) => {
    const md5 = await md5Of(image.file);
    hashes.set(image.name, md5);
    const there = remote.get(image.name);
    let same = false;
    if (there && there.size === image.size) {
      if (there.etag && !there.etag.includes('-')) same = there.etag === md5;
      else {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/${image.name}` }));
        same = head.Metadata?.[MD5_METADATA] === md5;
      }
    }
    if (same) unchanged.push(image.name);
    else todo.push(image);
  });
  if (hashFailures.length) throw uploadFailure('compare', hashFailures, bucket, prefix);
  todo.sort((a, b) => (a.name < b.name ? -1 : 1));
  const bytesToUpload = todo.reduce((sum, image) => sum + image.size, 0);
  onEvent?.({ type: 'plan', files: todo.length, bytes: bytesToUpload, skipped: unchanged.length });

  const uploaded: string[] = [];
  const failures = await forEachBounded(todo, concurrency, async (image) => {
    const Key = `${prefix}/${image.name}`;
    onEvent?.({ type: 'start', name: image.name });
    const params = { Bucket: bucket, Key, ContentType: contentTypeOf(image.name), Metadata: { [MD5_METADATA]: hashes.get(image.name)! } };
    if (image.size < partSize) {
      await client.send(new PutObjectCommand({ ...params, Body: await readFile(image.file) }));
      onEvent?.({ type: 'progress', bytes: image.size });
    } else {
      // Parts go up in parallel and are retried one by one; a failed upload is aborted (no orphaned parts).
      const upload = new Upload({ client, params: { ...params, Body: createReadStream(image.file) }, partSize, queueSize: 4, leavePartsOnError: false });
      let reported = 0;
      upload.on('httpUploadProgress', ({ loaded }) => {
        if (loaded !== undefined && loaded > reported) {
          onEvent?.({ type: 'progress', bytes: loaded - reported });
          reported = loaded;
        }
      });
      await upload.done();
      if (image.size > reported) onEvent?.({ type: 'progress', bytes: image.size - reported });
    }
    uploaded.push(image.name);
    onWritten?.(Key);
    onEvent?.({ type: 'done', name: image.name, bytes: image.size });
  });
  if (failures.length) throw uploadFailure('upload', failures, bucket, prefix);

  const local = new Set(images.map((image) => image.name));
  const extra = [...remote.keys()].filter((key) => key !== SPEC_FILE && !local.has(key));
  if (extra.length && options.deleteExtra) await new S3Storage(`s3://${bucket}/${prefix}`).delete(extra);

  // Last: the spec. Its creation is the event that starts training.
  const key = specKey(dataset);
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: specJson(spec.preset, spec.options), ContentType: 'application/json' }));
  onWritten?.(key);
  return {
    uploaded: uploaded.sort(),
    unchanged: unchanged.sort(),
    extra,
    deleted: Boolean(options.deleteExtra && extra.length),
    notImages,
    spec: `s3://${bucket}/${key}`,
    bytesUploaded: bytesToUpload,
  };
}

function uploadFailure(what: string, failures: { item: LocalImage; error: unknown }[], bucket: string, prefix: string): UploadError {
  const sample = failures.slice(0, 5).map(({ item, error }) => `  ${item.name}: ${errorNameOf(error) || 'Error'}: ${(error as Error).message}`);
  if (failures.length > sample.length) sample.push(`  ... and ${failures.length - sample.length} more`);
  const first = failures[0].error;
  const hint = first instanceof StorageError || errorNameOf(first) === 'NoSuchBucket' ? ' Check the bucket name and your credentials.' : '';
  return new UploadError(
    `Could not ${what} ${failures.length} file${failures.length === 1 ? '' : 's'} to s3://${bucket}/${prefix}/; glo.json was NOT written, so no training starts:\n` +
      `${sample.join('\n')}\nRun the same command again: files already uploaded are skipped.${hint}`,
  );
}
