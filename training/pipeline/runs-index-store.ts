// Adding a run to runs/index.json without losing a concurrent writer's entry. Two Batch jobs finishing at
// the same time both read the index, add their run and write it back; a plain PUT would keep only the last.
//
// On S3 the write is conditional (S3Storage.writeIfUnchanged: If-Match the ETag read, or If-None-Match
// when there was no index); when another writer got there first, read again, re-apply withRun() and retry.
// moto_server 5.2.1 implements both headers (tested in test/pipeline/runs-index-store.test.ts). A local folder (glo pull) uses
// a lock file instead (serve/local-runs-index.ts).
import { emptyRunsIndex, parseRunsIndex, withRun, type RunsIndex, type RunsIndexEntry } from '../glo/runs-index.ts';
import { StorageError } from '../storage/storage.ts';
import { openStorage } from '../storage/open-storage.ts';
import { S3Storage } from '../storage/s3-storage.ts';
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
  const storage = new S3Storage(runsRoot);
  const uri = `${storage.uri}/${RUNS_INDEX_FILE}`;
  const maxAttempts = options.maxAttempts ?? 25;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const read = await storage.readVersioned(RUNS_INDEX_FILE);
    let current: RunsIndex;
    try {
      current = read ? parseRunsIndex(new TextDecoder().decode(read.bytes)) : emptyRunsIndex();
    } catch (error) {
      throw new StorageError(`${uri}: ${(error as Error).message} Fix or remove it; glo will not overwrite entries it cannot read.`, { cause: error });
    }
    const next = withRun(current, entry);
    await options.beforeWrite?.(attempt);
    if (await storage.writeIfUnchanged(RUNS_INDEX_FILE, indexText(next), read?.etag)) return { index: next, attempts: attempt };
    await backoff(attempt); // another writer got there first: read again
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
