// The design of the stack (docs/architecture.md section 4), stated on the synthesized template. GIVEN the default knobs
// and a fixture site, WHEN synthesized, THEN each property below holds.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { App, CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { GloStack } from '../../infra/glo-stack.ts';
import { matchesEventPattern, s3ObjectCreatedEvent } from './event-pattern.ts';
import { buildGloStack } from './synth.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

let stack: GloStack;
let template: Template;
let resources: Record<string, Json>;
const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
const only = (type: string) => {
  const found = ofType(type);
  expect(found, type).toHaveLength(1);
  return found[0][1].Properties;
};
/** Replace { Ref: <logical id> } by a readable stand-in, as CloudFormation would by the real name. */
const substituteRefs = (value: Json, names: Record<string, string>): Json => {
  if (Array.isArray(value)) return value.map((item) => substituteRefs(item, names));
  if (value && typeof value === 'object') {
    if (typeof value.Ref === 'string' && names[value.Ref]) return names[value.Ref];
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteRefs(v, names)]));
  }
  return value;
};

beforeAll(() => {
  stack = buildGloStack().stack;
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources;
});

describe('training job definition', () => {
  it('respects the GPU contract: 1 GPU, memory below a g4dn.xlarge (16 GiB), an explicit job role', () => {
    const props = only('AWS::Batch::JobDefinition');
    const requirements = Object.fromEntries(props.ContainerProperties.ResourceRequirements.map((r: Json) => [r.Type, Number(r.Value)]));
    expect(requirements.GPU).toBe(1);
    expect(requirements.MEMORY).toBeLessThan(16 * 1024);
    expect(requirements.VCPU).toBeLessThanOrEqual(4);
    expect(props.PlatformCapabilities).toEqual(['EC2']);
    expect(props.ContainerProperties.JobRoleArn).toEqual({ 'Fn::GetAtt': [id(stack.training.jobRole), 'Arn'] });
  });

  it('respects the glo job contract: command, parameter defaults and environment', () => {
    const props = only('AWS::Batch::JobDefinition');
    expect(props.ContainerProperties.Command).toEqual(['job', '--bucket', 'Ref::bucket', '--key', 'Ref::key']);
    expect(props.Parameters).toEqual({ bucket: { Ref: id(stack.buckets.datasets) }, key: 'datasets/example/glo.json' });
    const environment = Object.fromEntries(props.ContainerProperties.Environment.map((e: Json) => [e.Name, e.Value]));
    expect(environment).toEqual({
      GLO_ARTIFACTS: { 'Fn::Join': ['', ['s3://', { Ref: id(stack.buckets.artifacts) }, '/runs']] },
      GLO_REQUIRE_GPU: '1',
      GLO_BACKEND: 'tensorflow-gpu',
      TF_FORCE_GPU_ALLOW_GROWTH: 'true',
      CUDA_CACHE_PATH: '/var/cache/cuda',
      CUDA_CACHE_MAXSIZE: String(4 * 1024 ** 3),
      AWS_REGION: { Ref: 'AWS::Region' },
    });
    // The CUDA compute cache lives on the host, so a g5 instance JIT-compiles TensorFlow's kernels once, not per job.
    expect(props.ContainerProperties.Volumes).toEqual([{ Name: 'cuda-cache', Host: { SourcePath: '/var/cache/glo-cuda' } }]);
    expect(props.ContainerProperties.MountPoints).toEqual([{ SourceVolume: 'cuda-cache', ContainerPath: '/var/cache/cuda' }]);
  });

  it('respects "a default for every Ref:: parameter"', () => {
    const props = only('AWS::Batch::JobDefinition');
    const referenced = JSON.stringify(props.ContainerProperties).match(/Ref::\w+/g)!.map((ref) => ref.slice('Ref::'.length));
    expect(referenced.length).toBeGreaterThan(0);
    for (const name of referenced) expect(props.Parameters, name).toHaveProperty(name);
  });

  it('respects the retry design: retry a spot reclaim and a SIGTERM stop (exit 143), then a catch-all EXIT; a timeout; logs with retention', () => {
    const props = only('AWS::Batch::JobDefinition');
    expect(props.RetryStrategy.Attempts).toBeGreaterThanOrEqual(2);
    // Order matters: Batch applies the first matching rule, and an unmatched failure would be retried.
    expect(props.RetryStrategy.EvaluateOnExit).toEqual([
      { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
      { Action: 'RETRY', OnExitCode: '143' },
      { Action: 'EXIT', OnReason: '*' },
    ]);
    expect(props.Timeout.AttemptDurationSeconds).toBe(4 * 3600);
    expect(props.ContainerProperties.LogConfiguration).toMatchObject({
      LogDriver: 'awslogs', Options: { 'awslogs-group': { Ref: id(stack.training.logGroup) } },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });
});

describe('compute environments and queue', () => {
  it('respect "GPU only, AL2023 NVIDIA image, scale to zero"', () => {
    const environments = ofType('AWS::Batch::ComputeEnvironment');
    expect(environments).toHaveLength(2);
    for (const [, { Properties: { ComputeResources: resources } }] of environments) {
      expect(resources.InstanceTypes).toEqual(['g4dn.xlarge']); // T4: native kernels, no JIT at start; no "optimal" (CPU) families
      expect(resources.Ec2Configuration).toEqual([{ ImageType: 'ECS_AL2023_NVIDIA' }]);
      expect(resources.MinvCpus).toBe(0);
      expect(resources.MaxvCpus).toBe(8);
    }
  });

  it('respects "spot first, on-demand second" and a RUNNABLE time limit', () => {
    const queue = only('AWS::Batch::JobQueue');
    const order = [...queue.ComputeEnvironmentOrder].sort((a: Json, b: Json) => a.Order - b.Order)
      .map((entry: Json) => resources[entry.ComputeEnvironment['Fn::GetAtt'][0]].Properties.ComputeResources.Type);
    expect(order).toEqual(['SPOT', 'EC2']);
    const limits = queue.JobStateTimeLimitActions;
    expect(limits.every((limit: Json) => limit.State === 'RUNNABLE' && limit.Action === 'CANCEL')).toBe(true);
    expect(limits.find((limit: Json) => limit.Reason === 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY').MaxTimeSeconds).toBe(2 * 3600);
  });

  it('respects "job containers cannot reach instance metadata" (IMDSv2, hop limit 1)', () => {
    const templates = ofType('AWS::EC2::LaunchTemplate');
    expect(templates).toHaveLength(1);
    expect(templates[0][1].Properties.LaunchTemplateData.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
    for (const [, environment] of ofType('AWS::Batch::ComputeEnvironment')) {
      // With its latest version: a user-data change must reach new instances.
      expect(environment.Properties.ComputeResources.LaunchTemplate).toEqual({
        LaunchTemplateId: { Ref: templates[0][0] },
        Version: { 'Fn::GetAtt': [templates[0][0], 'LatestVersionNumber'] },
      });
    }
  });

  it('respects "a stopped job has 90 s to checkpoint" (the ECS stop timeout, in MIME user data Batch accepts)', () => {
    const [[, launchTemplate]] = ofType('AWS::EC2::LaunchTemplate');
    const userData = launchTemplate.Properties.LaunchTemplateData.UserData['Fn::Base64'];
    // The MIME text is an Fn::Join whose shell part is itself an Fn::Base64 (the part's transfer encoding).
    const render = (value: Json): string =>
      typeof value === 'string' ? value
        : value['Fn::Base64'] !== undefined ? render(value['Fn::Base64'])
          : value['Fn::Join'][1].map(render).join(value['Fn::Join'][0]);
    const text = render(userData);
    expect(text).toMatch(/^Content-Type: multipart\/mixed; boundary=/);
    expect(text).toContain('Content-Type: text/x-shellscript');
    expect(text).toContain('echo ECS_CONTAINER_STOP_TIMEOUT=90s >> /etc/ecs/ecs.config');
    // Spot draining signals ECS service tasks only; a Batch job is a standalone task. It would promise a SIGTERM that never comes.
    expect(text).not.toContain('ECS_ENABLE_SPOT_INSTANCE_DRAINING');
  });

  it('respects "no NAT gateway" (instances reach S3 through a gateway endpoint)', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' });
  });
});

describe('trigger', () => {
  const datasets = 'glo-datasets-test';
  let rule: Json;
  beforeAll(() => {
    // The dataset trigger: the rule with an event pattern (the other rule is the RUNNABLE sweeper's schedule).
    rule = substituteRefs(resources[id(stack.trigger.rule)].Properties, { [id(stack.buckets.datasets)]: datasets });
  });

  it('respects "only the creation of datasets/<name>/glo.json starts a job"', () => {
    const matches = (key: string, bucket = datasets, detailType = 'Object Created') =>
      matchesEventPattern(rule.EventPattern, { ...s3ObjectCreatedEvent(bucket, key), 'detail-type': detailType });
    expect(matches('datasets/cats/glo.json')).toBe(true);
    expect(matches('datasets/my-faces-2/glo.json')).toBe(true);
    expect(matches('datasets/cats/0001.png')).toBe(false);
    expect(matches('datasets/cats/glo.json.tmp')).toBe(false);
    expect(matches('datasets/glo.json')).toBe(false);
    expect(matches('runs/cats/glo.json')).toBe(false);
    expect(matches('datasets/cats/glo.json', 'another-bucket')).toBe(false);
    expect(matches('datasets/cats/glo.json', datasets, 'Object Deleted')).toBe(false);
  });

  it('respects "submit the Batch job with bucket and key as parameters, with retries and a dead-letter queue"', () => {
    expect(rule.Targets).toHaveLength(1);
    const [target] = rule.Targets;
    expect(target.Arn).toEqual({ 'Fn::GetAtt': [id(stack.training.jobQueue), 'JobQueueArn'] });
    expect(target.BatchParameters.JobDefinition).toEqual({ Ref: id(stack.training.jobDefinition) });
    expect(target.DeadLetterConfig.Arn).toEqual({ 'Fn::GetAtt': [id(stack.trigger.deadLetterQueue), 'Arn'] });
    expect(target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThan(0);
    const { InputPathsMap: paths, InputTemplate: inputTemplate } = target.InputTransformer;
    // What EventBridge does with the transformer: replace each <name> by the JSON value at its path.
    const event = s3ObjectCreatedEvent(datasets, 'datasets/cats/glo.json') as Json;
    const valueAt = (jsonPath: string) => jsonPath.slice(2).split('.').reduce((value: Json, field) => value[field], event);
    const input = JSON.parse(inputTemplate.replace(/<([\w-]+)>/g, (_: string, name: string) => JSON.stringify(valueAt(paths[name]))));
    expect(input).toEqual({ Parameters: { bucket: datasets, key: 'datasets/cats/glo.json' } });
  });

  it('respects "no Lambda glue": the only function is CDK\'s BucketDeployment handler', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions).toHaveLength(1);
    expect(functions[0][0]).toMatch(/^CustomCDKBucketDeployment/);
  });
});

describe('job role', () => {
  it('respects least privilege: read datasets/*, read+write+delete runs/* of artifacts, nothing else', () => {
    const policies = ofType('AWS::IAM::Policy').filter(([, policy]) =>
      policy.Properties.Roles.some((role: Json) => role.Ref === id(stack.training.jobRole)));
    expect(policies).toHaveLength(1);
    const statements: Json[] = policies[0][1].Properties.PolicyDocument.Statement;
    const datasetsArn = { 'Fn::GetAtt': [id(stack.buckets.datasets), 'Arn'] };
    const artifactsArn = { 'Fn::GetAtt': [id(stack.buckets.artifacts), 'Arn'] };
    const objects = (arn: Json, prefix: string) => ({ 'Fn::Join': ['', [arn, `/${prefix}`]] });
    const allowed = [datasetsArn, artifactsArn, objects(datasetsArn, 'datasets/*'), objects(artifactsArn, 'runs/*')].map((r) => JSON.stringify(r));

    const grants: Array<{ action: string; resource: string }> = [];
    for (const statement of statements) {
      expect(statement.Effect).toBe('Allow');
      for (const action of [statement.Action].flat()) {
        for (const resource of [statement.Resource].flat()) grants.push({ action, resource: JSON.stringify(resource) });
      }
    }
    for (const { resource } of grants) expect(allowed).toContain(resource);
    // Object writes are authorized by object ARNs only (grant* also lists them on the bucket ARN, where they
    // match nothing): every object ARN that a write applies to is runs/* of the artifacts bucket.
    const writes = grants.filter(({ action }) => /^s3:(Put|Delete|Abort)/.test(action));
    expect(writes.length).toBeGreaterThan(0);
    for (const { resource } of writes) expect([JSON.stringify(artifactsArn), JSON.stringify(objects(artifactsArn, 'runs/*'))]).toContain(resource);
    const canDo = (action: string, resource: Json) => grants.some((grant) =>
      grant.resource === JSON.stringify(resource) && new RegExp(`^${grant.action.replace('*', '.*')}$`).test(action));
    expect(canDo('s3:GetObject', objects(datasetsArn, 'datasets/*'))).toBe(true);
    expect(canDo('s3:ListBucket', datasetsArn)).toBe(true);
    for (const action of ['s3:GetObject', 's3:PutObject', 's3:DeleteObject']) expect(canDo(action, objects(artifactsArn, 'runs/*'))).toBe(true);
    // Exactly the calls the job makes: no wildcard actions, no legal holds, retention, tagging or ACLs.
    expect([...new Set(grants.map((g) => g.action))].sort()).toEqual(['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
  });
});

describe('buckets', () => {
  it('respect "block public access, enforce TLS, encrypt, log access"', () => {
    const buckets = ofType('AWS::S3::Bucket');
    expect(buckets).toHaveLength(4);
    const logsId = id(stack.buckets.logs);
    for (const [logicalId, { Properties: props }] of buckets) {
      expect(props.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
      if (logicalId !== logsId) expect(props.LoggingConfiguration.DestinationBucketName).toEqual({ Ref: logsId });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: logicalId },
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
    }
  });

  it('respect "datasets sends EventBridge events and aborts stale multipart uploads"', () => {
    const props = resources[id(stack.buckets.datasets)].Properties;
    expect(props.NotificationConfiguration).toEqual({ EventBridgeConfiguration: { EventBridgeEnabled: true } });
    expect(props.LifecycleConfiguration.Rules).toContainEqual(expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }));
  });

  it('respect "user data outlives the stack"', () => {
    for (const bucket of [stack.buckets.datasets, stack.buckets.artifacts]) {
      expect(resources[id(bucket)].DeletionPolicy).toBe('Retain');
    }
  });
});

describe('site hosting', () => {
  let distribution: Json;
  beforeAll(() => {
    distribution = only('AWS::CloudFront::Distribution').DistributionConfig;
  });
  const originOf = (originId: string) => distribution.Origins.find((origin: Json) => origin.Id === originId);
  const bucketOf = (origin: Json) => origin.DomainName['Fn::GetAtt'][0];

  it('respects "/runs/* comes from the artifacts bucket, index and manifests briefly cached"', () => {
    const behaviors = distribution.CacheBehaviors;
    expect(behaviors.map((b: Json) => b.PathPattern)).toEqual(['/runs/index.json', '/runs/*/manifest.json', '/runs/*']);
    for (const behavior of behaviors) expect(bucketOf(originOf(behavior.TargetOriginId))).toBe(id(stack.buckets.artifacts));
    const shortId = ofType('AWS::CloudFront::CachePolicy')[0][0];
    expect(behaviors[0].CachePolicyId).toEqual({ Ref: shortId });
    expect(behaviors[1].CachePolicyId).toEqual({ Ref: shortId });
    expect(resources[shortId].Properties.CachePolicyConfig.MaxTTL).toBeLessThanOrEqual(300);
    expect(behaviors[2].CachePolicyId).toBe('658327ea-f89d-4fab-a63d-7e88639e58f6'); // managed CachingOptimized
    for (const behavior of behaviors) expect(behavior.AllowedMethods).toEqual(['GET', 'HEAD']);
  });

  it('respects "the site from the site bucket, with the directory-index rewrite and HTTPS only"', () => {
    const behavior = distribution.DefaultCacheBehavior;
    expect(bucketOf(originOf(behavior.TargetOriginId))).toBe(id(stack.buckets.site));
    expect(behavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    const [functionId] = ofType('AWS::CloudFront::Function')[0];
    expect(behavior.FunctionAssociations).toEqual([{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [functionId, 'FunctionARN'] } }]);
    expect(distribution.DefaultRootObject).toBe('index.html');
    template.hasResourceProperties('AWS::CloudFront::Function', { FunctionConfig: { Runtime: 'cloudfront-js-2.0' } });
  });

  it('respects "both buckets private behind OAC"', () => {
    expect(distribution.Origins).toHaveLength(2);
    for (const origin of distribution.Origins) {
      expect(origin.OriginAccessControlId).toBeDefined();
      expect(origin.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
    }
    for (const bucket of [stack.buckets.site, stack.buckets.artifacts]) {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id(bucket) },
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
          Action: Match.arrayWith(['s3:GetObject']), Principal: { Service: 'cloudfront.amazonaws.com' }, Condition: { StringEquals: { 'AWS:SourceArn': Match.anyValue() } },
        })]) },
      });
    }
  });

  it('respects "CloudFront reads published run files only" (not outside runs/, no checkpoint, failure record or lock)', () => {
    const policy = ofType('AWS::S3::BucketPolicy').find(([, p]) => p.Properties.Bucket.Ref === id(stack.buckets.artifacts))![1];
    const denies = policy.Properties.PolicyDocument.Statement.filter((st: Json) => st.Effect === 'Deny' && st.Principal?.Service === 'cloudfront.amazonaws.com');
    const arn = { 'Fn::GetAtt': [id(stack.buckets.artifacts), 'Arn'] };
    const objects = (suffix: string) => ({ 'Fn::Join': ['', [arn, `/${suffix}`]] });
    expect(denies).toEqual([
      expect.objectContaining({ Action: 's3:GetObject', NotResource: objects('runs/*') }),
      expect.objectContaining({ Action: 's3:GetObject', Resource: [objects('runs/*/.glo-lock.json'), objects('runs/*/checkpoint/*'), objects('runs/*/failure.json')] }),
    ]);
  });

  it('respects "a second deployment does not collide": account-wide CloudFront names carry the stack and the region', () => {
    const names = [
      only('AWS::CloudFront::ResponseHeadersPolicy').ResponseHeadersPolicyConfig.Name,
      ...ofType('AWS::CloudFront::CachePolicy').map(([, p]) => p.Properties.CachePolicyConfig.Name),
      ...ofType('AWS::CloudFront::OriginAccessControl').map(([, p]) => p.Properties.OriginAccessControlConfig.Name),
    ];
    expect(names).toHaveLength(4);
    for (const name of names) expect(name).toEqual({ 'Fn::Join': ['-', ['Glo', { Ref: 'AWS::Region' }, expect.any(String)]] });
    expect(new Set(names.map((n) => n['Fn::Join'][1][2])).size).toBe(4);
  });

  it('respects "security headers with a CSP that lets tfjs run"', () => {
    const headers = only('AWS::CloudFront::ResponseHeadersPolicy').ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const csp: string = headers.ContentSecurityPolicy.ContentSecurityPolicy;
    const directive = (name: string) => csp.split(';').map((d) => d.trim().split(/\s+/)).find(([n]) => n === name)?.slice(1) ?? [];
    expect(directive('script-src')).toEqual(expect.arrayContaining(["'self'", "'wasm-unsafe-eval'"]));
    expect(directive('script-src')).not.toContain("'unsafe-eval'");
    expect(directive('worker-src')).toContain('blob:');
    expect(directive('img-src')).toEqual(expect.arrayContaining(['data:', 'blob:']));
    expect(directive('frame-ancestors')).toEqual(["'none'"]);
    expect(headers.StrictTransportSecurity.AccessControlMaxAgeSec).toBeGreaterThanOrEqual(365 * 86400);
    expect(headers.ContentTypeOptions.Override).toBe(true);
    expect(headers.FrameOptions.FrameOption).toBe('DENY');
  });

  it('respects "cross-origin isolated, so tfjs can use wasm threads (SharedArrayBuffer)"', () => {
    const config = only('AWS::CloudFront::ResponseHeadersPolicy').ResponseHeadersPolicyConfig;
    const custom = Object.fromEntries(config.CustomHeadersConfig.Items.map((item: Json) => [item.Header, item.Value]));
    expect(custom).toMatchObject({ 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
    // The same policy on every behaviour, the runs included (the model files are fetched by the page).
    const behaviors = [distribution.DefaultCacheBehavior, ...distribution.CacheBehaviors];
    const [policyId] = ofType('AWS::CloudFront::ResponseHeadersPolicy')[0];
    for (const behavior of behaviors) expect(behavior.ResponseHeadersPolicyId).toEqual({ Ref: policyId });
  });

  it('respects "the site deployment targets the site bucket only, so its prune cannot delete runs"', () => {
    const deployments = ofType('Custom::CDKBucketDeployment');
    expect(deployments).toHaveLength(1);
    expect(deployments[0][1].Properties.DestinationBucketName).toEqual({ Ref: id(stack.buckets.site) });
    expect(deployments[0][1].Properties.Prune).toBe(true);
    const handlerPolicies = ofType('AWS::IAM::Policy').filter(([logicalId]) => logicalId.startsWith('CustomCDKBucketDeployment'));
    expect(handlerPolicies).toHaveLength(1);
    const policyText = JSON.stringify(handlerPolicies[0][1]);
    expect(policyText).toContain(id(stack.buckets.site));
    for (const other of [stack.buckets.artifacts, stack.buckets.datasets, stack.buckets.logs]) expect(policyText).not.toContain(id(other));
  });
});

