// A job stopped in the middle, then retried by Batch (same AWS_BATCH_JOB_ID, AWS_BATCH_JOB_ATTEMPT + 1). Two ways:
// SIGTERM (ECS StopTask: a job timeout, a terminate) checkpoints at once; a spot reclaim sends a Batch job no
// signal at all (the instance just goes: SIGKILL here), so the retry resumes from the checkpoint the job writes
// every checkpointMinutes. The real binary, against moto_server.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseManifest } from '../../training/glo/manifest.ts';
import { parseRunsIndex } from '../../training/glo/runs-index.ts';
import type { FailureRecord } from '../../training/pipeline/job.ts';
import { JOB_CHECKPOINT_MINUTES, parseJobSpecText } from '../../training/pipeline/job-spec.ts';
import { startMoto, type Moto } from '../helpers/moto.ts';
import { makeImageFolder } from '../training/training-fixtures.ts';
import { getJson, getText, listKeys, putDataset, runGlo } from './pipeline-fixtures.ts';

const datasets = 'glo-datasets';
const artifacts = 'glo-artifacts';
let moto: Moto;

beforeAll(async () => {
  moto = await startMoto();
});
// Each test starts from empty buckets: one's published run must not show up in the next one's listing.
beforeEach(async () => {
  await moto.reset();
  await moto.createBucket(datasets);
  await moto.createBucket(artifacts);
});
afterAll(() => moto?.stop());

const env = {
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
  GLO_ARTIFACTS: `s3://${artifacts}/runs`,
  GLO_BACKEND: 'wasm',
};

describe('a spot reclaim: no signal, the instance is gone', () => {
  it('jobs checkpoint every 2 minutes unless their spec says otherwise', () => {
    expect(JOB_CHECKPOINT_MINUTES).toBe(2);
    expect(parseJobSpecText('{"preset": "paper"}').config.checkpointMinutes).toBe(JOB_CHECKPOINT_MINUTES);
    expect(parseJobSpecText('{"preset": "paper", "checkpointMinutes": 10}').config.checkpointMinutes).toBe(10);
  });

  it('SIGKILL in the middle of a long epoch: the retry resumes from the last timed checkpoint, inside that epoch', async () => {
    const images = await makeImageFolder(400, 64, 3);
    // One epoch of 200 steps at 64 px (about 10 s here) and a checkpoint every 0.6 s: many land inside it.
    const key = await putDataset(moto, datasets, 'killed', images, { preset: 'tiny', imageSize: 64, limit: 400, epochs: 1, batchSize: 2, checkpointMinutes: 0.01 });
    const jobEnv = { ...env, AWS_ENDPOINT_URL: moto.endpoint, AWS_BATCH_JOB_ID: '7e57e57e-2222-4222-8333-944455556666' };
    const args = ['job', '--bucket', datasets, '--key', key];
    let killedAt: number | undefined;
    const first = runGlo(args, { ...jobEnv, AWS_BATCH_JOB_ATTEMPT: '1' }, (_, child) => {
      if (killedAt !== undefined || child.exitCode !== null) return;
      killedAt = -1;
      void (async () => {
        // Wait for the second timed checkpoint (step > 0, so not the first one), then kill without warning.
        const seen = new Set<number>();
        while (child.exitCode === null) {
          const keys = await listKeys(moto, artifacts, 'runs/');
          const latest = keys.find((k) => k.endsWith('/checkpoint/latest.json'));
          if (latest) seen.add((await getJson<{ step: number }>(moto, artifacts, latest))!.step);
          if (seen.size >= 2) {
            killedAt = Math.max(...seen);
            child.kill('SIGKILL');
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
    });
    const one = await first;
    expect([one.code, one.signal], one.stderr + one.stdout).toEqual([null, 'SIGKILL']);
    expect(killedAt, one.stderr).toBeGreaterThan(0);
    expect(killedAt, one.stderr).toBeLessThan(200); // inside the one epoch: a timed checkpoint, not an epoch end
    const runId = /run (\S+) -> /.exec(one.stderr)![1];
    const checkpointStep = (await getJson<{ step: number }>(moto, artifacts, `runs/${runId}/checkpoint/latest.json`))!.step;
    expect(checkpointStep).toBeGreaterThanOrEqual(killedAt!);

    const two = await runGlo(args, { ...jobEnv, AWS_BATCH_JOB_ATTEMPT: '2' });
    expect(two.code, two.stderr).toBe(0);
    expect(two.stderr).toMatch(new RegExp(`resuming from step ${checkpointStep} `));
    const manifest = parseManifest(await getJson(moto, artifacts, `runs/${runId}/manifest.json`));
    expect([manifest.training.resumedFrom, manifest.training.steps]).toEqual([checkpointStep, 200]);
  }, 240_000);
});

describe('glo job interrupted by SIGTERM, then retried', () => {
  it('checkpoints to S3 and exits 143; attempt 2 resumes from the checkpoint and publishes exactly one run', async () => {
    const images = await makeImageFolder(16, 32, 7);
    // 4 steps per epoch, a checkpoint at every epoch end: plenty of steps left when the signal comes.
    const key = await putDataset(moto, datasets, 'reclaim', images, { preset: 'tiny', epochs: 24, batchSize: 4 });
    const jobEnv = { ...env, AWS_ENDPOINT_URL: moto.endpoint, AWS_BATCH_JOB_ID: '7e57e57e-1111-4222-8333-944455556666' };
    const args = ['job', '--bucket', datasets, '--key', key];

    // Attempt 1: SIGTERM once a checkpoint is in S3 (polled from here, not read from the log).
    let sent = false;
    let polling = true;
    const first = runGlo(args, { ...jobEnv, AWS_BATCH_JOB_ATTEMPT: '1' }, (_, child) => {
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
    expect(record).toMatchObject({ stage: 'interrupted', exitCode: 143, attempt: 1, jobId: jobEnv.AWS_BATCH_JOB_ID, runId });
    expect(record?.checkpoint).toMatch(new RegExp(`^s3://${artifacts}/runs/${runId}/checkpoint/\\d+$`));
    const checkpointStep = (await getJson<{ step: number }>(moto, artifacts, `runs/${runId}/checkpoint/latest.json`))!.step;
    expect(checkpointStep).toBeGreaterThan(0);

    // Attempt 2: the same job id, so the same run folder; it resumes and finishes.
    const two = await runGlo(args, { ...jobEnv, AWS_BATCH_JOB_ATTEMPT: '2' });
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
