// Adding a run to runs/index.json without losing a concurrent writer's entry. Two Batch jobs finishing at
// the same time both read the index, add their run and write it back; a plain PUT would keep only the last.
//
// On S3 the write is conditional (optimistic concurrency): PUT with If-Match: <the ETag we read> (or
// If-None-Match: * when there was no index), and on 412 Precondition Failed / 409 ConditionalRequestConflict
// read again, re-apply withRun() and retry. S3 supports conditional writes since 2024; moto_server 5.2.1
// implements both headers (tested in test/pipeline/runs-index-store.test.ts). A local folder (glo pull) uses
// a lock file instead (serve/local-runs-index.ts).
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { emptyRunsIndex, parseRunsIndex, withRun, type RunsIndex, type RunsIndexEntry } from '../glo/runs-index.ts';
import { joinKey, parseS3Uri, StorageError } from '../storage/storage.ts';
import { openStorage } from '../storage/open-storage.ts';
import { errorNameOf, httpStatusOf, isNoSuchKey, sharedS3Client } from '../storage/s3-client.ts';
import { backoff, RUNS_INDEX_FILE, updateLocalRunsIndex } from '../serve/local-runs-index.ts';


export interface AddRunOptions {
  /** Read-modify-write rounds before giving up (each conflict means another writer succeeded). */
  maxAttempts?: number;
  /** Test hook: runs after the index was read and before the conditional write. */
  beforeWrite?: (attempt: number) => Promise<void>;
}

export interface AddRunResult {
  index: RunsIndex;
  /** 1 when nobody else wrote in between; more after conflicts. */
  attempts: number;
}

/** `runsRoot` is the folder of the runs: s3://bucket/runs or a local folder; the index is <runsRoot>/index.json. */
export async function addRunToIndex(runsRoot: string, entry: RunsIndexEntry, options: AddRunOptions = {}): Promise<AddRunResult> {
  return /^s3:\/\//i.test(runsRoot) ? addOnS3(runsRoot, entry, options) : addInFolder(runsRoot, entry, options);
}

/** Reads <runsRoot>/index.json; an absent index is an empty one. */
export async function readRunsIndex(runsRoot: string): Promise<RunsIndex> {
  const storage = openStorage(runsRoot);
  const bytes = await storage.readIfExists(RUNS_INDEX_FILE);
  return bytes ? parseRunsIndex(new TextDecoder().decode(bytes)) : emptyRunsIndex();
}

const indexText = (index: RunsIndex) => `${JSON.stringify(index, null, 2)}\n`;

async function addOnS3(runsRoot: string, entry: RunsIndexEntry, options: AddRunOptions): Promise<AddRunResult> {
  const { bucket, prefix } = parseS3Uri(runsRoot);
  const Key = joinKey(prefix, RUNS_INDEX_FILE);
  const uri = `s3://${bucket}/${Key}`;
  const client = sharedS3Client();
  const maxAttempts = options.maxAttempts ?? 25;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    let current = emptyRunsIndex();
    let etag: string | undefined;
    try {
      const output = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
      etag = output.ETag;
      current = parseRunsIndex(await output.Body!.transformToString());
    } catch (error) {
      if (!isNoSuchKey(error)) {
        if (error instanceof Error && error.name === 'RunsIndexError') throw new StorageError(`${uri}: ${error.message} Fix or remove it; glo will not overwrite entries it cannot read.`);
        throw new StorageError(`Cannot read ${uri}: ${errorNameOf(error)}: ${(error as Error).message}`, { cause: error });
      }
    }
    const next = withRun(current, entry);
    await options.beforeWrite?.(attempt);
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key,
          Body: indexText(next),
          ContentType: 'application/json',
          ...(etag ? { IfMatch: etag } : { IfNoneMatch: '*' }),
        }),
      );
      return { index: next, attempts: attempt };
    } catch (error) {
      const status = httpStatusOf(error);
      // 412: someone wrote since we read. 409: a concurrent conditional write is in flight. 404 with If-Match:
      // the index was deleted since we read. All mean "read again".
      const conflict = status === 412 || status === 409 || (etag !== undefined && isNoSuchKey(error));
      if (!conflict) throw new StorageError(`Cannot write ${uri}: ${errorNameOf(error)}: ${(error as Error).message}`, { cause: error });
      await backoff(attempt);
    }
  }
  throw new StorageError(`Gave up adding run ${entry.runId} to ${uri} after ${maxAttempts} conflicting concurrent writes; run the job again to retry.`);
}

// A folder of runs (glo pull's target) shares its writer with glo serve (serve/local-runs-index.ts).
async function addInFolder(runsRoot: string, entry: RunsIndexEntry, options: AddRunOptions): Promise<AddRunResult> {
  const index = await updateLocalRunsIndex(runsRoot, async (text) => {
    const next = withRun(text === undefined ? emptyRunsIndex() : parseRunsIndex(text), entry);
    await options.beforeWrite?.(1);
    return next;
  });
  return { index, attempts: 1 };
}
