// The rehearsal of docs/architecture.md section 5: the synthesized stack's own wiring, applied to a real upload in the S3
// emulator, runs the real trainer. What moto cannot do (deliver EventBridge events to Batch) is done here by
// reading the rule and the job definition from the template and following them step by step.
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../training/glo/manifest.ts';
import { parseRunsIndex } from '../../training/glo/runs-index.ts';
import { synthGloTemplate } from '../infra/synth.ts';
import { startMoto, type Moto } from '../helpers/moto.ts';
import { makeImageFolder } from '../training/training-fixtures.ts';
import { applyInputTransformer, matchesEventPattern, resolveIntrinsics, s3ObjectCreatedEvent, substituteRefs } from './eventbridge.ts';
import { getJson, getText, putDataset, runGlo } from './pipeline-fixtures.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Resource = { Type: string; Properties: Record<string, any> };

type Template = { Resources: Record<string, Resource>; Outputs: Record<string, { Value: unknown }> };
let moto: Moto;
// The template's buckets have generated names; in moto they get these.
const datasetsBucket = 'rehearsal-datasets';
const artifactsBucket = 'rehearsal-artifacts';

function only(template: Template, type: string): Resource {
  const found = Object.values(template.Resources).filter((r) => r.Type === type);
  expect(found, `resources of type ${type}`).toHaveLength(1);
  return found[0];
}

beforeAll(async () => {
  moto = await startMoto();
  await moto.createBucket(datasetsBucket);
  await moto.createBucket(artifactsBucket);
});
afterAll(() => moto?.stop());

