import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseManifest } from '../../training/glo/manifest.ts';
import { parseRunsIndex } from '../../training/glo/runs-index.ts';
import { pullRun } from '../../training/pipeline/pull.ts';
import { formatFailuresTable } from '../../training/cli/commands/runs.ts';
import { S3Storage } from '../../training/storage/s3-storage.ts';
import { JobFailed, jobRunId, listFailureRecords, runJob, type FailureRecord, type JobOptions } from '../../training/pipeline/job.ts';
import { startMoto, type Moto } from '../helpers/moto.ts';
import { makeImageFolder, tempDir } from '../training/training-fixtures.ts';
import { getJson, getText, listKeys, putDataset, putObject, runGlo, tinySpec } from './pipeline-fixtures.ts';

let moto: Moto;
let images: string;
const datasets = 'glo-datasets';
const artifacts = 'glo-artifacts';
const runs = `s3://${artifacts}/runs`;

const job = (key: string, extra: Partial<JobOptions> = {}) =>
  runJob({ bucket: datasets, key, artifacts: runs, backend: 'wasm', requireGpu: false, jobId: 'a1b2c3d4-0000-4000-8000-000000000001', attempt: 1, ...extra });

/** The job's failure, or a test failure if it succeeded. */
async function failure(promise: Promise<unknown>): Promise<JobFailed> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof JobFailed) return error;
    throw error;
  }
  throw new Error('the job succeeded');
}

beforeAll(async () => {
  moto = await startMoto();
  images = await makeImageFolder(8, 32);
});
afterAll(() => moto?.stop());
beforeEach(async () => {
  await moto.reset();
  await moto.createBucket(datasets);
  await moto.createBucket(artifacts);
});

describe('glo job, end to end on moto with the real trainer', () => {
  it('publishes the run, lists it in runs/index.json, removes the checkpoint; a rerun only re-indexes', async () => {
    const key = await putDataset(moto, datasets, 'blobs', images, tinySpec());
    const result = await job(key);
    expect(result.status).toBe('published');
    expect(result.runId).toMatch(/^blobs-\d{8}-a1b2c3d4$/);
    expect(result.run).toBe(`${runs}/${result.runId}`);

    const manifest = parseManifest(await getJson(moto, artifacts, `runs/${result.runId}/manifest.json`));
    expect(manifest.runId).toBe(result.runId);
    expect(manifest.dataset.source).toBe(`s3://${datasets}/datasets/blobs`);
    expect(manifest.dataset.imageCount).toBe(8);
    expect(manifest.config.latentDim).toBe(16); // the tiny preset from glo.json
    expect(manifest.training.epochs).toBe(2);

    const index = parseRunsIndex((await getText(moto, artifacts, 'runs/index.json'))!);
    expect(index.runs.map((r) => r.runId)).toEqual([result.runId]);
    const keys = await listKeys(moto, artifacts, `runs/${result.runId}/`);
    expect(keys.filter((k) => k.includes('/checkpoint/'))).toEqual([]);
    expect(keys).not.toContain(`runs/${result.runId}/failure.json`);
    // Every file the manifest lists is there with its size.
    for (const file of manifest.files) expect(keys).toContain(`runs/${result.runId}/${file.path}`);

    // A retry of the same Batch job after the run was published (e.g. it died during the index update).
    const again = await job(key, { attempt: 2 });
    expect(again.status).toBe('already-published');
    expect(again.runId).toBe(result.runId);
    expect(parseRunsIndex((await getText(moto, artifacts, 'runs/index.json'))!).runs).toHaveLength(1);

    // glo runs lists it; glo pull copies it for the local site and lists it in the local index.
    const listed = await runGlo(['runs', '--artifacts', artifacts]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^RUN\s+DATASET\s+CREATED \(UTC\)\s+IMAGES\s+PSNR GLO vs PCA/);
    expect(listed.stdout).toMatch(new RegExp(`${result.runId}\\s+s3://${datasets}/datasets/blobs\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+8\\s+[\\d.]+ dB vs [\\d.]+ dB`));

    const local = path.join(await tempDir('glo-pull-'), 'runs');
    // An eval.json beside the run (glo eval writes one; the manifest does not list it) is pulled too.
    await putObject(moto, artifacts, `runs/${result.runId}/eval.json`, new TextEncoder().encode('{"format":"glo-eval"}'));
    const pulled = await pullRun({ from: runs, runId: result.runId, out: local });
    expect(await readFile(path.join(local, result.runId, 'eval.json'), 'utf8')).toBe('{"format":"glo-eval"}');
    expect(pulled.folder).toBe(path.join(local, result.runId));
    expect(parseManifest(JSON.parse(await readFile(path.join(local, result.runId, 'manifest.json'), 'utf8')))).toEqual(manifest);
    for (const file of manifest.files) expect((await stat(path.join(local, result.runId, file.path))).size).toBe(file.bytes);
    expect(parseRunsIndex(await readFile(path.join(local, 'index.json'), 'utf8')).runs.map((r) => r.runId)).toEqual([result.runId]);

    // A damaged copy (a file shorter than the manifest says) is refused and leaves no manifest behind.
    await putObject(moto, artifacts, `runs/${result.runId}/latents.bin`, new Uint8Array(3));
    const damaged = path.join(await tempDir('glo-pull-'), 'runs');
    await expect(pullRun({ from: runs, runId: result.runId, out: damaged })).rejects.toThrow(/latents.bin has 3 bytes but the manifest says/);
    expect(existsSync(path.join(damaged, result.runId, 'manifest.json'))).toBe(false);
    await expect(pullRun({ from: runs, runId: 'no-such-run', out: damaged })).rejects.toThrow(/No published run no-such-run/);
    await expect(pullRun({ from: runs, runId: '../etc', out: damaged })).rejects.toThrow(/is not a run id/);
  });

  it('decodes a URL-encoded key as S3 events may deliver it', async () => {
    await putDataset(moto, datasets, 'enc', images, tinySpec({ epochs: 1 }));
    const result = await job('datasets%2Fenc%2Fglo.json');
    expect(result.runId).toMatch(/^enc-/);
  });
});

