import { CreateStackCommand, CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { cp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveBucket, runsRoot } from '../../training/cli/buckets.ts';
import { JobSpecError, parseJobSpecText } from '../../training/pipeline/job-spec.ts';
import { uploadDataset, UploadError, type UploadEvent, type UploadOptions } from '../../training/pipeline/upload.ts';
import { startMoto, type Moto } from '../helpers/moto.ts';
import { makeImageFolder, tempDir } from '../training/training-fixtures.ts';
import { getText, listKeys, runGlo } from './pipeline-fixtures.ts';

const MiB = 1024 * 1024;
const bucket = 'glo-datasets';
let moto: Moto;
let images: string;
let folder: string;

beforeAll(async () => {
  moto = await startMoto();
  images = await makeImageFolder(6, 32);
});
afterAll(() => moto?.stop());
beforeEach(async () => {
  await moto.reset();
  await moto.createBucket(bucket);
  folder = path.join(await tempDir('glo-upload-'), 'photos');
  await cp(images, folder, { recursive: true });
  await writeFile(path.join(folder, 'notes.txt'), 'not an image');
  await writeFile(path.join(folder, '.DS_Store'), 'hidden');
});

function upload(extra: Partial<UploadOptions> = {}) {
  const events: UploadEvent[] = [];
  const written: string[] = [];
  const result = uploadDataset({
    folder,
    dataset: 'photos',
    bucket,
    preset: 'tiny',
    options: { epochs: 3 },
    concurrency: 4,
    onEvent: (e) => events.push(e),
    onWritten: (k) => written.push(k),
    ...extra,
  });
  return { result, events, written };
}

describe('glo upload', () => {
  it('uploads the images in parallel, then glo.json last with the given options', async () => {
    const { result, events, written } = upload();
    const r = await result;
    expect(r.uploaded).toEqual(['img-000.png', 'img-001.png', 'img-002.png', 'img-003.png', 'img-004.png', 'img-005.png']);
    expect(r.notImages).toEqual(['notes.txt']);
    expect(written.at(-1)).toBe('datasets/photos/glo.json');
    expect(written).toHaveLength(7);
    expect(r.spec).toBe(`s3://${bucket}/datasets/photos/glo.json`);

    // Parallel and bounded: up to --concurrency files in flight at once.
    let inFlight = 0;
    let most = 0;
    for (const e of events) {
      if (e.type === 'start') most = Math.max(most, ++inFlight);
      if (e.type === 'done') inFlight--;
    }
    expect(most).toBe(4);

    const spec = (await getText(moto, bucket, 'datasets/photos/glo.json'))!;
    expect(JSON.parse(spec)).toEqual({ preset: 'tiny', epochs: 3 });
    expect(parseJobSpecText(spec).config.latentDim).toBe(16);
    expect(await listKeys(moto, bucket)).toEqual([...r.uploaded.map((n) => `datasets/photos/${n}`), 'datasets/photos/glo.json'].sort());
    const head = await moto.client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'datasets/photos/img-000.png' }));
    expect(head.ContentType).toBe('image/png');
  });

  it('skips files already uploaded unchanged, re-uploads changed ones, rewrites glo.json', async () => {
    await upload().result;
    const second = upload();
    const r = await second.result;
    expect(r.uploaded).toEqual([]);
    expect(r.unchanged).toHaveLength(6);
    expect(second.written).toEqual(['datasets/photos/glo.json']);

    await cp(path.join(images, 'img-000.png'), path.join(folder, 'img-001.png'));
    const third = await upload().result;
    expect(third.uploaded).toEqual(['img-001.png']);
  });

  it('sends big files as multipart uploads and recognizes them unchanged by the stored MD5', async () => {
    const big = randomBytes(6 * MiB);
    await writeFile(path.join(folder, 'big.png'), big);
    const options = { multipartThresholdBytes: 5 * MiB };
    await upload(options).result;
    const head = await moto.client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'datasets/photos/big.png' }));
    expect(head.ETag).toMatch(/-2"$/); // two parts: 5 MiB + 1 MiB
    expect(head.ContentLength).toBe(6 * MiB);

    expect((await upload(options).result).uploaded).toEqual([]);
    // Same size, different bytes: the multipart ETag cannot tell, the MD5 metadata does.
    big[123] ^= 0xff;
    await writeFile(path.join(folder, 'big.png'), big);
    expect((await upload(options).result).uploaded).toEqual(['big.png']);
  });

  it('reports objects the folder no longer has, and deletes them with deleteExtra', async () => {
    await upload().result;
    await rm(path.join(folder, 'img-005.png'));
    const kept = await upload().result;
    expect(kept.extra).toEqual(['img-005.png']);
    expect(await listKeys(moto, bucket)).toContain('datasets/photos/img-005.png');
    const deleted = await upload({ deleteExtra: true }).result;
    expect(deleted.deleted).toBe(true);
    expect(await listKeys(moto, bucket)).not.toContain('datasets/photos/img-005.png');
  });

  it('does not write glo.json when an image fails to upload', async () => {
    const { result } = upload({
      concurrency: 1,
      // The plan is made; the last file vanishes before its turn.
      onEvent: (e) => {
        if (e.type === 'plan') void rm(path.join(folder, 'img-005.png'));
      },
    });
    await expect(result).rejects.toThrow(/Could not upload 1 file.*glo.json was NOT written.*img-005.png/s);
    expect(await listKeys(moto, bucket)).not.toContain('datasets/photos/glo.json');
  });

  it.each([
    ['a bad dataset name', { dataset: 'My Photos' }, /dataset name "My Photos" is not allowed/],
    ['unicode in the name', { dataset: 'photos-été' }, /is not allowed/],
    ['an unknown option', { options: { epochz: 3 } as never }, /unknown option "epochz"/],
    ['an invalid option', { options: { imageSize: 48 } as never }, /"imageSize"/],
  ])('rejects %s before any upload', async (_, extra, message) => {
    await expect(upload(extra).result).rejects.toThrow(JobSpecError);
    await expect(upload(extra).result).rejects.toThrow(message);
    expect(await listKeys(moto, bucket)).toEqual([]);
  });

  it('rejects a folder without images', async () => {
    const empty = await tempDir('glo-empty-');
    await writeFile(path.join(empty, 'readme.md'), '#');
    await expect(upload({ folder: empty }).result).rejects.toThrow(UploadError);
    await expect(upload({ folder: empty }).result).rejects.toThrow(/No images in .* \(1 other files, e.g. readme.md\)/);
    expect(await listKeys(moto, bucket)).toEqual([]);
  });

  it('through the binary: uploads, and rejects bad input with exit 2 before uploading', async () => {
    const ok = await runGlo(['upload', folder, '--dataset', 'cli', '--bucket', bucket, '--preset', 'tiny', '--epochs', '2']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/uploaded 6 files .* 0 unchanged; wrote s3:\/\/glo-datasets\/datasets\/cli\/glo.json/);
    expect(JSON.parse((await getText(moto, bucket, 'datasets/cli/glo.json'))!)).toEqual({ preset: 'tiny', epochs: 2 });

    // --config gives options (and a preset); flags override it.
    const config = path.join(await tempDir('glo-config-'), 'options.json');
    await writeFile(config, JSON.stringify({ preset: 'quick', epochs: 5, latentDim: 32 }));
    const withConfig = await runGlo(['upload', folder, '--dataset', 'cli', '--bucket', bucket, '--config', config, '--epochs', '7']);
    expect(withConfig.code, withConfig.stderr).toBe(0);
    expect(withConfig.stderr).toMatch(/uploaded 0 files .* 6 unchanged/);
    expect(JSON.parse((await getText(moto, bucket, 'datasets/cli/glo.json'))!)).toEqual({ preset: 'quick', epochs: 7, latentDim: 32 });

    const badName = await runGlo(['upload', folder, '--dataset', 'Cli', '--bucket', bucket]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/dataset name "Cli" is not allowed/);
    const badOption = await runGlo(['upload', folder, '--dataset', 'cli2', '--bucket', bucket, '--image-size', '48']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/"imageSize" \(--image-size\)/);
    expect((await listKeys(moto, bucket)).filter((k) => k.startsWith('datasets/cli2/'))).toEqual([]);
  });
});