/** What CloudFormation would resolve the template's references to, with moto's bucket names. */
function refsOf(template: Template): Record<string, string> {
  const logicalId = (output: string) => (template.Outputs[output].Value as { Ref: string }).Ref;
  return {
    [logicalId('DatasetsBucketName')]: datasetsBucket,
    [logicalId('ArtifactsBucketName')]: artifactsBucket,
    'AWS::Region': 'us-east-1',
    'AWS::AccountId': '111122223333',
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
}

describe('rehearsal: upload -> S3 event -> rule -> Batch job command -> published run', () => {
  it('the synthesized wiring runs the real trainer and publishes a valid, indexed run', async () => {
    const template = synthGloTemplate() as Template;
    const refs = refsOf(template);
    // GIVEN the rule and its target, the job definition, and the image's entrypoint
    // The dataset trigger (the other rule is the RUNNABLE sweeper's schedule, which has no event pattern).
    const rules = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern);
    expect(rules).toHaveLength(1);
    const rule = rules[0].Properties;
    const pattern = resolveIntrinsics(rule.EventPattern, refs) as Record<string, never>;
    expect(rule.Targets).toHaveLength(1);
    const transformer = rule.Targets[0].InputTransformer;
    const jobDefinition = only(template, 'AWS::Batch::JobDefinition').Properties;
    // Only what the rehearsal reads is resolved (role ARNs and the image URI stay AWS's business).
    const command = resolveIntrinsics(jobDefinition.ContainerProperties.Command, refs) as string[];
    const environment = resolveIntrinsics(jobDefinition.ContainerProperties.Environment, refs) as { Name: string; Value: string }[];
    const defaults = resolveIntrinsics(jobDefinition.Parameters, refs) as Record<string, string>;
    const dockerfile = await readFile(path.resolve(import.meta.dirname, '../../training/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/bin\/glo.js"\]$/m);

    // WHEN a small dataset is uploaded as glo upload leaves it: images, then glo.json
    const images = await makeImageFolder(6, 32, 3);
    const key = await putDataset(moto, datasetsBucket, 'rehearsal', images, { preset: 'tiny', epochs: 2, batchSize: 3 });
    const head = await moto.client.send(new HeadObjectCommand({ Bucket: datasetsBucket, Key: key }));
    const event = s3ObjectCreatedEvent(datasetsBucket, key, head.ContentLength!, head.ETag!.replace(/"/g, ''));

    // THEN the rule matches the spec's creation, and not an image's, another bucket's or a deletion
    expect(matchesEventPattern(pattern, event)).toBe(true);
    const variant = (detail: object, top: object = {}) => ({ ...event, ...top, detail: { ...(event.detail as object), ...detail } });
    expect(matchesEventPattern(pattern, variant({ object: { key: 'datasets/rehearsal/img-000.png', size: 1 } }))).toBe(false);
    expect(matchesEventPattern(pattern, variant({ bucket: { name: 'someone-elses' } }))).toBe(false);
    expect(matchesEventPattern(pattern, variant({}, { 'detail-type': 'Object Deleted' }))).toBe(false);
    // The wildcard also matches deeper keys: why glo job checks the key shape itself (test/pipeline/job.test.ts).
    expect(matchesEventPattern(pattern, variant({ object: { key: 'datasets/a/b/glo.json', size: 1 } }))).toBe(true);

    // AND the transformer gives Batch the bucket and key as job parameters, which fill the command's Ref::s
    const submitted = JSON.parse(applyInputTransformer(transformer, event)) as { Parameters: Record<string, string> };
    expect(submitted).toEqual({ Parameters: { bucket: datasetsBucket, key } });
    const args = substituteRefs(command, submitted.Parameters, defaults);
    expect(args).toEqual(['job', '--bucket', datasetsBucket, '--key', key]);
    expect(Object.values(defaults).every((v) => typeof v === 'string' && v !== '')).toBe(true);

    // AND the container's command runs with the job definition's environment. Overridden: the backend, since
    // this machine has no GPU and no @tensorflow/tfjs-node-gpu (GLO_REQUIRE_GPU=1 would rightly fail fast;
    // the GPU path is only verifiable in the image on AWS); and the endpoint and dummy credentials, which
    // point the SDK at moto instead of the task role and AWS.
    const jobEnv = Object.fromEntries(environment.map(({ Name, Value }) => [Name, Value]));
    expect(jobEnv).toMatchObject({ GLO_ARTIFACTS: `s3://${artifactsBucket}/runs`, GLO_REQUIRE_GPU: '1', GLO_BACKEND: 'tensorflow-gpu', TF_FORCE_GPU_ALLOW_GROWTH: 'true' });
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: process.env.TMPDIR,
      ...jobEnv,
      GLO_REQUIRE_GPU: '0',
      GLO_BACKEND: 'wasm',
      AWS_BATCH_JOB_ID: 'c0ffee00-1234-4abc-8def-000000000042',
      AWS_BATCH_JOB_ATTEMPT: '1',
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const result = await runGlo(args, env, undefined, { cleanEnv: true });
    expect(result.code, result.stderr).toBe(0);

    // THEN a valid run is published and listed
    const { runId } = JSON.parse(result.stdout.trim()) as { runId: string };
    expect(runId).toMatch(/^rehearsal-\d{8}-c0ffee00$/);
    const manifest = parseManifest(await getJson(moto, artifactsBucket, `runs/${runId}/manifest.json`));
    expect(manifest.dataset).toMatchObject({ source: `s3://${datasetsBucket}/datasets/rehearsal`, imageCount: 6 });
    const index = parseRunsIndex((await getText(moto, artifactsBucket, 'runs/index.json'))!);
    expect(index.runs.map((r) => r.runId)).toEqual([runId]);
  });
});

describe('rehearsal of glo:compute=cpu: the job definition as synthesized, nothing overridden but AWS itself', () => {
  it('runs the real trainer on the wasm backend with the threads the job reserves, and publishes', async () => {
    const template = synthGloTemplate({ context: { 'glo:compute': 'cpu' } }) as Template;
    const refs = refsOf(template);
    const jobDefinition = only(template, 'AWS::Batch::JobDefinition').Properties;
    const command = resolveIntrinsics(jobDefinition.ContainerProperties.Command, refs) as string[];
    const environment = resolveIntrinsics(jobDefinition.ContainerProperties.Environment, refs) as { Name: string; Value: string }[];
    const dockerfile = await readFile(path.resolve(import.meta.dirname, '../../training/Dockerfile.cpu'), 'utf8');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/bin\/glo.js"\]$/m);

    const images = await makeImageFolder(6, 32, 4);
    const key = await putDataset(moto, datasetsBucket, 'rehearsal-cpu', images, { preset: 'tiny', epochs: 2, batchSize: 3 });
    const args = substituteRefs(command, { bucket: datasetsBucket, key }, {});
    const jobEnv = Object.fromEntries(environment.map(({ Name, Value }) => [Name, Value]));
    expect(jobEnv).toMatchObject({ GLO_BACKEND: 'wasm', GLO_THREADS: '4' });
    // Only AWS is swapped for moto; the backend, the threads and the rest are the job definition's.
    const result = await runGlo(args, {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: process.env.TMPDIR,
      ...jobEnv,
      AWS_BATCH_JOB_ID: 'c0ffee00-1234-4abc-8def-000000000043',
      AWS_BATCH_JOB_ATTEMPT: '1',
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_EC2_METADATA_DISABLED: 'true',
    }, undefined, { cleanEnv: true });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/backend: wasm .* 4 threads/);
    const { runId } = JSON.parse(result.stdout.trim()) as { runId: string };
    const manifest = parseManifest(await getJson(moto, artifactsBucket, `runs/${runId}/manifest.json`));
    expect(manifest.backend.name).toBe('wasm');
    expect(parseRunsIndex((await getText(moto, artifactsBucket, 'runs/index.json'))!).runs.map((r) => r.runId)).toContain(runId);
  });
});

describe('the rehearsal matcher itself', () => {
  it('implements exact values, prefix, suffix, wildcard (with escapes) and arrays', () => {
    const event = { source: 'aws.s3', tags: ['a', 'b'], detail: { key: 'datasets/x/glo.json' } };
    expect(matchesEventPattern({ source: ['aws.s3'] }, event)).toBe(true);
    expect(matchesEventPattern({ source: ['aws.ec2'] }, event)).toBe(false);
    expect(matchesEventPattern({ tags: ['b'] }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { key: [{ prefix: 'datasets/' }] } }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { key: [{ suffix: '.png' }] } }, event)).toBe(false);
    expect(matchesEventPattern({ detail: { key: [{ wildcard: 'datasets/*.json' }] } }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { key: [{ wildcard: 'datasets/\\*/glo.json' }] } }, event)).toBe(false);
    expect(matchesEventPattern({ detail: { missing: [{ exists: false }] } }, event)).toBe(true);
    expect(() => matchesEventPattern({ detail: { key: [{ 'anything-but': 'x' }] } }, event)).toThrow(/not implemented/);
  });
});
