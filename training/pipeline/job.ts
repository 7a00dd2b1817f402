// `glo job`: what the AWS Batch job runs when datasets/<name>/glo.json is created (docs/architecture.md section 4).
// Read top to bottom: the key, the spec and the run id; the GPU check; training (resuming from the run's
// checkpoint when an earlier attempt left one); the runs index. A failure at any stage after the run id is
// known leaves runs/<runId>/failure.json saying what failed, at which attempt.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { initBackend, type BackendInfo, type BackendName } from '../backend/backend.ts';
import { EmptyDatasetError } from '../data/dataset.ts';
import type { RunManifest } from '../glo/manifest.ts';
import { parseManifest } from '../glo/manifest.ts';
import { parseRunFile } from '../glo/run-files.ts';
import { runsIndexEntry } from '../glo/runs-index.ts';
import { silentReporter, type Reporter } from '../trainer/progress.ts';
import { type Storage } from '../storage/storage.ts';
import { openStorage } from '../storage/open-storage.ts';
import { train, TrainingInterrupted } from '../trainer/train.ts';
import { datasetPrefix, JobSpecError, parseJobSpecText, parseSpecKey } from './job-spec.ts';
import { addRunToIndex } from './runs-index-store.ts';
import { errorNameOf, isNoSuchKey, sharedS3Client } from '../storage/s3-client.ts';

export interface JobOptions {
  /** The datasets bucket and the spec's key, as the EventBridge rule passes them (possibly URL-encoded). */
  bucket: string;
  key: string;
  /** Where runs go: s3://<artifacts bucket>/runs (GLO_ARTIFACTS), or a folder for local rehearsals. */
  artifacts: string;
  backend: BackendName;
  requireGpu: boolean;
  threads?: number;
  /** AWS_BATCH_JOB_ID: the same for every attempt of one job, so all attempts share one run folder. */
  jobId?: string;
  /** AWS_BATCH_JOB_ATTEMPT: 1, 2, ... */
  attempt: number;
  signal?: AbortSignal;
  /** The exit code for an interruption (130 for SIGINT, 143 for SIGTERM); default 143. */
  interruptExitCode?: () => number;
  reporter?: Reporter;
}

/** Where a job failed; `artifacts` = reading the run folder (bucket missing, no permission). */
// 'data', 'training' and 'publishing' are train()'s (TrainingStage): onStage below stops compiling if it gains one.
const JOB_STAGES = ['key', 'spec', 'artifacts', 'backend', 'data', 'training', 'publishing', 'index', 'interrupted'] as const;
export type JobStage = (typeof JOB_STAGES)[number];

export interface JobResult {
  runId: string;
  /** The run folder (s3://.../runs/<runId>). */
  run: string;
  /** 'published' by this attempt, or 'already-published' by an earlier one (then only the index is ensured). */
  status: 'published' | 'already-published';
  manifest: RunManifest;
  /** Read-modify-write rounds the index update took (more than 1 means a concurrent job wrote in between). */
  indexAttempts: number;
}

/** What runs/<runId>/failure.json holds. */
export const failureRecordSchema = z.strictObject({
  format: z.literal('glo-job-failure'),
  formatVersion: z.literal(1),
  runId: z.string(),
  dataset: z.string(),
  spec: z.string(),
  stage: z.enum(JOB_STAGES),
  message: z.string(),
  exitCode: z.number().int(),
  attempt: z.number().int(),
  jobId: z.string().nullable(),
  time: z.string(),
  /** For an interruption: where the checkpoint that the next attempt resumes from is. */
  checkpoint: z.string().optional(),
});
export type FailureRecord = z.infer<typeof failureRecordSchema>;

export const FAILURE_FILE = 'failure.json';

/**
 * Exit codes: 2 = bad input (key, spec, dataset: retrying cannot help, fix and upload again), 1 = any other
 * failure (a retry may help), 130/143 = interrupted by SIGINT/SIGTERM after a checkpoint (the next attempt
 * resumes).
 */
