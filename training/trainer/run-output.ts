// The run folder (--out) before training starts: never replaced without being asked, writable, and held by
// one trainer at a time. All of it is checked before any data is loaded, so a mistake costs seconds.
import { existsSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FolderStorage } from '../storage/folder-storage.ts';
import { StorageError, type Storage } from '../storage/storage.ts';

/** What a run folder holds (the run writer, checkpoints, glo eval, glo fit-sampler, glo job's failure record), and the lock. */
const RUN_FILE = /^(manifest\.json|failure\.json|latents\.bin|atlas\.(png|webp)|prior\.json|labels\.json|metrics\.json|holdout\.(png|json)|eval\.json|\.glo-lock\.json|(model|previews|sampler|checkpoint)\/.+)$/;
export const LOCK_KEY = '.glo-lock.json';

/** --out cannot be used as asked; the message says why and what to pass instead. */
export class RunOutputError extends Error {
  override name = 'RunOutputError';
}

export interface OutputIntent {
  /** --resume: a checkpoint of glo's there is expected. */
  resume: boolean;
  /** --overwrite: replace whatever is there. */
  overwrite: boolean;
}

function sample(keys: string[]): string {
  return keys.slice(0, 3).join(', ') + (keys.length > 3 ? `, and ${keys.length - 3} more` : '');
}

/**
 * Refuses an --out that would lose something: a finished run, files that are not glo's, or (without
 * --resume) an unfinished run's checkpoint; --overwrite allows all of it. A folder of '/' is always refused.
 */
export async function checkRunOutput(out: Storage, intent: OutputIntent): Promise<void> {
  refuseRoot(out);
  if (intent.overwrite) return;
  // A failed attempt's record (glo job) says what went wrong; it does not make the folder a run.
  const keys = (await out.list()).map((o) => o.key).filter((k) => k !== LOCK_KEY && k !== 'failure.json');
  if (keys.length === 0) return;
  const foreign = keys.filter((k) => !RUN_FILE.test(k));
  if (foreign.length > 0) {
    throw new RunOutputError(`--out ${out.uri} holds files that are not a glo run's (${sample(foreign)}): choose an empty or new folder, or pass --overwrite to write the run there anyway.`);
  }
  if (keys.includes('manifest.json')) {
    throw new RunOutputError(`--out ${out.uri} holds a finished run (manifest.json): choose another folder, or pass --overwrite to replace it.`);
  }
  const checkpointed = keys.includes('checkpoint/latest.json');
  if (intent.resume && checkpointed) return;
  throw new RunOutputError(checkpointed
    ? `--out ${out.uri} holds an unfinished run's checkpoint: pass --resume to continue it, or --overwrite to start over.`
    : `--out ${out.uri} holds files of a run but no finished run or checkpoint to resume (${sample(keys)}): choose another folder, or pass --overwrite to replace them.`);
}

function refuseRoot(out: Storage): void {
  if (out instanceof FolderStorage && path.parse(out.uri).root === out.uri) {
    throw new RunOutputError(`--out ${out.uri} is the root of the file system: give the run its own folder, e.g. --out runs/my-run.`);
  }
}

interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  /** Set in AWS Batch: a retried attempt of the same job takes its own lock over. */
  batchJobId?: string;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The holder is gone for sure: this machine's process has exited, or this is the next attempt of its Batch job. */
function isStale(holder: LockHolder, me: LockHolder): boolean {
  if (holder.batchJobId && holder.batchJobId === me.batchJobId) return true;
  return holder.host === me.host && holder.pid !== me.pid && !processAlive(holder.pid);
}

/**
 * With --overwrite, the earlier run's files go before training starts (the manifest first, so the folder
 * stops being a finished run at once): none of them (an eval.json, a sampler/) may survive next to the new
 * run. Files that are not a glo run's stay.
 */
export async function clearRunFiles(out: Storage): Promise<number> {
  const keys = (await out.list()).map((o) => o.key).filter((k) => k !== LOCK_KEY && RUN_FILE.test(k));
  if (keys.includes('manifest.json')) await out.delete(['manifest.json']);
  await out.delete(keys.filter((k) => k !== 'manifest.json'));
  return keys.length;
}

export interface RunLock {
  release(): Promise<void>;
}

/**
 * Takes the run's lock (--out/.glo-lock.json, created only if absent: a hard link on a folder, a
 * conditional PUT on S3), which doubles as the check that --out is writable. A second trainer on the same
 * --out is refused with a message naming the first; a lock left by a killed process on this machine, or
 * by an earlier attempt of the same Batch job, is taken over.
 */
export async function lockRun(out: Storage): Promise<RunLock> {
  refuseRoot(out);
  const folderExisted = out instanceof FolderStorage && existsSync(out.uri);
  const me: LockHolder = {
    pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(),
    ...(process.env.AWS_BATCH_JOB_ID ? { batchJobId: process.env.AWS_BATCH_JOB_ID } : {}),
  };
  const body = `${JSON.stringify(me, null, 2)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    let created: boolean;
    try {
      created = await out.createIfAbsent(LOCK_KEY, body);
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      throw new RunOutputError(`--out ${out.uri} is not writable (${error.message}): choose a folder or s3:// prefix this user can write to.`);
    }
    if (created) {
      return {
        release: async () => {
          await out.delete([LOCK_KEY]);
          // A folder the lock itself created goes too, so a run refused later (say, an empty dataset) leaves nothing.
          if (!folderExisted && out instanceof FolderStorage) await rmdir(out.uri).catch(() => undefined);
        },
      };
    }
    const text = await out.readIfExists(LOCK_KEY);
    if (text === undefined) continue; // released meanwhile: try again
    let holder: LockHolder | undefined;
    try {
      holder = JSON.parse(new TextDecoder().decode(text)) as LockHolder;
    } catch {
      holder = undefined;
    }
    if (holder && isStale(holder, me)) {
      await out.delete([LOCK_KEY]);
      continue;
    }
    const who = holder ? `process ${holder.pid} on ${holder.host}, since ${holder.startedAt}${holder.batchJobId ? `, Batch job ${holder.batchJobId}` : ''}` : 'an unreadable lock';
    throw new RunOutputError(`--out ${out.uri} is in use by another trainer (${who}): wait for it, or use another --out. ` +
      `If that trainer is gone, delete ${out.uri}/${LOCK_KEY}.`);
  }
  throw new RunOutputError(`--out ${out.uri}: could not take the lock ${LOCK_KEY} (it kept changing); is another trainer starting there?`);
}
