// Storage on s3://bucket/prefix. The client comes from the SDK default chain, so the same code talks to AWS
// in the Batch job (task role, AWS_REGION) and to moto_server in tests (AWS_ENDPOINT_URL, dummy keys).
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  compareKeys,
  joinKey,
  normalizeKey,
  readOrUndefined,
  parseS3Uri,
  StorageError,
  StorageNotFoundError,
  type Storage,
  type StorageObject,
} from './storage.ts';
import { cacheControlOf, contentTypeOf } from './content-type.ts';
import { errorNameOf, httpStatusOf, isNoSuchKey, sharedS3Client } from './s3-client.ts';

export interface S3StorageOptions {
  /** Defaults to one client per process, built lazily from the environment, shared by every S3Storage. */
  client?: S3Client;
  /** Objects at least this large go up as multipart uploads (parallel parts, retried per part). */
  multipartThresholdBytes?: number;
  /** Part size for multipart uploads; S3 requires at least 5 MiB for every part but the last. */
  partSizeBytes?: number;
  /** Parts uploaded in parallel; memory use is about queueSize * partSize. */
  uploadQueueSize?: number;
}

const MiB = 1024 * 1024;
// Below ~16 MiB one PUT is faster than three multipart round trips; model weights and latent tables of
// big runs are above it, where parallel parts and per-part retries pay off.
const DEFAULT_MULTIPART_THRESHOLD = 16 * MiB;
const DEFAULT_PART_SIZE = 8 * MiB;
const MIN_PART_SIZE = 5 * MiB;
// DeleteObjects accepts at most 1000 keys per request.
const DELETE_BATCH = 1000;

interface AwsError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

// Turns SDK errors into StorageErrors that say which URI failed and what to check.
function s3Error(operation: string, uri: string, error: unknown): StorageError {
  const { name = 'Error', message = String(error) } = (error ?? {}) as AwsError;
  const status = (error as AwsError | undefined)?.$metadata?.httpStatusCode;
  let hint = '';
  if (name === 'NoSuchBucket') hint = ' The bucket does not exist: check the name, AWS_REGION and AWS_ENDPOINT_URL.';
  else if (name === 'AccessDenied' || status === 403)
    hint =
      ' The credentials lack permission for this. (S3 also answers 403 instead of 404 for a missing key when the' +
      ' caller may not s3:ListBucket.)';
  else if (name === 'CredentialsProviderError')
    hint = ' No AWS credentials were found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.';
  else if (/region is missing/i.test(message)) hint = ' Set AWS_REGION.';
  return new StorageError(`S3 ${operation} ${uri} failed: ${name}: ${message.replace(/\.$/, '')}.${hint}`, { cause: error });
}

/** What a GET of the object will answer with: its type, and for files that change in place, no-cache. */
function objectHeaders(key: string): { ContentType: string; CacheControl?: string } {
  const cacheControl = cacheControlOf(key);
  return { ContentType: contentTypeOf(key), ...(cacheControl ? { CacheControl: cacheControl } : {}) };
}

export class S3Storage implements Storage {
  readonly uri: string;
  readonly bucket: string;
  /** Key prefix of the root, without slashes at either end ('' for the bucket root). */
  readonly prefix: string;
  private readonly options: S3StorageOptions;

