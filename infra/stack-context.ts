// CDK context -> GloStackProps. Each knob is one context key (`npx cdk deploy -c glo:maxVcpus=16`, or the
// "context" of cdk.json); a key left unset keeps the stack's default. Values given with -c arrive as strings.
import { Duration } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import path from 'node:path';
import { z } from 'zod';
import type { GloStackProps } from './glo-stack.ts';

// One zod schema per key. Values given with -c are strings, cdk.json's are typed: each schema takes both.
const wholeNumber = (min: number, max: number) => {
  const error = `expected a whole number from ${min} to ${max}.`;
  return z.preprocess(
    (v) => (typeof v === 'string' ? (v.trim() === '' ? Number.NaN : Number(v.trim())) : v),
    z.number({ error }).int({ error }).min(min, { error }).max(max, { error }),
  );
};
const minutes = (min: number, max: number) => wholeNumber(min, max).transform((m) => Duration.minutes(m));
const trueOrFalse = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'expected true or false.' });
const instanceTypesError = 'expected instance types like "g4dn.xlarge,g4dn.2xlarge".';
const instanceTypes = z.preprocess(
  (v) => (Array.isArray(v) ? v.map(String) : String(v).split(',')).map((type) => type.trim()).filter(Boolean),
  z.array(z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, { error: instanceTypesError })).min(1, { error: instanceTypesError }),
);
const retentionDays = Object.values(logs.RetentionDays).filter((value): value is number => typeof value === 'number');
const logRetention = wholeNumber(1, 3653).refine((days) => retentionDays.includes(days), `CloudWatch accepts only ${retentionDays.join(', ')} days.`)
  .transform((days) => days as logs.RetentionDays);
const priceClasses = Object.values(cloudfront.PriceClass) as [cloudfront.PriceClass, ...cloudfront.PriceClass[]];
const priceClass = z.enum(priceClasses, { error: `expected one of ${priceClasses.join(', ')}.` });

/**
 * Each prop: its context key (as docs/deploy.md documents them) and the key's schema. Batch accepts 10 minutes
 * to 24 hours for a job-state time limit.
 */
const CONTEXT = {
  compute: ['glo:compute', z.enum(['gpu', 'cpu'], { error: 'expected gpu or cpu.' })],
  gpuInstanceTypes: ['glo:gpuInstanceTypes', instanceTypes],
  cpuInstanceTypes: ['glo:cpuInstanceTypes', instanceTypes],
  spot: ['glo:spot', trueOrFalse],
  maxVcpus: ['glo:maxVcpus', wholeNumber(1, 10_000)],
  jobVcpus: ['glo:jobVcpus', wholeNumber(1, 192)],
  jobMemoryMiB: ['glo:jobMemoryMiB', wholeNumber(1024, 2_000_000)],
  jobTimeout: ['glo:jobTimeoutMinutes', minutes(1, 14 * 24 * 60)],
  jobAttempts: ['glo:jobAttempts', wholeNumber(1, 10)],
  runnableTimeout: ['glo:runnableTimeoutMinutes', minutes(10, 24 * 60)],
  logRetention: ['glo:logRetentionDays', logRetention],
  priceClass: ['glo:priceClass', priceClass],
  siteDist: ['glo:siteDist', z.string()],
} as const satisfies { [K in keyof GloStackProps]?: readonly [string, z.ZodType] };

type ContextProps = { -readonly [K in keyof typeof CONTEXT]?: z.output<(typeof CONTEXT)[K][1]> };

export function gloStackPropsFromContext(node: Node, cwd = process.cwd()): GloStackProps {
  const props: ContextProps = {};
  for (const [prop, [key, schema]] of Object.entries(CONTEXT)) {
    const value: unknown = node.tryGetContext(key);
    if (value == null) continue; // unset: the stack's default
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new Error(`context ${key}=${JSON.stringify(value)}: ${parsed.error.issues[0].message}`);
    (props as Record<string, unknown>)[prop] = parsed.data;
  }
  return { ...props, siteDist: props.siteDist === undefined ? undefined : path.resolve(cwd, props.siteDist) };
}
