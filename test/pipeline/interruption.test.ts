// A spot reclaim: Batch sends SIGTERM, gives two minutes, then retries the job (same AWS_BATCH_JOB_ID,
// AWS_BATCH_JOB_ATTEMPT + 1). The real binary, against moto_server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../training/glo/manifest.ts';
import { parseRunsIndex } from '../../training/glo/runs-index.ts';
import type { FailureRecord } from '../../training/pipeline/job.ts';
import { startMoto, type Moto } from '../helpers/moto.ts';
import { makeImageFolder } from '../training/training-fixtures.ts';
import { getJson, getText, listKeys, putDataset, runGlo } from './pipeline-fixtures.ts';

const datasets = 'glo-datasets';
const artifacts = 'glo-artifacts';
let moto: Moto;

beforeAll(async () => {
  moto = await startMoto();
  await moto.createBucket(datasets);
  await moto.createBucket(artifacts);
});
afterAll(() => moto?.stop());

describe('glo job interrupted by SIGTERM, then retried', () => {
  it('checkpoints to S3 and exits 143; attempt 2 resumes from the checkpoint and publishes exactly one run', async () => {
    const images = await makeImageFolder(16, 32, 7);
    // 4 steps per epoch, a checkpoint at every epoch end: plenty of steps left when the signal comes.
    const key = await putDataset(moto, datasets, 'reclaim', images, { preset: 'tiny', epochs: 24, batchSize: 4 });
    const env = {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      GLO_ARTIFACTS: `s3://${artifacts}/runs`,
      GLO_BACKEND: 'wasm',
      AWS_BATCH_JOB_ID: '7e57e57e-1111-4222-8333-944455556666',
    };
    const args = ['job', '--bucket', datasets, '--key', key];

    // Attempt 1: SIGTERM once a checkpoint is in S3 (polled from here, not read from the log).
    let sent = false;
    let polling = true;
    const first = runGlo(args, { ...env, AWS_BATCH_JOB_ATTEMPT: '1' }, (_, child) => {
      if (!polling) return;
      polling = false;
      void (async () => {
        while (!sent) {
          const keys = await listKeys(moto, artifacts, 'runs/');
          if (keys.some((k) => k.endsWith('/checkpoint/latest.json'))) {
            sent = true;
            child.kill('SIGTERM');
          } else await new Promise((resolve) => setTimeout(resolve, 50));
          if (child.exitCode !== null) break;
        }
      })();
    });
    const one = await first;
    expect(sent, one.stderr).toBe(true);
    expect(one.stderr).toMatch(/SIGTERM: saving a checkpoint/);
    expect(one.code, one.stderr).toBe(143);

    const runId = /run (\S+) -> /.exec(one.stderr)![1];
    expect(runId).toMatch(/^reclaim-\d{8}-7e57e57e$/);
    const afterOne = await listKeys(moto, artifacts);
    expect(afterOne).toContain(`runs/${runId}/checkpoint/latest.json`);
    expect(afterOne.filter((k) => k.endsWith('manifest.json'))).toEqual([]);
    expect(afterOne).not.toContain('runs/index.json');
    const record = await getJson<FailureRecord>(moto, artifacts, `runs/${runId}/failure.json`);
    expect(record).toMatchObject({ stage: 'interrupted', exitCode: 143, attempt: 1, jobId: env.AWS_BATCH_JOB_ID, runId });
    expect(record?.checkpoint).toMatch(new RegExp(`^s3://${artifacts}/runs/${runId}/checkpoint/\\d+$`));
    const checkpointStep = (await getJson<{ step: number }>(moto, artifacts, `runs/${runId}/checkpoint/latest.json`))!.step;
    expect(checkpointStep).toBeGreaterThan(0);

    // Attempt 2: the same job id, so the same run folder; it resumes and finishes.
    const two = await runGlo(args, { ...env, AWS_BATCH_JOB_ATTEMPT: '2' });
    expect(two.code, two.stderr).toBe(0);
    expect(two.stderr).toMatch(new RegExp(`resuming from step ${checkpointStep} `));
    expect(JSON.parse(two.stdout.trim())).toMatchObject({ status: 'published', runId });

    const manifest = parseManifest(await getJson(moto, artifacts, `runs/${runId}/manifest.json`));
    expect(manifest.training.resumedFrom).toBe(checkpointStep);
    expect(manifest.training.steps).toBe(24 * 4);
    const keys = await listKeys(moto, artifacts);
    expect(keys.filter((k) => k.endsWith('manifest.json'))).toEqual([`runs/${runId}/manifest.json`]);
    expect(keys.filter((k) => k.includes('/checkpoint/') || k.endsWith('failure.json'))).toEqual([]);
    expect(parseRunsIndex((await getText(moto, artifacts, 'runs/index.json'))!).runs.map((r) => r.runId)).toEqual([runId]);
  });
});