  constructor(uri: string, options: S3StorageOptions = {}) {
    const { bucket, prefix } = parseS3Uri(uri);
    this.bucket = bucket;
    this.prefix = prefix;
    this.uri = prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}`;
    const partSize = options.partSizeBytes ?? DEFAULT_PART_SIZE;
    if (partSize < MIN_PART_SIZE) {
      throw new StorageError(`partSizeBytes ${partSize} is below the S3 minimum part size of ${MIN_PART_SIZE} bytes.`);
    }
    this.options = options;
  }

  private get client(): S3Client {
    return this.options.client ?? sharedS3Client();
  }

  private objectKey(key: string): string {
    return joinKey(this.prefix, normalizeKey(key));
  }

  private uriOf(objectKey: string): string {
    return `s3://${this.bucket}/${objectKey}`;
  }

  async read(key: string): Promise<Uint8Array> {
    const Key = this.objectKey(key);
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!output.Body) throw new Error('the response has no body');
      return await output.Body.transformToByteArray();
    } catch (error) {
      if (isNoSuchKey(error)) throw new StorageNotFoundError(this.uriOf(Key), { cause: error });
      throw s3Error('GetObject', this.uriOf(Key), error);
    }
  }

  async readIfExists(key: string): Promise<Uint8Array | undefined> {
    return readOrUndefined(() => this.read(key));
  }

  async write(key: string, data: Uint8Array | string): Promise<void> {
    const Key = this.objectKey(key);
    const Body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const params = { Bucket: this.bucket, Key, Body, ...objectHeaders(Key) };
    try {
      if (Body.byteLength < (this.options.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD)) {
        await this.client.send(new PutObjectCommand(params));
      } else {
        // Completing a multipart upload is as atomic as a PUT; on failure Upload aborts it, so no orphaned
        // parts keep costing storage.
        await new Upload({
          client: this.client,
          params,
          partSize: this.options.partSizeBytes ?? DEFAULT_PART_SIZE,
          queueSize: this.options.uploadQueueSize ?? 4,
          leavePartsOnError: false,
        }).done();
      }
    } catch (error) {
      throw s3Error('PutObject', this.uriOf(Key), error);
    }
  }

  async createIfAbsent(key: string, data: Uint8Array | string): Promise<boolean> {
    return this.writeIfUnchanged(key, data, undefined);
  }

  /** The object and its ETag, for a later writeIfUnchanged; undefined when there is none. */
  async readVersioned(key: string): Promise<{ bytes: Uint8Array; etag: string } | undefined> {
    const Key = this.objectKey(key);
    try {
      const output = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!output.Body || !output.ETag) throw new Error('the response has no body or no ETag');
      return { bytes: await output.Body.transformToByteArray(), etag: output.ETag };
    } catch (error) {
      if (isNoSuchKey(error)) return undefined;
      throw s3Error('GetObject', this.uriOf(Key), error);
    }
  }

  /**
   * A conditional PUT (S3 optimistic concurrency, supported since 2024): writes only if the object still has
   * `etag` (If-Match) or, with etag undefined, does not exist yet (If-None-Match: *). False when another
   * writer got there first; the caller reads again and retries.
   */
  async writeIfUnchanged(key: string, data: Uint8Array | string, etag: string | undefined): Promise<boolean> {
    const Key = this.objectKey(key);
    const Body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const condition = etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: etag };
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body, ...objectHeaders(Key), ...condition }));
      return true;
    } catch (error) {
      const status = httpStatusOf(error);
      // 412: the object changed (or exists) since it was read. 409: a concurrent conditional write to the
      // same key is in flight. 404 with If-Match: it was deleted since it was read.
      if (errorNameOf(error) === 'PreconditionFailed' || status === 412 || status === 409) return false;
      if (etag !== undefined && isNoSuchKey(error)) return false;
      throw s3Error('PutObject', this.uriOf(Key), error);
    }
  }

  async exists(key: string): Promise<boolean> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return true;
    } catch (error) {
      // HEAD responses have no body, so a missing bucket also reads as NotFound here.
      if (isNoSuchKey(error)) return false;
      throw s3Error('HeadObject', this.uriOf(Key), error);
    }
  }

  async list(prefix = ''): Promise<StorageObject[]> {
    const folder = joinKey(this.prefix, normalizeKey(prefix, { allowEmpty: true }));
    // A trailing '/' makes the prefix a folder: listing runs/abc must not return runs/abc2/...
    const Prefix = folder === '' ? undefined : `${folder}/`;
    const rootLength = this.prefix === '' ? 0 : this.prefix.length + 1;
    const objects: StorageObject[] = [];
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix })) {
        for (const object of page.Contents ?? []) {
          // Keys ending in '/' are the S3 console's empty "folder" placeholders, not objects a folder would have.
          if (!object.Key || object.Key.endsWith('/')) continue;
          objects.push({
            key: object.Key.slice(rootLength),
            size: object.Size ?? 0,
            etag: object.ETag?.replace(/"/g, ''),
          });
        }
      }
    } catch (error) {
      throw s3Error('ListObjectsV2', Prefix ? this.uriOf(Prefix) : `s3://${this.bucket}/`, error);
    }
    return objects.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(keys: string[]): Promise<void> {
    const objectKeys = keys.map((key) => this.objectKey(key));
    for (let start = 0; start < objectKeys.length; start += DELETE_BATCH) {
      const batch = objectKeys.slice(start, start + DELETE_BATCH);
      let errors;
      try {
        const output = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        errors = output.Errors ?? [];
      } catch (error) {
        throw s3Error('DeleteObjects', this.uri, error);
      }
      // DeleteObjects reports per-key failures in a 200 response; they must not pass silently.
      if (errors.length > 0) {
        const sample = errors.slice(0, 3).map((e) => `${this.uriOf(e.Key ?? '?')} (${e.Code}: ${e.Message})`);
        throw new StorageError(`S3 DeleteObjects failed for ${errors.length} keys, e.g. ${sample.join(', ')}.`);
      }
    }
  }

  child(prefix: string): Storage {
    return new S3Storage(`s3://${this.bucket}/${joinKey(this.prefix, normalizeKey(prefix))}`, this.options);
  }
}