export class JobFailed extends Error {
  override name = 'JobFailed';
  constructor(
    message: string,
    readonly stage: JobStage,
    readonly exitCode: number,
    readonly runId?: string,
    readonly failureRecord?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The run id: `<dataset>-<yyyymmdd of glo.json's upload>-<first 8 characters of the Batch job id>`, e.g.
 * cats-20261128-4f3a2b1c. Every attempt of one Batch job computes the same id, so attempt 2 finds attempt
 * 1's checkpoint; a new upload of glo.json is a new job and a new run. Without a job id (a local run) the
 * spec's ETag stands in: running the same spec again continues or re-indexes the same run.
 */
export function jobRunId(dataset: string, specUploaded: Date, jobId: string | undefined, specEtag: string): string {
  const day = specUploaded.toISOString().slice(0, 10).replace(/-/g, '');
  const source = jobId && jobId.trim() !== '' ? jobId : specEtag;
  const suffix = source.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 8) || 'local';
  return `${dataset}-${day}-${suffix}`;
}

export async function runJob(options: JobOptions): Promise<JobResult> {
  const reporter = options.reporter ?? silentReporter;
  const { bucket, attempt } = options;
  const jobId = options.jobId?.trim() || undefined;

  // 1. The key: the rule's wildcard also matches deeper keys, and keys may arrive URL-encoded.
  let key: string;
  let dataset: string;
  try {
    ({ key, dataset } = parseSpecKey(options.key));
  } catch (error) {
    throw new JobFailed((error as Error).message, 'key', 2, undefined, undefined, { cause: error });
  }
  const specUri = `s3://${bucket}/${key}`;
  reporter.info(`job ${jobId ?? '(no AWS_BATCH_JOB_ID: local run)'}, attempt ${attempt}: ${specUri}`);

  // 2. The spec's bytes and upload time (small; read before the GPU check so a failure there has a run id).
  let specText: string;
  let runId: string;
  try {
    const output = await sharedS3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    specText = await output.Body!.transformToString();
    runId = jobRunId(dataset, output.LastModified ?? new Date(), jobId, output.ETag ?? '');
  } catch (error) {
    const why = isNoSuchKey(error)
      ? `${specUri} does not exist (deleted after the upload, or a wrong --bucket/--key).`
      : `cannot read ${specUri}: ${errorNameOf(error)}: ${(error as Error).message}`;
    throw new JobFailed(`The job spec cannot be read: ${why}`, 'spec', isNoSuchKey(error) ? 2 : 1, undefined, undefined, { cause: error });
  }
  const runUri = `${options.artifacts.replace(/\/+$/, '')}/${runId}`;
  const run = openStorage(runUri);
  reporter.info(`run ${runId} -> ${run.uri}`);

  let stage: JobStage = 'spec';
  const fail = async (error: unknown, exitCode: number, extra: Partial<FailureRecord> = {}): Promise<never> => {
    const message = (error as Error).message ?? String(error);
    const record: FailureRecord = {
      format: 'glo-job-failure',
      formatVersion: 1,
      runId,
      dataset,
      spec: specUri,
      stage,
      message,
      exitCode,
      attempt,
      jobId: jobId ?? null,
      time: new Date().toISOString(),
      ...extra,
    };
    let where: string | undefined = `${run.uri}/${FAILURE_FILE}`;
    try {
      await run.write(FAILURE_FILE, `${JSON.stringify(record, null, 2)}\n`);
    } catch (writeError) {
      reporter.info(`could not write the failure record ${where}: ${(writeError as Error).message}`);
      where = undefined;
    }
    throw new JobFailed(message, stage, exitCode, runId, where, { cause: error });
  };

  // 3. An earlier attempt may have published and then failed on the index: finish its work, never retrain.
  stage = 'artifacts';
  let published: RunManifest | undefined;
  try {
    const bytes = await run.readIfExists('manifest.json');
    if (bytes) published = parseManifest(JSON.parse(new TextDecoder().decode(bytes)), `${run.uri}/manifest.json`);
  } catch (error) {
    return fail(error, 1);
  }
  if (published) {
    const manifest = published;
    reporter.info(`${run.uri} is already published (an earlier attempt): updating the index only`);
    return { ...(await finish(run, options.artifacts, manifest, () => (stage = 'index'), fail, reporter)), runId, run: run.uri, status: 'already-published' };
  }

  // 4. The spec, then the GPU: both fail in seconds, before any image is downloaded.
  stage = 'spec';
  let spec;
  try {
    spec = parseJobSpecText(specText, specUri);
  } catch (error) {
    return fail(error, error instanceof JobSpecError ? 2 : 1);
  }
  stage = 'backend';
  let backend: BackendInfo;
  try {
    backend = await initBackend(options.backend, { requireGpu: options.requireGpu, threads: options.threads });
  } catch (error) {
    return fail(error, 1);
  }

  // 5. Train on the images beside glo.json (the loader ignores glo.json), resuming when a checkpoint exists.
  stage = 'data';
  let manifest: RunManifest;
  try {
    manifest = await train({
      // Opened here once and handed down: the images beside glo.json, and the run folder.
      data: openStorage(`s3://${bucket}/${datasetPrefix(dataset)}`),
      out: run,
      config: spec.config,
      backend, // started above
      resume: true,
      runId,
      reporter,
      signal: options.signal,
      onStage: (s) => (stage = s),
    });
  } catch (error) {
    if (error instanceof TrainingInterrupted) {
      stage = 'interrupted';
      return fail(error, options.interruptExitCode?.() ?? 143, { checkpoint: error.checkpoint });
    }
    if (error instanceof EmptyDatasetError) {
      stage = 'data';
      return fail(error, 2);
    }
    return fail(error, 1);
  }
  return { ...(await finish(run, options.artifacts, manifest, () => (stage = 'index'), fail, reporter)), runId, run: run.uri, status: 'published' };
}

/** After the manifest exists: add the run to the index, then clear leftovers of earlier attempts. */
async function finish(
  run: Storage,
  artifacts: string,
  manifest: RunManifest,
  enterIndexStage: () => void,
  fail: (error: unknown, exitCode: number) => Promise<never>,
  reporter: Reporter,
): Promise<{ manifest: RunManifest; indexAttempts: number }> {
  enterIndexStage();
  let indexAttempts: number;
  try {
    ({ attempts: indexAttempts } = await addRunToIndex(artifacts, runsIndexEntry(manifest)));
  } catch (error) {
    return fail(error, 1);
  }
  reporter.info(`listed ${manifest.runId} in ${artifacts.replace(/\/+$/, '')}/index.json${indexAttempts > 1 ? ` (after ${indexAttempts - 1} concurrent-write retries)` : ''}`);
  // train() removes the checkpoint after publishing; an attempt that died between the two leaves one.
  const leftovers = (await run.list('checkpoint')).map((o) => o.key);
  await run.delete([...leftovers, FAILURE_FILE]);
  return { manifest, indexAttempts };
}

/** The failure records under a runs root (runs/<runId>/failure.json), newest first. */
export async function listFailureRecords(runsRoot: string): Promise<FailureRecord[]> {
  const storage = openStorage(runsRoot);
  const keys = (await storage.list()).map((o) => o.key).filter((k) => /^[^/]+\/failure\.json$/.test(k));
  const records = await Promise.all(keys.map(async (k) =>
    parseRunFile(failureRecordSchema, JSON.parse(new TextDecoder().decode(await storage.read(k))), `${storage.uri}/${k}`)));
  return records.sort((a, b) => b.time.localeCompare(a.time));
}
