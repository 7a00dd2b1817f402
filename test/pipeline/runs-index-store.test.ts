import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseRunsIndex, type RunsIndexEntry } from '../../training/glo/runs-index.ts';
import { addRunToIndex, readRunsIndex } from '../../training/pipeline/runs-index-store.ts';
import { startMoto, type Moto } from '../helpers/moto.ts';
import { tempDir } from '../training/training-fixtures.ts';

const entry = (runId: string, minute: number): RunsIndexEntry => ({
  runId,
  dataset: `s3://datasets/datasets/${runId}`,
  createdAt: new Date(Date.UTC(2026, 10, 28, 12, minute)).toISOString(),
  imageCount: 8,
  imageSize: 32,
  thumbnail: 'previews/reconstructions.png',
  reconstructionPsnr: 20,
  pcaReconstructionPsnr: 19,
});

/** Resolves once `count` callers are waiting: makes concurrent writers read before either writes. */
function barrier(count: number) {
  let waiting = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  return async () => {
    if (++waiting === count) release();
    await all;
  };
}

let moto: Moto;
const bucket = 'artifacts';
const root = `s3://${bucket}/runs`;

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(() => moto?.stop());
beforeEach(async () => {
  await moto.reset();
  await moto.createBucket(bucket);
});

describe('runs/index.json on S3 (conditional writes)', () => {
  it('moto_server enforces If-Match and If-None-Match, which the scheme relies on', async () => {
    const put = (extra: object) => moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'probe', Body: 'x', ...extra }));
    await put({ IfNoneMatch: '*' });
    await expect(put({ IfNoneMatch: '*' })).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await expect(put({ IfMatch: '"0123456789abcdef0123456789abcdef"' })).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    const { ETag } = await moto.client.send(new GetObjectCommand({ Bucket: bucket, Key: 'probe' }));
    await put({ IfMatch: ETag });
  });

  it('creates the index, then adds newest first and replaces an entry with the same run id', async () => {
    await addRunToIndex(root, entry('a', 1));
    await addRunToIndex(root, entry('b', 2));
    await addRunToIndex(root, { ...entry('a', 3), imageCount: 9 });
    const index = await readRunsIndex(root);
    expect(index.runs.map((r) => r.runId)).toEqual(['a', 'b']);
    expect(index.runs[0].imageCount).toBe(9);
  });

  it('two adders that both read before either writes: both entries survive, the loser retried', async () => {
    const bothRead = barrier(2);
    const hook = async (attempt: number) => {
      if (attempt === 1) await bothRead();
    };
    const [x, y] = await Promise.all([
      addRunToIndex(root, entry('job-x', 1), { beforeWrite: hook }),
      addRunToIndex(root, entry('job-y', 2), { beforeWrite: hook }),
    ]);
    expect([x.attempts, y.attempts].sort()).toEqual([1, 2]);
    const index = await readRunsIndex(root);
    expect(index.runs.map((r) => r.runId).sort()).toEqual(['job-x', 'job-y']);
  });

  it('the same with an existing index (If-Match path), and eight writers at once', async () => {
    await addRunToIndex(root, entry('old', 0));
    const bothRead = barrier(2);
    await Promise.all(['p', 'q'].map((id, i) => addRunToIndex(root, entry(id, i + 1), { beforeWrite: async (a) => (a === 1 ? bothRead() : undefined) })));
    await Promise.all(Array.from({ length: 8 }, (_, i) => addRunToIndex(root, entry(`many-${i}`, 10 + i))));
    const index = await readRunsIndex(root);
    expect(index.runs).toHaveLength(11);
    expect(index.runs.map((r) => r.runId)).toContain('old');
  });

  it('refuses to overwrite an index it cannot read', async () => {
    await moto.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'runs/index.json', Body: '{"format": "something else"}' }));
    await expect(addRunToIndex(root, entry('a', 1))).rejects.toThrow(/malformed.*will not overwrite/s);
  });
});

describe('runs/index.json in a folder (lock file)', () => {
  it('concurrent adders both survive', async () => {
    const dir = path.join(await tempDir(), 'runs');
    await Promise.all(Array.from({ length: 4 }, (_, i) => addRunToIndex(dir, entry(`local-${i}`, i))));
    const index = parseRunsIndex(await readFile(path.join(dir, 'index.json'), 'utf8'));
    expect(index.runs.map((r) => r.runId).sort()).toEqual(['local-0', 'local-1', 'local-2', 'local-3']);
  });
});