describe('outputs', () => {
  it('respect the names the glo CLI reads from stack "Glo"', () => {
    expect(stack.stackName).toBe('Glo');
    const outputs = template.toJSON().Outputs;
    expect(outputs.DatasetsBucketName.Value).toEqual({ Ref: id(stack.buckets.datasets) });
    expect(outputs.ArtifactsBucketName.Value).toEqual({ Ref: id(stack.buckets.artifacts) });
    expect(outputs.JobQueueName.Value).toBeDefined();
    expect(JSON.stringify(outputs.SiteUrl.Value)).toContain('https://');
  });
});

describe('glo:compute=cpu: the same pipeline on CPU instances, no CUDA', () => {
  const cpu = buildGloStack({ context: { 'glo:compute': 'cpu' } });
  const cpuResources = Template.fromStack(cpu.stack).toJSON().Resources as Record<string, Json>;
  const cpuOfType = (type: string) => Object.values(cpuResources).filter((r) => r.Type === type);

  it('respects "x86 compute instances, spot first, the plain ECS image, scale to zero"', () => {
    const environments = cpuOfType('AWS::Batch::ComputeEnvironment');
    expect(environments.map((e) => e.Properties.ComputeResources.Type).sort()).toEqual(['EC2', 'SPOT']);
    for (const { Properties: { ComputeResources: resources } } of environments) {
      expect(resources.InstanceTypes).toEqual(['c7i.xlarge', 'c6i.xlarge', 'c6a.xlarge']);
      expect(resources.Ec2Configuration).toEqual([{ ImageType: 'ECS_AL2023' }]);
      expect(resources.MinvCpus).toBe(0);
    }
  });

  it('respects "no GPU, the wasm backend with a thread per vCPU, memory below a c7i.xlarge (8 GiB)"', () => {
    const [definition] = cpuOfType('AWS::Batch::JobDefinition');
    const container = definition.Properties.ContainerProperties;
    const requirements = Object.fromEntries(container.ResourceRequirements.map((r: Json) => [r.Type, Number(r.Value)]));
    expect(requirements.GPU).toBeUndefined();
    expect(requirements.MEMORY).toBeLessThan(8 * 1024);
    const environment = Object.fromEntries(container.Environment.map((e: Json) => [e.Name, e.Value]));
    expect(environment).toMatchObject({ GLO_BACKEND: 'wasm', GLO_THREADS: String(requirements.VCPU) });
    expect(environment.GLO_REQUIRE_GPU).toBeUndefined();
    expect(container.Volumes).toBeUndefined();
    expect(container.Command).toEqual(['job', '--bucket', 'Ref::bucket', '--key', 'Ref::key']);
  });

  it('respects "the image is built from training/Dockerfile.cpu"', () => {
    // The asset manifest cdk deploy builds and pushes from.
    const dockerfiles = (app: App) => {
      const manifest = JSON.parse(readFileSync(path.join(app.synth().directory, 'Glo.assets.json'), 'utf8'));
      return Object.values(manifest.dockerImages as Record<string, Json>).map((image) => image.source.dockerFile);
    };
    expect(dockerfiles(cpu.app)).toEqual(['training/Dockerfile.cpu']);
    expect(dockerfiles(buildGloStack().app)).toEqual(['training/Dockerfile']);
  });

  it('respects "CPU instance types only": a GPU or Arm type is refused, and so is an unknown compute', () => {
    expect(() => buildGloStack({ context: { 'glo:compute': 'cpu', 'glo:cpuInstanceTypes': 'c7g.xlarge' } })).toThrow(/c7g\.xlarge is not an x86 compute/);
    expect(() => buildGloStack({ context: { 'glo:compute': 'cpu', 'glo:cpuInstanceTypes': 'g4dn.xlarge' } })).toThrow(/g4dn\.xlarge is not an x86 compute/);
    expect(() => buildGloStack({ context: { 'glo:compute': 'tpu' } })).toThrow(/glo:compute="tpu": expected gpu or cpu/);
  });
});
