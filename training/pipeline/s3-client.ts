// The pipeline's S3 client, for what the Storage interface does not offer: conditional writes (runs index),
// object metadata and ETags (upload's skip-unchanged check). Built from the SDK default chain like
// S3Storage's, so the same code talks to AWS and to moto_server (AWS_ENDPOINT_URL) in tests.
import { S3Client } from '@aws-sdk/client-s3';

let shared: { client: S3Client; environment: string } | undefined;

export function pipelineS3Client(): S3Client {
  const environment = `${process.env.AWS_ENDPOINT_URL ?? ''}|${process.env.AWS_REGION ?? ''}`;
  if (shared?.environment !== environment) {
    shared?.client.destroy();
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

export function isNoSuchKey(error: unknown): boolean {
  const name = errorNameOf(error);
  return name === 'NoSuchKey' || name === 'NotFound' || (name !== 'NoSuchBucket' && httpStatusOf(error) === 404);
}
