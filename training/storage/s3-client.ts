// The process's one S3 client, shared by S3Storage and by the pipeline's direct calls (conditional writes
// of the runs index, upload's metadata and ETags). Built from the SDK default chain, so the same code talks
// to AWS in the Batch job (task role, AWS_REGION) and to moto_server in tests (AWS_ENDPOINT_URL).
import { S3Client } from '@aws-sdk/client-s3';

// One connection pool per process, rebuilt only if the endpoint or region in the environment changes,
// which happens in tests that start a fresh moto_server, never in a job.
let shared: { client: S3Client; environment: string } | undefined;

export function sharedS3Client(): S3Client {
  const environment = `${process.env.AWS_ENDPOINT_URL ?? ''}|${process.env.AWS_REGION ?? ''}`;
  if (shared?.environment !== environment) {
    shared?.client.destroy();
    // followRegionRedirects: a bucket in another region than AWS_REGION still works instead of failing with 301.
    shared = { client: new S3Client({ followRegionRedirects: true }), environment };
  }
  return shared.client;
}

interface AwsErrorShape {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

export const httpStatusOf = (error: unknown): number | undefined => (error as AwsErrorShape | undefined)?.$metadata?.httpStatusCode;
export const errorNameOf = (error: unknown): string => (error as AwsErrorShape | undefined)?.name ?? '';

/** A missing key (GET: NoSuchKey; HEAD, which has no body: NotFound or a bare 404), but not a missing bucket. */
export function isNoSuchKey(error: unknown): boolean {
  const name = errorNameOf(error);
  return name === 'NoSuchKey' || name === 'NotFound' || (name !== 'NoSuchBucket' && httpStatusOf(error) === 404);
}
