// The knobs: CDK context -> stack props, with defaults, and errors that say which key was wrong.
import { describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { chooseSiteDist, SITE_PLACEHOLDER } from '../../infra/glo-stack.ts';
import { isSupportedGpuInstance } from '../../infra/constructs/training-batch.ts';
import { gloStackPropsFromContext } from '../../infra/stack-context.ts';
import { buildGloStack, FIXTURE_SITE_DIST } from './synth.ts';

const propsFrom = (context: Record<string, unknown>) => gloStackPropsFromContext(new App({ context }).node, '/repo');

describe('stack context', () => {
  it('respects "unset keys keep the stack defaults"', () => {
    expect(Object.values(propsFrom({})).every((value) => value === undefined)).toBe(true);
  });

  it('respects values given with -c (strings) and in cdk.json (typed)', () => {
    const props = propsFrom({
      'glo:gpuInstanceTypes': 'g5.2xlarge, p3.2xlarge', 'glo:spot': 'false', 'glo:maxVcpus': '16', 'glo:jobTimeoutMinutes': 90,
      'glo:logRetentionDays': '14', 'glo:priceClass': 'PriceClass_All', 'glo:siteDist': 'site/dist',
    });
    expect(props.gpuInstanceTypes).toEqual(['g5.2xlarge', 'p3.2xlarge']);
    expect(props.spot).toBe(false);
    expect(props.maxVcpus).toBe(16);
    expect(props.jobTimeout?.toMinutes()).toBe(90);
    expect(props.logRetention).toBe(14);
    expect(props.priceClass).toBe('PriceClass_All');
    expect(props.siteDist).toBe('/repo/site/dist');
    expect(propsFrom({ 'glo:gpuInstanceTypes': ['g4dn.2xlarge'] }).gpuInstanceTypes).toEqual(['g4dn.2xlarge']);
  });

  it('respects "a bad value names its key and what is expected"', () => {
    expect(() => propsFrom({ 'glo:maxVcpus': 'lots' })).toThrow(/glo:maxVcpus="lots": expected a whole number/);
    expect(() => propsFrom({ 'glo:spot': 'yes' })).toThrow(/glo:spot="yes": expected true or false/);
    expect(() => propsFrom({ 'glo:logRetentionDays': '10' })).toThrow(/glo:logRetentionDays="10": CloudWatch accepts only .*14/);
    expect(() => propsFrom({ 'glo:gpuInstanceTypes': '' })).toThrow(/glo:gpuInstanceTypes="": expected instance types like/);
    expect(() => propsFrom({ 'glo:gpuInstanceTypes': 'g4dn.xlarge,G5!' })).toThrow(/glo:gpuInstanceTypes="g4dn.xlarge,G5!": expected instance types like/);
    expect(() => propsFrom({ 'glo:jobAttempts': 2.5 })).toThrow(/glo:jobAttempts=2.5: expected a whole number from 1 to 10/);
    expect(() => propsFrom({ 'glo:runnableTimeoutMinutes': '5' })).toThrow(/from 10 to 1440/);
    expect(() => propsFrom({ 'glo:priceClass': 'cheap' })).toThrow(/PriceClass_100/);
  });

  it('respects "spot off: one on-demand compute environment"', () => {
    const template = Template.fromStack(buildGloStack({ context: { 'glo:spot': 'false', 'glo:gpuInstanceTypes': 'g5.xlarge' } }).stack);
    template.resourceCountIs('AWS::Batch::ComputeEnvironment', 1);
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', { ComputeResources: { Type: 'EC2', InstanceTypes: ['g5.xlarge'] } });
    template.hasResourceProperties('AWS::Batch::JobQueue', { ComputeEnvironmentOrder: [{ Order: 1 }] });
  });
});

describe('GPU instance types', () => {
  it('respects "NVIDIA GPUs on x86 that CUDA 11.2 knows" (the image is linux/amd64 + CUDA 11.2)', () => {
    for (const type of ['g4dn.xlarge', 'g5.2xlarge', 'p3.2xlarge', 'p3dn.24xlarge', 'p4d.24xlarge']) expect(isSupportedGpuInstance(type), type).toBe(true);
    // Ada and Hopper (g6, g6e, p5) need CUDA 11.8+; g4ad is AMD, g5g Arm; the rest have no GPU.
    for (const type of ['g6.xlarge', 'g6e.xlarge', 'p5.48xlarge', 'c5.xlarge', 'm7i.large', 'g4ad.xlarge', 'g5g.xlarge', 'inf2.xlarge']) expect(isSupportedGpuInstance(type), type).toBe(false);
    expect(() => buildGloStack({ context: { 'glo:gpuInstanceTypes': 'g4dn.xlarge,g6.xlarge' } })).toThrow(/g6\.xlarge is not an instance family the training image runs on.*CUDA 11\.2/);
  });
});

describe('site folder', () => {
  it('respects "a fresh clone synthesizes": unbuilt default site/dist -> the committed placeholder', () => {
    expect(chooseSiteDist(undefined, '/nonexistent/site/dist')).toEqual({ dir: SITE_PLACEHOLDER, placeholder: true });
    expect(chooseSiteDist(undefined, FIXTURE_SITE_DIST)).toEqual({ dir: FIXTURE_SITE_DIST, placeholder: false });
  });

  it('respects "an explicit folder must be a built site"', () => {
    expect(chooseSiteDist(FIXTURE_SITE_DIST)).toEqual({ dir: FIXTURE_SITE_DIST, placeholder: false });
    expect(() => chooseSiteDist('/nonexistent/dist')).toThrow(/siteDist \/nonexistent\/dist has no index\.html/);
  });
});
