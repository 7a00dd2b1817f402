// One interface for a local folder and for s3://bucket/prefix, so the run writer, checkpoints and dataset
// loading have a single code path whether they run on a laptop or in the Batch job (docs/architecture.md section 3).
// Keys are always '/'-separated and relative to the storage root, on both backends.

export interface StorageObject {
  /** Key relative to the storage root, '/'-separated. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** S3 ETag without quotes (multipart uploads end in "-<parts>"); absent for folders. */
  etag?: string;
  /**
   * Folders only: the entry is there but cannot be read as a file (a symbolic link loop, no permission),
   * and why; its size is 0. Listing reports it instead of failing, so a dataset can skip it with a reason.
   */
  unreadable?: string;
}

export interface Storage {
  /** The root, e.g. '/tmp/run' or 's3://bucket/runs/abc' (no trailing slash). */
  readonly uri: string;
  /** Throws StorageNotFoundError (naming the full URI) when the key does not exist. */
  read(key: string): Promise<Uint8Array>;
  readIfExists(key: string): Promise<Uint8Array | undefined>;
  /** Atomic per object: readers see the old content or the new, never a partial file. Strings are UTF-8. */
  write(key: string, data: Uint8Array | string): Promise<void>;
  /**
   * Writes the object only if no object has the key, atomically (a folder: a hard link of a complete temp
   * file; S3: a conditional PUT, If-None-Match: *). True when this call created it, false when it existed.
   */
  createIfAbsent(key: string, data: Uint8Array | string): Promise<boolean>;
  exists(key: string): Promise<boolean>;
  /**
   * Every object under the root, recursively, sorted by key. `prefix` names a folder (a trailing '/' is
   * optional): list('run') returns 'run/a' but not 'run2/a'; keys stay relative to the root, not the prefix.
   */
  list(prefix?: string): Promise<StorageObject[]>;
  /** Missing keys are not an error (deleting is idempotent, as on S3). */
  delete(keys: string[]): Promise<void>;
  /** A Storage rooted at root/prefix, sharing this one's connection. */
  child(prefix: string): Storage;
}

/** Base class of every storage failure, so callers can tell I/O trouble from bugs. */
export class StorageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
  }
}

/** read() of a key that does not exist. `uri` is the full location, e.g. s3://bucket/runs/abc/manifest.json. */
export class StorageNotFoundError extends StorageError {
  readonly uri: string;
  constructor(uri: string, options?: { cause?: unknown }) {
    super(`Not found: ${uri}`, options);
    this.name = 'StorageNotFoundError';
    this.uri = uri;
  }
}

/** A key that would escape the root or cannot mean the same thing on a folder and on S3. */
export class StorageKeyError extends StorageError {
  constructor(key: string, why: string) {
    super(`Invalid storage key ${JSON.stringify(key)}: ${why}. Keys are relative, '/'-separated paths such as 'model/model.json'.`);
    this.name = 'StorageKeyError';
  }
}

/**
 * Checks a key (or a child/list prefix) and returns it without leading/trailing slashes. The rules are the
 * intersection of what a file system and S3 accept, so the same key means the same object on both:
 * no '..' or '.' segments (a folder would escape its root), no empty segments ('a//b' is a different S3
 * key from 'a/b' but the same file), no backslashes (a separator on Windows), no NUL.
 */
/** readIfExists in terms of read: a missing object is undefined, any other failure still throws. */
export async function readOrUndefined(read: () => Promise<Uint8Array>): Promise<Uint8Array | undefined> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof StorageNotFoundError) return undefined;
    throw error;
  }
}

export function normalizeKey(key: string, { allowEmpty = false }: { allowEmpty?: boolean } = {}): string {
  const trimmed = key.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') {
    if (allowEmpty) return '';
    throw new StorageKeyError(key, 'it is empty');
  }
  if (key.startsWith('/')) throw new StorageKeyError(key, 'it is absolute (starts with /)');
  if (trimmed.includes('\\')) throw new StorageKeyError(key, 'it contains a backslash');
  if (trimmed.includes('\0')) throw new StorageKeyError(key, 'it contains a NUL character');
  for (const segment of trimmed.split('/')) {
    if (segment === '') throw new StorageKeyError(key, 'it contains an empty path segment (//)');
    if (segment === '.' || segment === '..') throw new StorageKeyError(key, `it contains a '${segment}' segment`);
  }
  return trimmed;
}

/** Joins normalized key parts, skipping empty ones. */
export function joinKey(...parts: string[]): string {
  return parts.filter((part) => part !== '').join('/');
}

/** Ordering used by every list(): plain code-unit order, identical on both backends. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Splits s3://bucket/prefix. The prefix comes back without leading/trailing slashes ('' for the bucket root).
 * Bucket names follow the S3 rules for new buckets (3-63 of a-z 0-9 . -), which also catches the common
 * mistakes of pasting an https:// URL or an ARN.
 */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(uri);
  if (!match) {
    throw new StorageError(`Not an S3 URI: ${JSON.stringify(uri)}. Expected s3://bucket or s3://bucket/prefix.`);
  }
  const bucket = match[1];
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new StorageError(
      `Malformed S3 URI ${JSON.stringify(uri)}: bucket name ${JSON.stringify(bucket)} is not valid ` +
        '(3-63 characters: lowercase letters, digits, dots and hyphens). Expected s3://bucket/prefix.',
    );
  }
  let prefix: string;
  try {
    prefix = normalizeKey(match[2] ?? '', { allowEmpty: true });
  } catch (error) {
    throw new StorageError(`Malformed S3 URI ${JSON.stringify(uri)}: ${(error as Error).message}`, { cause: error });
  }
  return { bucket, prefix };
}
