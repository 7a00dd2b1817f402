// Storage on a local folder. Behaves like S3 where the two could differ: writes are atomic (temp file +
// rename, so a crash or a concurrent reader never sees half a manifest or checkpoint), deleting a missing
// key is fine, and folders are an implementation detail (created on write, pruned when emptied by delete).
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  compareKeys,
  joinKey,
  normalizeKey,
  readOrUndefined,
  StorageError,
  StorageNotFoundError,
  type Storage,
  type StorageObject,
} from './storage.ts';

// Temp files live next to their target (rename is only atomic within one file system) and are hidden and
// suffixed so list() can leave out the ones a crashed writer left behind.
const TEMP_SUFFIX = '.glo-tmp';
const isTempName = (name: string) => name.startsWith('.') && name.endsWith(TEMP_SUFFIX);

const NOT_FOUND_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);
const UNREADABLE_CODES = new Map([
  ['ELOOP', 'a symbolic link loop (ELOOP)'],
  ['EACCES', 'no permission to read it (EACCES)'],
  ['EPERM', 'no permission to read it (EPERM)'],
]);
const errorCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code ?? '';

export class FolderStorage implements Storage {
  readonly uri: string;

  /** `root` is a path (relative to the working directory) or a file:// URL; it need not exist yet. */
  constructor(root: string) {
    this.uri = path.resolve(root.startsWith('file:') ? fileURLToPath(root) : root);
  }

  private pathOf(key: string): string {
    return path.join(this.uri, ...normalizeKey(key).split('/'));
  }

  async read(key: string): Promise<Uint8Array> {
    const file = this.pathOf(key);
    try {
      return await readFile(file);
    } catch (error) {
      if (NOT_FOUND_CODES.has(errorCode(error))) throw new StorageNotFoundError(file, { cause: error });
      throw new StorageError(`Cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
  }

  async readIfExists(key: string): Promise<Uint8Array | undefined> {
    return readOrUndefined(() => this.read(key));
  }

  async write(key: string, data: Uint8Array | string): Promise<void> {
    const file = this.pathOf(key);
    await this.writeVia(file, data, (temp) => rename(temp, file));
  }

  async createIfAbsent(key: string, data: Uint8Array | string): Promise<boolean> {
    const file = this.pathOf(key);
    let created = true;
    // link() fails with EEXIST where rename() would replace: the complete file appears only if none was there.
    await this.writeVia(file, data, async (temp) => {
      try {
        await link(temp, file);
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
        created = false;
      }
      await unlink(temp);
    });
    return created;
  }

  /** Writes `data` to a synced temp file beside `file`, then hands it to `publish` (rename or link). */
  private async writeVia(file: string, data: Uint8Array | string, publish: (temp: string) => Promise<void>): Promise<void> {
    const dir = path.dirname(file);
    const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
    try {
      // Two tries: a concurrent delete() may prune the (momentarily empty) folder between mkdir and open.
      for (let attempt = 1; ; attempt++) {
        await mkdir(dir, { recursive: true });
        try {
          const handle = await open(temp, 'wx');
          try {
            await handle.writeFile(data);
            // Flush before the rename, or a power cut can leave a renamed but empty checkpoint.
            await handle.sync();
          } finally {
            await handle.close();
          }
          break;
        } catch (error) {
          if (errorCode(error) !== 'ENOENT' || attempt >= 2) throw error;
        }
      }
      await publish(temp);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw new StorageError(`Cannot write ${file}: ${(error as Error).message}`, { cause: error });
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (error) {
      if (NOT_FOUND_CODES.has(errorCode(error))) return false;
      throw new StorageError(`Cannot stat ${this.pathOf(key)}: ${(error as Error).message}`, { cause: error });
    }
  }

  async list(prefix = ''): Promise<StorageObject[]> {
    const base = normalizeKey(prefix, { allowEmpty: true });
    const objects: StorageObject[] = [];
    await this.walk(base, objects);
    return objects.sort((a, b) => compareKeys(a.key, b.key));
  }

  // Symlinks to files are followed (datasets are often folders of links); symlinks to folders are not,
  // which rules out cycles. A missing folder lists as empty, like an S3 prefix with no objects.
  private async walk(dirKey: string, into: StorageObject[]): Promise<void> {
    const dir = dirKey === '' ? this.uri : path.join(this.uri, ...dirKey.split('/'));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (NOT_FOUND_CODES.has(errorCode(error))) return;
      throw new StorageError(`Cannot list ${dir}: ${(error as Error).message}`, { cause: error });
    }
    await Promise.all(
      entries.map(async (entry) => {
        if (isTempName(entry.name)) return;
        const key = joinKey(dirKey, entry.name);
        if (entry.isDirectory()) return this.walk(key, into);
        if (!entry.isFile() && !entry.isSymbolicLink()) return;
        try {
          const info = await stat(path.join(dir, entry.name));
          if (info.isFile()) into.push({ key, size: info.size });
        } catch (error) {
          // A dangling symlink, or a file deleted while listing: not an object.
          if (NOT_FOUND_CODES.has(errorCode(error))) return;
          if (!UNREADABLE_CODES.has(errorCode(error))) throw error;
          into.push({ key, size: 0, unreadable: UNREADABLE_CODES.get(errorCode(error))! });
        }
      }),
    );
  }

  async delete(keys: string[]): Promise<void> {
    const files = keys.map((key) => this.pathOf(key));
    await Promise.all(
      files.map(async (file) => {
        try {
          await unlink(file);
        } catch (error) {
          if (NOT_FOUND_CODES.has(errorCode(error))) return;
          throw new StorageError(`Cannot delete ${file}: ${(error as Error).message}`, { cause: error });
        }
        await this.pruneEmptyParents(path.dirname(file));
      }),
    );
  }

  // S3 has no folders, so deleting a checkpoint/ should not leave an empty one behind. rmdir refuses a
  // non-empty folder, which makes this safe against concurrent writers; the root itself is kept.
  private async pruneEmptyParents(dir: string): Promise<void> {
    // A root of '/' already ends with the separator ('//' would match nothing and prune nothing).
    const rootPrefix = this.uri.endsWith(path.sep) ? this.uri : this.uri + path.sep;
    while (dir !== this.uri && dir.startsWith(rootPrefix)) {
      try {
        await rmdir(dir);
      } catch {
        return;
      }
      dir = path.dirname(dir);
    }
  }

  child(prefix: string): Storage {
    return new FolderStorage(path.join(this.uri, ...normalizeKey(prefix).split('/')));
  }
}
