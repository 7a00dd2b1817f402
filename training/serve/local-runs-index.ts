// The runs/index.json of a local folder of runs, which two commands write: `glo pull` adds the run it
// copied, and `glo serve` rebuilds the index from the run folders. Both go through updateLocalRunsIndex:
// a lock file (O_EXCL create) keeps two writers from losing each other's entry, and the new index replaces
// the old one atomically (FolderStorage.write: temp file, then rename). A lock older than a minute is from a
// crashed process and is broken.
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { RunsIndex } from '../glo/runs-index.ts';
import { FolderStorage } from '../storage/folder-storage.ts';
import { StorageError } from '../storage/storage.ts';

export const RUNS_INDEX_FILE = 'index.json';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// Jittered, growing backoff so writers that collided do not collide again in lockstep.
export const backoff = (attempt: number) => sleep(Math.min(2000, 50 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random()));

/**
 * Under the folder's index lock: reads <runsRoot>/index.json (undefined when there is none), lets `next`
 * compute the new index from that text, and writes it. Returns what was written.
 */
export async function updateLocalRunsIndex(runsRoot: string, next: (current: string | undefined) => Promise<RunsIndex>): Promise<RunsIndex> {
  const storage = new FolderStorage(runsRoot);
  const lock = path.join(storage.uri, `${RUNS_INDEX_FILE}.lock`);
  await mkdir(storage.uri, { recursive: true });
  const deadline = Date.now() + 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      const handle = await open(lock, 'wx');
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 60_000) await unlink(lock).catch(() => undefined);
      else if (Date.now() > deadline) throw new StorageError(`${lock} has been held for 30 s: another glo is updating the index, or remove the stale lock.`);
      await backoff(attempt);
    }
  }
  try {
    const bytes = await storage.readIfExists(RUNS_INDEX_FILE);
    const index = await next(bytes && new TextDecoder().decode(bytes));
    await storage.write(RUNS_INDEX_FILE, `${JSON.stringify(index, null, 2)}\n`);
    return index;
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}
