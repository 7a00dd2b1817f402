import { mkdir, rm, stat } from 'node:fs/promises';

/**
 * Runs `work` holding a directory lock (mkdir is atomic), so parallel vitest forks build a shared fixture once.
 * A lock older than `staleMs` is taken over (its holder died).
 */
export async function withLock<T>(lock: string, work: () => Promise<T>, staleMs = 10 * 60_000): Promise<T> {
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const info = await stat(lock).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > staleMs) await rm(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
