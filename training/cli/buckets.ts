// Where the user commands (upload, runs, pull) find the buckets: a flag, else an environment variable, else the outputs of the
// deployed CloudFormation stack (GLO_STACK, default "Glo"). The stack lookup needs AWS credentials and
// cloudformation:DescribeStacks; the error names all three ways when none works.
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { UsageError } from './cli-support.ts';

export type BucketKind = 'datasets' | 'artifacts';

const SOURCES: Record<BucketKind, { flag: string; env: string; output: string }> = {
  datasets: { flag: '--bucket', env: 'GLO_DATASETS_BUCKET', output: 'DatasetsBucketName' },
  artifacts: { flag: '--artifacts', env: 'GLO_ARTIFACTS_BUCKET', output: 'ArtifactsBucketName' },
};

export const stackName = () => process.env.GLO_STACK || 'Glo';

/** Outputs of the stack, memoized per process and stack name (one DescribeStacks for both buckets). */
const outputsCache = new Map<string, Promise<Record<string, string>>>();
async function stackOutputs(name: string): Promise<Record<string, string>> {
  let pending = outputsCache.get(name);
  if (!pending) {
    pending = (async () => {
      const client = new CloudFormationClient({});
      try {
        const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: name }));
        return Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
      } finally {
        client.destroy();
      }
    })();
    outputsCache.set(name, pending);
    pending.catch(() => outputsCache.delete(name));
  }
  return pending;
}

/** The bucket name for `kind`, from the flag's value, the environment, or the stack's outputs. */
export async function resolveBucket(kind: BucketKind, flagValue: string | undefined): Promise<string> {
  const { flag, env, output } = SOURCES[kind];
  if (flagValue) return flagValue;
  const fromEnv = process.env[env];
  if (fromEnv) return fromEnv;
  const name = stackName();
  let why: string;
  try {
    const value = (await stackOutputs(name))[output];
    if (value) return value;
    why = `stack "${name}" has no output ${output}`;
  } catch (error) {
    why = `the stack "${name}" could not be read: ${(error as Error).name}: ${(error as Error).message}`;
  }
  throw new UsageError(
    `Which ${kind} bucket? Give ${flag} NAME, or set ${env}, or deploy the stack and have AWS credentials ` +
      `that can read its outputs (GLO_STACK names it; default "Glo"). Here ${why}.`,
  );
}

/**
 * The runs root for an --artifacts value: a bare bucket name means s3://<bucket>/runs (the stack's layout);
 * an s3:// URI is used as it is; anything with a '/' (./runs, runs/) is a local folder of runs.
 */
export function runsRoot(artifacts: string): string {
  if (/^s3:\/\//i.test(artifacts)) return artifacts.replace(/\/+$/, '');
  if (artifacts.includes('/')) return artifacts;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(artifacts)) {
    throw new UsageError(`--artifacts ${JSON.stringify(artifacts)} is not a bucket name; give a bucket name, s3://bucket/prefix, or a folder path such as ./runs.`);
  }
  return `s3://${artifacts}/runs`;
}