describe('missing buckets: a message, not a stack trace', () => {
  it('glo upload and glo runs exit 1 and say the bucket does not exist', async () => {
    const up = await runGlo(['upload', folder, '--dataset', 'x', '--bucket', 'no-such-datasets']);
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/^glo upload: S3 ListObjectsV2 s3:\/\/no-such-datasets\/datasets\/x\/ failed: NoSuchBucket.*The bucket does not exist/m);
    expect(up.stderr).not.toMatch(/\n\s+at /);
    const runs = await runGlo(['runs', '--artifacts', 'no-such-artifacts']);
    expect(runs.code).toBe(1);
    expect(runs.stderr).toMatch(/^glo runs: S3 GetObject s3:\/\/no-such-artifacts\/runs\/index.json failed: NoSuchBucket/m);
  });
});

describe('bucket names: flag, env, stack outputs', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ['GLO_DATASETS_BUCKET', 'GLO_ARTIFACTS_BUCKET', 'GLO_STACK']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('takes the flag, then the environment, then the stack outputs, else says all three ways', async () => {
    process.env.GLO_STACK = 'GloMissing';
    delete process.env.GLO_DATASETS_BUCKET;
    expect(await resolveBucket('datasets', 'from-flag')).toBe('from-flag');
    process.env.GLO_DATASETS_BUCKET = 'from-env';
    expect(await resolveBucket('datasets', undefined)).toBe('from-env');
    delete process.env.GLO_DATASETS_BUCKET;
    await expect(resolveBucket('datasets', undefined)).rejects.toThrow(/--bucket NAME, or set GLO_DATASETS_BUCKET, or deploy the stack.*"GloMissing" could not be read/s);

    // A stack in moto's CloudFormation with the outputs the real stack has.
    const cfn = new CloudFormationClient({});
    process.env.GLO_STACK = 'GloTest';
    await cfn.send(
      new CreateStackCommand({
        StackName: 'GloTest',
        TemplateBody: JSON.stringify({
          Resources: { Datasets: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'stack-datasets' } } },
          Outputs: { DatasetsBucketName: { Value: { Ref: 'Datasets' } }, ArtifactsBucketName: { Value: 'stack-artifacts' } },
        }),
      }),
    );
    cfn.destroy();
    expect(await resolveBucket('datasets', undefined)).toBe('stack-datasets');
    expect(await resolveBucket('artifacts', undefined)).toBe('stack-artifacts');
  });

  it('maps --artifacts values to a runs root', () => {
    expect(runsRoot('my-artifacts')).toBe('s3://my-artifacts/runs');
    expect(runsRoot('s3://b/some/runs/')).toBe('s3://b/some/runs');
    expect(runsRoot('./runs')).toBe('./runs');
    expect(() => runsRoot('Not_A_Bucket')).toThrow(/not a bucket name/);
  });
});
