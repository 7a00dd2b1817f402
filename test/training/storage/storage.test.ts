// One contract, two backends: everything the run writer and checkpoints rely on must hold identically for a
// folder and for S3 (moto_server on loopback), or "works locally, breaks in Batch" bugs creep in.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderStorage } from '../../../training/storage/folder-storage.ts';
import { S3Storage } from '../../../training/storage/s3-storage.ts';
import { parseS3Uri, StorageError, StorageKeyError, StorageNotFoundError, type Storage } from '../../../training/storage/storage.ts';
import { openStorage } from '../../../training/storage/open-storage.ts';
import { startMoto, type Moto } from '../../helpers/moto.ts';

const MiB = 1024 * 1024;
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

interface Backend {
  name: string;
  /** Returns a fresh, empty root; called once per describe block. */
  setUp(): Promise<Storage>;
  tearDown(): Promise<void>;
  /** The URI prefix a not-found error should name for key k under root. */
  expectedUri(root: Storage, key: string): string;
}

let tempDir = '';
let moto: Moto | undefined;

const backends: Backend[] = [
  {
    name: 'FolderStorage',
    async setUp() {
      tempDir = await mkdtemp(path.join(tmpdir(), 'glo-storage-'));
      return new FolderStorage(tempDir);
    },
    tearDown: () => rm(tempDir, { recursive: true, force: true }),
    expectedUri: (root, key) => path.join(root.uri, key),
  },
  {
    name: 'S3Storage',
    async setUp() {
      moto = await startMoto();
      await moto.createBucket('glo-contract');
      // A low threshold so the multipart path runs on a 6 MiB object (5 MiB is S3's minimum part size).
      return new S3Storage('s3://glo-contract/root', { multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB });
    },
    tearDown: async () => moto?.stop(),
    expectedUri: (root, key) => `${root.uri}/${key}`,
  },
];

