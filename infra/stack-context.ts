// CDK context -> GloStackProps. Each knob is one context key (`npx cdk deploy -c glo:maxVcpus=16`, or the
// "context" of cdk.json); a key left unset keeps the stack's default. Values given with -c arrive as strings.
import { Duration } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import path from 'node:path';
import type { GloStackProps } from './glo-stack.ts';

/** The context keys, as documented in docs/deploy.md. */
export const CONTEXT_KEYS = {
  gpuInstanceTypes: 'glo:gpuInstanceTypes',
  spot: 'glo:spot',
  maxVcpus: 'glo:maxVcpus',
  jobVcpus: 'glo:jobVcpus',
  jobMemoryMiB: 'glo:jobMemoryMiB',
  jobTimeoutMinutes: 'glo:jobTimeoutMinutes',
  jobAttempts: 'glo:jobAttempts',
  runnableTimeoutMinutes: 'glo:runnableTimeoutMinutes',
  logRetentionDays: 'glo:logRetentionDays',
  priceClass: 'glo:priceClass',
  siteDist: 'glo:siteDist',
} as const;

export function gloStackPropsFromContext(node: Node, cwd = process.cwd()): GloStackProps {
  const read = (key: string): unknown => node.tryGetContext(key);
  const int = (key: string, min: number, max: number): number | undefined => {
    const value = read(key);
    if (value == null) return undefined;
    const parsed = typeof value === 'number' ? value : Number(String(value).trim());
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new Error(`context ${key}=${JSON.stringify(value)}: expected a whole number from ${min} to ${max}.`);
    }
    return parsed;
  };
  const minutes = (key: string, min: number, max: number) => {
    const value = int(key, min, max);
    return value == null ? undefined : Duration.minutes(value);
  };

  const types = read(CONTEXT_KEYS.gpuInstanceTypes);
  const gpuInstanceTypes = types == null ? undefined
    : (Array.isArray(types) ? types.map(String) : String(types).split(',')).map((type) => type.trim()).filter(Boolean);
  if (gpuInstanceTypes?.length === 0 || gpuInstanceTypes?.some((type) => !/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(type))) {
    throw new Error(`context ${CONTEXT_KEYS.gpuInstanceTypes}=${JSON.stringify(types)}: expected instance types like "g4dn.xlarge,g5.xlarge".`);
  }

  const spotValue = read(CONTEXT_KEYS.spot);
  let spot: boolean | undefined;
  if (spotValue != null) {
    if (spotValue === true || spotValue === 'true') spot = true;
    else if (spotValue === false || spotValue === 'false') spot = false;
    else throw new Error(`context ${CONTEXT_KEYS.spot}=${JSON.stringify(spotValue)}: expected true or false.`);
  }

  const retention = int(CONTEXT_KEYS.logRetentionDays, 1, 3653);
  const retentionDays = Object.values(logs.RetentionDays).filter((value): value is number => typeof value === 'number');
  if (retention != null && !retentionDays.includes(retention)) {
    throw new Error(`context ${CONTEXT_KEYS.logRetentionDays}=${retention}: CloudWatch accepts only ${retentionDays.join(', ')} days.`);
  }

  const priceClassValue = read(CONTEXT_KEYS.priceClass);
  const priceClasses = Object.values(cloudfront.PriceClass) as string[];
  if (priceClassValue != null && !priceClasses.includes(String(priceClassValue))) {
    throw new Error(`context ${CONTEXT_KEYS.priceClass}=${JSON.stringify(priceClassValue)}: expected one of ${priceClasses.join(', ')}.`);
  }

  const siteDist = read(CONTEXT_KEYS.siteDist);
  return {
    gpuInstanceTypes,
    spot,
    maxVcpus: int(CONTEXT_KEYS.maxVcpus, 1, 10_000),
    jobVcpus: int(CONTEXT_KEYS.jobVcpus, 1, 192),
    jobMemoryMiB: int(CONTEXT_KEYS.jobMemoryMiB, 1024, 2_000_000),
    jobTimeout: minutes(CONTEXT_KEYS.jobTimeoutMinutes, 1, 14 * 24 * 60),
    jobAttempts: int(CONTEXT_KEYS.jobAttempts, 1, 10),
    // Batch accepts 10 minutes to 24 hours for a job-state time limit.
    runnableTimeout: minutes(CONTEXT_KEYS.runnableTimeoutMinutes, 10, 24 * 60),
    logRetention: retention as logs.RetentionDays | undefined,
    priceClass: priceClassValue == null ? undefined : String(priceClassValue) as cloudfront.PriceClass,
    siteDist: siteDist == null ? undefined : path.resolve(cwd, String(siteDist)),
  };
}