describe('glo job on bad input: clear errors, nothing half-published', () => {
  async function expectNothingPublished() {
    const keys = await listKeys(moto, artifacts);
    expect(keys.filter((k) => k.endsWith('manifest.json') || k === 'runs/index.json')).toEqual([]);
  }

  it('an empty dataset (glo.json and no images): exit 2 at the data stage, failure record', async () => {
    const key = await putDataset(moto, datasets, 'empty', undefined, tinySpec());
    const error = await failure(job(key));
    expect(error.exitCode).toBe(2);
    expect(error.stage).toBe('data');
    expect(error.message).toMatch(/No usable images in s3:\/\/glo-datasets\/datasets\/empty/);
    const record = await getJson<FailureRecord>(moto, artifacts, `runs/${error.runId}/failure.json`);
    expect(record).toMatchObject({ stage: 'data', exitCode: 2, attempt: 1, jobId: 'a1b2c3d4-0000-4000-8000-000000000001', dataset: 'empty' });
    expect(error.failureRecord).toBe(`${runs}/${error.runId}/failure.json`);
    await expectNothingPublished();
    // glo runs --failures shows it.
    const records = await listFailureRecords(runs);
    expect(records.map((r) => r.runId)).toEqual([error.runId]);
    expect(formatFailuresTable(records)).toMatch(new RegExp(`^RUN\\s+TIME \\(UTC\\)\\s+STAGE\\s+ATTEMPT\\s+EXIT\\s+ERROR\n${error.runId}\\s+\\S+ \\S+\\s+data\\s+1\\s+2\\s+No usable images`));
    // A record that is not one (hand-edited, another tool's) is named, not shown as a row of undefined.
    await new S3Storage(runs).write(`${error.runId}/failure.json`, JSON.stringify({ ...record, stage: 'lunch' }));
    await expect(listFailureRecords(runs)).rejects.toThrow(new RegExp(`${error.runId}/failure.json is not a valid run file: stage`));
  });

  it.each([
    ['an unknown option', { preset: 'tiny', epochz: 3 }, /unknown option "epochz"/],
    ['an invalid value', { preset: 'tiny', imageSize: 48 }, /"imageSize"/],
    ['an unknown preset', { preset: 'huge' }, /"preset" must be one of paper, quick, tiny/],
    ['not JSON', '{"preset": tiny}', /is not valid JSON/],
    ['not an object', '[1, 2]', /must be a JSON object/],
    // JSON.parse makes "__proto__" an own key; it must be refused as glo train --config refuses it, not dropped.
    ['a "__proto__" key', '{"preset": "tiny", "__proto__": {"epochs": 1}}', /unknown option "__proto__"/],
  ])('a spec with %s: exit 2 at the spec stage, before any training', async (_, spec, message) => {
    const key = await putDataset(moto, datasets, 'badspec', images, spec);
    const error = await failure(job(key));
    expect(error.exitCode).toBe(2);
    expect(error.stage).toBe('spec');
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`s3://${datasets}/${key}`);
    const record = await getJson<FailureRecord>(moto, artifacts, `runs/${error.runId}/failure.json`);
    expect(record?.stage).toBe('spec');
    expect(record?.message).toMatch(message);
    await expectNothingPublished();
  });

  it.each([
    ['a space', 'datasets/my cats/glo.json', /dataset name "my cats" is not allowed/],
    ['a space, URL-encoded', 'datasets/my+cats/glo.json', /"datasets\/my cats\/glo.json" \(received URL-encoded/],
    ['unicode', 'datasets/chats-été/glo.json', /dataset name "chats-été" is not allowed/],
    ['upper case', 'datasets/Cats/glo.json', /is not allowed/],
    ['a deeper key the rule wildcard also matches', 'datasets/cats/more/glo.json', /expected datasets\/<dataset>\/glo.json/],
    ['another file', 'datasets/cats/img-000.png', /is not a job spec/],
    ['another prefix', 'uploads/cats/glo.json', /is not a job spec/],
  ])('a key with %s: exit 2 before reading anything', async (_, key, message) => {
    const error = await failure(job(key));
    expect(error).toMatchObject({ exitCode: 2, stage: 'key', runId: undefined });
    expect(error.message).toMatch(message);
    expect(await listKeys(moto, artifacts)).toEqual([]);
  });

  it('a missing spec: exit 2, says so', async () => {
    const error = await failure(job('datasets/gone/glo.json'));
    expect(error).toMatchObject({ exitCode: 2, stage: 'spec' });
    expect(error.message).toMatch(/does not exist/);
  });

  it('GPU required but absent: fails at the backend stage, before the dataset, with a failure record', async () => {
    const key = await putDataset(moto, datasets, 'gpu', images, tinySpec());
    const error = await failure(job(key, { backend: 'auto', requireGpu: true }));
    expect(error).toMatchObject({ exitCode: 1, stage: 'backend' });
    expect(error.message).toMatch(/a GPU is required/);
    expect((await getJson<FailureRecord>(moto, artifacts, `runs/${error.runId}/failure.json`))?.stage).toBe('backend');
    await expectNothingPublished();
  });

  it('a missing artifacts bucket: exit 1 at the artifacts stage, says which bucket', async () => {
    const key = await putDataset(moto, datasets, 'nowhere', images, tinySpec());
    const error = await failure(job(key, { artifacts: 's3://no-such-artifacts/runs' }));
    expect(error).toMatchObject({ exitCode: 1, stage: 'artifacts', failureRecord: undefined });
    expect(error.message).toMatch(/no-such-artifacts.*The bucket does not exist/s);
  });

  it('through the binary: a bad key exits 2 with the message on stderr', async () => {
    const { code, stderr } = await runGlo(['job', '--bucket', datasets, '--key', 'datasets/a b/glo.json', '--artifacts', runs]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/glo job failed \(key\): The key "datasets\/a b\/glo.json" names a dataset that glo does not accept/);
  });
});

describe('jobRunId', () => {
  it('is stable per Batch job and falls back to the spec ETag', () => {
    const day = new Date('2026-11-28T13:00:00Z');
    expect(jobRunId('cats', day, '4F3A2B1C-aaaa-bbbb', '"x"')).toBe('cats-20261128-4f3a2b1c');
    expect(jobRunId('cats', day, undefined, '"0123456789abcdef"')).toBe('cats-20261128-01234567');
  });
});