describe.each(backends)('$name respects the Storage contract', (backend) => {
  let root: Storage;
  let testCount = 0;
  // Each test works in its own child so tests cannot see each other's objects.
  const fresh = () => root.child(`test-${++testCount}`);

  beforeAll(async () => {
    root = await backend.setUp();
  });
  afterAll(() => backend.tearDown());

  it('reads back exactly what was written, bytes or UTF-8 text, and overwrites', async () => {
    const storage = fresh();
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    await storage.write('model/weights.bin', bytes);
    await storage.write('manifest.json', '{"name":"glo ✓"}');
    expect(Array.from(await storage.read('model/weights.bin'))).toEqual([0, 1, 2, 254, 255]);
    expect(text(await storage.read('manifest.json'))).toBe('{"name":"glo ✓"}');
    await storage.write('manifest.json', 'v2');
    expect(text(await storage.read('manifest.json'))).toBe('v2');
    await storage.write('empty.bin', new Uint8Array(0));
    expect((await storage.read('empty.bin')).byteLength).toBe(0);
  });

  it('createIfAbsent writes only when the key is free, and one of two racing writers wins', async () => {
    const storage = fresh();
    expect(await storage.createIfAbsent('lock.json', 'first')).toBe(true);
    expect(await storage.createIfAbsent('lock.json', 'second')).toBe(false);
    expect(text(await storage.read('lock.json'))).toBe('first');
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((who) => storage.createIfAbsent('race.json', who)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(['a', 'b', 'c', 'd'][results.indexOf(true)]).toBe(text(await storage.read('race.json')));
    await storage.delete(['lock.json']);
    expect(await storage.createIfAbsent('lock.json', 'third')).toBe(true);
    expect((await storage.list()).map((o) => o.key)).toEqual(['lock.json', 'race.json']);
  });

  it('reports existence of objects, not of folders', async () => {
    const storage = fresh();
    await storage.write('a/b.txt', 'x');
    expect(await storage.exists('a/b.txt')).toBe(true);
    expect(await storage.exists('a/c.txt')).toBe(false);
    expect(await storage.exists('a')).toBe(false);
  });

  it('throws StorageNotFoundError naming the full URI for a missing key; readIfExists returns undefined', async () => {
    const storage = fresh();
    const error = await storage.read('checkpoint/state.json').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageNotFoundError);
    expect((error as StorageNotFoundError).uri).toBe(backend.expectedUri(storage, 'checkpoint/state.json'));
    expect((error as Error).message).toContain(backend.expectedUri(storage, 'checkpoint/state.json'));
    expect(await storage.readIfExists('checkpoint/state.json')).toBeUndefined();
  });

  it('lists recursively, sorted, with sizes, keys relative to the root; a prefix is a folder', async () => {
    const storage = fresh();
    expect(await storage.list()).toEqual([]);
    await storage.write('run/b.bin', new Uint8Array(3));
    await storage.write('run/a/deep/c.bin', new Uint8Array(5));
    await storage.write('run2/d.bin', new Uint8Array(1));
    await storage.write('top.json', '{}');
    const all = await storage.list();
    expect(all.map((o) => o.key)).toEqual(['run/a/deep/c.bin', 'run/b.bin', 'run2/d.bin', 'top.json']);
    expect(all.map((o) => o.size)).toEqual([5, 3, 1, 2]);
    // Folder semantics, with or without the trailing slash: 'run' must not match 'run2/'.
    expect((await storage.list('run')).map((o) => o.key)).toEqual(['run/a/deep/c.bin', 'run/b.bin']);
    expect((await storage.list('run/')).map((o) => o.key)).toEqual(['run/a/deep/c.bin', 'run/b.bin']);
    expect(await storage.list('missing')).toEqual([]);
  });

  it('lists and deletes more than 1000 objects (S3 pagination and DeleteObjects batches)', async () => {
    const storage = fresh();
    const keys = Array.from({ length: 1100 }, (_, i) => `many/${String(i).padStart(4, '0')}.txt`);
    await mapLimit(keys, 32, (key) => storage.write(key, key.slice(5, 9)));
    const listed = await storage.list('many');
    expect(listed).toHaveLength(1100);
    expect(listed.map((o) => o.key)).toEqual(keys);
    await storage.delete(keys);
    expect(await storage.list()).toEqual([]);
  });

  it('deletes listed keys and accepts missing ones', async () => {
    const storage = fresh();
    await storage.write('checkpoint/a.bin', 'a');
    await storage.write('checkpoint/b.bin', 'b');
    await storage.write('keep.json', 'k');
    await storage.delete(['checkpoint/a.bin', 'checkpoint/b.bin', 'checkpoint/never-written.bin']);
    await storage.delete([]);
    expect((await storage.list()).map((o) => o.key)).toEqual(['keep.json']);
  });

  it('roots a child at root/prefix, visible from the parent', async () => {
    const storage = fresh();
    const child = storage.child('runs/abc/');
    expect(child.uri).toBe(backend.name === 'FolderStorage' ? path.join(storage.uri, 'runs/abc') : `${storage.uri}/runs/abc`);
    await child.write('manifest.json', '{}');
    expect(await storage.exists('runs/abc/manifest.json')).toBe(true);
    expect((await child.list()).map((o) => o.key)).toEqual(['manifest.json']);
    expect(text(await storage.child('runs').read('abc/manifest.json'))).toBe('{}');
  });

  it('handles keys with spaces and unicode', async () => {
    const storage = fresh();
    const key = 'my photos/naïve café 🙂 #1 + 100%.png';
    await storage.write(key, 'pixels');
    expect(text(await storage.read(key))).toBe('pixels');
    expect(await storage.exists(key)).toBe(true);
    expect((await storage.list()).map((o) => o.key)).toEqual([key]);
    expect((await storage.child('my photos').list()).map((o) => o.key)).toEqual(['naïve café 🙂 #1 + 100%.png']);
    await storage.delete([key]);
    expect(await storage.exists(key)).toBe(false);
  });

  it('writes an object larger than 5 MiB (multipart on S3) intact', async () => {
    const storage = fresh();
    const big = new Uint8Array(6 * MiB + 123);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) % 251;
    await storage.write('model/group1-shard1of1.bin', big);
    const back = await storage.read('model/group1-shard1of1.bin');
    expect(back.byteLength).toBe(big.byteLength);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(big))).toBe(0);
    const [object] = await storage.list('model');
    expect(object.size).toBe(big.byteLength);
    // A multipart object's ETag is "<md5 of part md5s>-<part count>": proof the multipart path ran.
    if (backend.name === 'S3Storage') expect(object.etag).toMatch(/-2$/);
  });

  // S3-only behaviour, with the contract's moto server.
  if (backend.name === 'S3Storage') {
    it('S3: sets Content-Type so CloudFront serves artifacts as what they are', async () => {
      const storage = fresh() as S3Storage;
      await storage.write('manifest.json', '{}');
      await storage.write('previews/samples.png', new Uint8Array([1]));
      await storage.write('latents.bin', new Uint8Array([1]));
      const typeOf = async (key: string) =>
        (await moto!.client.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: `${storage.prefix}/${key}` }))).ContentType;
      expect(await typeOf('manifest.json')).toBe('application/json; charset=utf-8');
      expect(await typeOf('previews/samples.png')).toBe('image/png');
      expect(await typeOf('latents.bin')).toBe('application/octet-stream');
    });

    it('S3: the files that change in place (the runs index, manifests) are stored with Cache-Control: no-cache', async () => {
      const storage = fresh() as S3Storage;
      await storage.write('manifest.json', '{}');
      await storage.writeIfUnchanged('index.json', '{}', undefined); // the runs index's conditional write
      await storage.write('latents.bin', new Uint8Array([1]));
      const cacheOf = async (key: string) =>
        (await moto!.client.send(new HeadObjectCommand({ Bucket: storage.bucket, Key: `${storage.prefix}/${key}` }))).CacheControl;
      expect([await cacheOf('manifest.json'), await cacheOf('index.json'), await cacheOf('latents.bin')]).toEqual(['no-cache', 'no-cache', undefined]);
    });

    it('S3: a missing bucket is a StorageError that says so, not a missing key', async () => {
      const missing = new S3Storage('s3://no-such-bucket-here/run');
      const error = await missing.read('manifest.json').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect(error).not.toBeInstanceOf(StorageNotFoundError);
      expect((error as Error).message).toMatch(/s3:\/\/no-such-bucket-here\/run\/manifest\.json.*NoSuchBucket.*does not exist/s);
      await expect(missing.list()).rejects.toThrow(/ListObjectsV2 s3:\/\/no-such-bucket-here\/run\/ failed.*NoSuchBucket/s);
    });
  }

  it('rejects keys that could escape the root or differ between backends', async () => {
    const storage = fresh();
    for (const key of ['../escape.txt', 'a/../../b', '/absolute', 'a//b', '', 'a\\b']) {
      await expect(storage.write(key, 'x'), key).rejects.toBeInstanceOf(StorageKeyError);
    }
    expect(() => storage.child('..')).toThrow(StorageKeyError);
  });
});

