import { abortOnSignals, BACKEND_OPTIONS, backendFlag, parseFlags, threadsFlag, UsageError } from '../cli-support.ts';
import { consoleReporter } from '../../trainer/progress.ts';
import { openStorage } from '../../storage/open-storage.ts';
import { JobFailed, runJob } from '../../pipeline/job.ts';

const jobFlags = {
  bucket: { type: 'string' as const },
  key: { type: 'string' as const },
  artifacts: { type: 'string' as const },
  ...BACKEND_OPTIONS,
  'require-gpu': { type: 'boolean' as const },
  quiet: { type: 'boolean' as const },
  help: { type: 'boolean' as const, short: 'h' },
};

export function jobUsage(): string {
  return `Usage: glo job --bucket BUCKET --key datasets/<name>/glo.json [options]

What the AWS Batch job runs when a dataset's glo.json is uploaded: reads the spec, trains on the images
beside it, resumes from the run's checkpoint on a retry, publishes the run, adds it to runs/index.json.

  --bucket NAME      the datasets bucket
  --key KEY          datasets/<name>/glo.json (URL-encoded keys from S3 events are decoded)
  --artifacts URI    where runs go, e.g. s3://<artifacts bucket>/runs [env GLO_ARTIFACTS]
  --backend NAME     auto | tensorflow-gpu | tensorflow | wasm | cpu [env GLO_BACKEND, else auto]
  --require-gpu      fail at once unless TensorFlow uses a GPU [env GLO_REQUIRE_GPU=1]
  --threads N        CPU threads for the wasm/TensorFlow pool [env GLO_THREADS]
  --quiet            no progress output

Env: AWS_BATCH_JOB_ID and AWS_BATCH_JOB_ATTEMPT (set by Batch) give the run id and the attempt.
Exit codes: 0 published (or already published by an earlier attempt), 1 failed (a retry may help),
2 bad input (key, spec or dataset: fix and upload again), 130/143 interrupted after a checkpoint.
A failure after the run id is known writes <artifacts>/<runId>/failure.json. See docs/pipeline.md.
`;
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes)$/i.test(v.trim());

/** `glo job`: flags override the job definition's environment. */
export async function jobCommand(args: string[]): Promise<number> {
  const { values } = parseFlags('job', args, jobFlags);
  if (values.help) {
    process.stdout.write(jobUsage());
    return 0;
  }
  const bucket = values.bucket as string | undefined;
  const key = values.key as string | undefined;
  if (!bucket) throw new UsageError('Missing --bucket: the datasets bucket (Batch passes it as the job parameter "bucket").');
  if (!key) throw new UsageError('Missing --key: datasets/<name>/glo.json (Batch passes it as the job parameter "key").');
  const artifacts = (values.artifacts as string | undefined) ?? process.env.GLO_ARTIFACTS;
  if (!artifacts) throw new UsageError('Missing --artifacts (or env GLO_ARTIFACTS): where runs go, e.g. s3://<artifacts bucket>/runs.');
  try {
    openStorage(artifacts);
  } catch (error) {
    throw new UsageError(`--artifacts / GLO_ARTIFACTS: ${(error as Error).message}`);
  }
  const backend = backendFlag((values.backend as string | undefined) ?? (process.env.GLO_BACKEND || undefined), '--backend or GLO_BACKEND');
  const threads = threadsFlag((values.threads as string | undefined) ?? (process.env.GLO_THREADS || undefined));
  const attemptText = process.env.AWS_BATCH_JOB_ATTEMPT;
  const attempt = attemptText ? Number(attemptText) : 1;
  if (!(Number.isInteger(attempt) && attempt >= 1)) throw new UsageError(`AWS_BATCH_JOB_ATTEMPT must be 1, 2, ..., got "${attemptText}".`);

  const signals = abortOnSignals();
  try {
    const result = await runJob({
      bucket,
      key,
      artifacts,
      backend,
      requireGpu: Boolean(values['require-gpu']) || truthy(process.env.GLO_REQUIRE_GPU),
      threads,
      jobId: process.env.AWS_BATCH_JOB_ID,
      attempt,
      signal: signals.signal,
      interruptExitCode: signals.exitCode,
      reporter: consoleReporter({ quiet: Boolean(values.quiet) }),
    });
    // One machine-readable line on stdout for logs and scripts; the progress went to stderr.
    process.stdout.write(`${JSON.stringify({ status: result.status, runId: result.runId, run: result.run, indexAttempts: result.indexAttempts })}\n`);
    return 0;
  } catch (error) {
    if (error instanceof JobFailed) {
      process.stderr.write(`glo job failed (${error.stage}): ${error.message}\n`);
      if (error.failureRecord) process.stderr.write(`failure record: ${error.failureRecord}\n`);
      return error.exitCode;
    }
    throw error;
  } finally {
    signals.dispose();
  }
}