describe('FolderStorage', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'glo-folder-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('leaves no temp files behind and prunes folders emptied by delete', async () => {
    const storage = new FolderStorage(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => storage.write('checkpoint/state.json', `v${i}`)));
    expect(await readdir(path.join(dir, 'checkpoint'))).toEqual(['state.json']);
    await storage.delete(['checkpoint/state.json']);
    expect(await readdir(dir)).toEqual([]);
  });

  it('accepts file:// URLs and relative paths', () => {
    expect(openStorage(pathToFileURL(dir).href).uri).toBe(dir);
    expect(openStorage('relative/run').uri).toBe(path.resolve('relative/run'));
  });
});

describe('openStorage and parseS3Uri', () => {
  it('dispatches s3:// to S3Storage and anything else to FolderStorage', () => {
    expect(openStorage('s3://bucket/runs/abc/')).toBeInstanceOf(S3Storage);
    expect(openStorage('s3://bucket/runs/abc/').uri).toBe('s3://bucket/runs/abc');
    expect(openStorage('/tmp/run')).toBeInstanceOf(FolderStorage);
  });

  it('splits bucket and prefix', () => {
    expect(parseS3Uri('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseS3Uri('s3://my-bucket/')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseS3Uri('s3://my.bucket/datasets/cats/')).toEqual({ bucket: 'my.bucket', prefix: 'datasets/cats' });
  });

  it('explains malformed URIs', () => {
    expect(() => parseS3Uri('https://bucket.s3.amazonaws.com/x')).toThrow(/Expected s3:\/\/bucket/);
    expect(() => parseS3Uri('s3://')).toThrow(/bucket name "" is not valid/);
    expect(() => parseS3Uri('s3://My_Bucket/x')).toThrow(/bucket name "My_Bucket" is not valid/);
    expect(() => parseS3Uri('s3://bucket/a//b')).toThrow(/empty path segment/);
    expect(() => parseS3Uri('s3://bucket/../b')).toThrow(/'\.\.' segment/);
  });
});
