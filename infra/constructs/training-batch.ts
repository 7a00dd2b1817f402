// Training on AWS Batch (GPU instances, or CPU ones with glo:compute=cpu): a VPC without NAT (instances get public IPs and reach S3/ECR directly), a spot
// compute environment first and an on-demand one second (both scale to zero), one job queue, and the job
// definition `glo job` runs under. The job definition's command, environment and parameters are the contract
// with training/cli/commands/job.ts (the pipeline's rehearsal test reads them from the synthesized template).
import { Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import { LogDriver } from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DATASETS_PREFIX, RUNS_PREFIX } from './glo-buckets.ts';
import { bucketObjectsFinding } from './nag-findings.ts';
import { RunnableSweeper } from './runnable-sweeper.ts';

export type Compute = 'gpu' | 'cpu';

export interface TrainingBatchProps {
  readonly datasets: s3.IBucket;
  readonly artifacts: s3.IBucket;
  /** Destination of the VPC flow logs. */
  readonly logsBucket: s3.IBucket;
  /** The training image (training/Dockerfile, or Dockerfile.cpu); its ENTRYPOINT runs the glo CLI. */
  readonly image: ecs.ContainerImage;
  /** GPU jobs (tfjs-node-gpu, one GPU each) or CPU jobs (the wasm backend, one thread per vCPU). */
  readonly compute: Compute;
  /** Instance types the compute environments may launch: SUPPORTED_GPU_FAMILIES for GPU, x86 C/M/R for CPU. */
  readonly instanceTypes: string[];
  /** Spot compute environment first, on-demand second; false: on-demand only. */
  readonly spot: boolean;
  /** Upper bound of each compute environment (and so of concurrent jobs x vCPUs per job). */
  readonly maxVcpus: number;
  /** vCPUs reserved by one job. */
  readonly jobVcpus: number;
  /** Memory limit of one job, below the smallest instance's RAM (ECS keeps some for itself). */
  readonly jobMemoryMiB: number;
  /** Wall-clock limit of one attempt; Batch kills it after that and does not retry it. */
  readonly jobTimeout: Duration;
  /** Attempts per job, the first included (spot reclaims are retried, everything else is not). */
  readonly jobAttempts: number;
  /** How long a job may wait RUNNABLE for capacity before the queue cancels it. */
  readonly runnableTimeout: Duration;
  readonly logRetention: logs.RetentionDays;
}

/** The job parameter defaults: `glo job --bucket <datasets> --key datasets/example/glo.json`. */
export const EXAMPLE_SPEC_KEY = `${DATASETS_PREFIX}example/glo.json`;

export class TrainingBatch extends Construct {
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly jobRole: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly vpc: ec2.Vpc;
  readonly sweeper: RunnableSweeper;

  constructor(scope: Construct, id: string, props: TrainingBatchProps) {
    super(scope, id);
    const gpu = props.compute === 'gpu';
    if (props.instanceTypes.length === 0) throw new Error(`TrainingBatch: instanceTypes is empty; give at least one, e.g. ${gpu ? 'g4dn.xlarge' : 'c7i.xlarge'}.`);
    for (const type of props.instanceTypes) {
      if (!gpu) {
        if (!isX86CpuInstance(type)) throw new Error(`TrainingBatch: ${type} is not an x86 compute, general-purpose or memory instance (C, M or R family) for CPU jobs; use e.g. c7i.xlarge.`);
      } else if (!isSupportedGpuInstance(type)) {
        throw new Error(`TrainingBatch: ${type} is not an instance family the training image runs on: it needs an x86 CPU and an NVIDIA GPU ` +
          `that CUDA 11.2 knows (${SUPPORTED_GPU_FAMILIES.join(', ')}); use e.g. g4dn.xlarge.`);
      }
    }

    // Public subnets only: a NAT gateway would cost more per month than most training runs.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
      flowLogs: { s3: { destination: ec2.FlowLogDestination.toS3(props.logsBucket, 'vpc-flow-logs/'), trafficType: ec2.FlowLogTrafficType.REJECT } },
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });

    const instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEC2ContainerServiceforEC2Role')],
    });
    Validations.of(instanceRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
      reason: 'The ECS agent on Batch instances needs exactly this AWS-maintained policy (register with the cluster, pull from ECR, write awslogs); a hand copy would drift from what the agent needs.',
    });

    // IMDSv2 with a hop limit of 1: the ECS agent (host network) still reaches instance metadata, but job
    // containers (bridge network, one hop further) cannot take the instance role's credentials; they get the
    // job role from ECS instead.
    const launchTemplate = new ec2.LaunchTemplate(this, 'InstanceLaunchTemplate', {
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      userData: spotDrainingUserData(),
    });

    const computeEnvironment = (name: string, spot: boolean) => new batch.ManagedEc2EcsComputeEnvironment(this, name, {
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      spot,
      allocationStrategy: spot ? batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED : batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
      instanceTypes: props.instanceTypes.map((type) => new ec2.InstanceType(type)),
      // Otherwise Batch adds its "optimal" families: CPU-only for GPU jobs, and older ones than asked for.
      useOptimalInstanceClasses: false,
      // The default images are the retiring Amazon Linux 2 ones.
      images: [{ imageType: gpu ? batch.EcsMachineImageType.ECS_AL2023_NVIDIA : batch.EcsMachineImageType.ECS_AL2023 }],
      minvCpus: 0,
      maxvCpus: props.maxVcpus,
      instanceRole,
      launchTemplate,
    });
    const computeEnvironments: batch.OrderedComputeEnvironment[] = [];
    const kind = gpu ? 'Gpu' : 'Cpu';
    if (props.spot) computeEnvironments.push({ computeEnvironment: computeEnvironment(`Spot${kind}`, true), order: 1 });
    computeEnvironments.push({ computeEnvironment: computeEnvironment(`OnDemand${kind}`, false), order: computeEnvironments.length + 1 });
    // The L2 references the launch template without a version, which Batch reads as "the default version at
    // creation": a changed user data would never reach new instances. Pin the latest version, so a change
    // updates the compute environments (an infrastructure update Batch applies to new instances).
    for (const { computeEnvironment: environment } of computeEnvironments) {
      (environment.node.defaultChild as batch.CfnComputeEnvironment)
        .addPropertyOverride('ComputeResources.LaunchTemplate.Version', launchTemplate.latestVersionNumber);
    }

    this.jobQueue = new batch.JobQueue(this, 'JobQueue', {
      computeEnvironments,
      jobStateTimeLimitActions: [
        // A job that no compute environment can ever run (too many vCPUs, too much memory) fails early...
        { reason: batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT, maxTime: Duration.minutes(10), action: batch.JobStateTimeLimitActionsAction.CANCEL },
        { reason: batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE, maxTime: Duration.minutes(10), action: batch.JobStateTimeLimitActionsAction.CANCEL },
        // ...and one that waits for GPU capacity gives up after runnableTimeout instead of waiting for ever.
        { reason: batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY, maxTime: props.runnableTimeout, action: batch.JobStateTimeLimitActionsAction.CANCEL },
      ],
    });

    // The time limits above need Batch to report the job blocked everywhere; this catches the rest.
    this.sweeper = new RunnableSweeper(this, 'RunnableSweeper', { jobQueue: this.jobQueue, maxRunnable: props.runnableTimeout, logRetention: props.logRetention });

    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'glo job: reads datasets/, reads, writes and deletes runs/ of the artifacts bucket',
    });
    // Exactly the S3 calls the job makes (no grant* helpers: they add legal holds, retention and tagging):
    // read its dataset; read, write and delete under runs/ (a conditional PUT is a PutObject, HEAD a GetObject,
    // a multipart upload PutObject plus AbortMultipartUpload on failure). ListBucket on each bucket, without a
    // prefix condition: S3 needs it to answer 404 rather than 403 for a missing key, and a GET carries no prefix.
    this.jobRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.datasets.arnForObjects(`${DATASETS_PREFIX}*`)] }));
    this.jobRole.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      resources: [props.artifacts.arnForObjects(`${RUNS_PREFIX}*`)],
    }));
    this.jobRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.datasets.bucketArn, props.artifacts.bucketArn] }));
    for (const [id, reason] of Object.entries({
      [bucketObjectsFinding(props.datasets, `${DATASETS_PREFIX}*`)]: 'The job reads the images and glo.json of whichever dataset the event names: any key under datasets/, nothing else.',
      [bucketObjectsFinding(props.artifacts, `${RUNS_PREFIX}*`)]: 'The job writes a new run folder (unknown id until it starts), its checkpoint and runs/index.json: any key under runs/, nothing else.',
    })) Validations.of(this.jobRole).acknowledge({ id, reason });

    this.logGroup = new logs.LogGroup(this, 'JobLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });

    const backendEnvironment: Record<string, string> = gpu
      ? {
        GLO_REQUIRE_GPU: '1',
        GLO_BACKEND: 'tensorflow-gpu',
        TF_FORCE_GPU_ALLOW_GROWTH: 'true',
        // PTX compiled for g5's sm_86 is kept across jobs on the instance; the default 256 MiB is too small for
        // TensorFlow's kernels, so the cache would be evicted while it fills.
        CUDA_CACHE_PATH: CUDA_CACHE.containerPath,
        CUDA_CACHE_MAXSIZE: String(4 * 1024 ** 3),
      }
      // One wasm thread per reserved vCPU.
      : { GLO_BACKEND: 'wasm', GLO_THREADS: String(props.jobVcpus) };
    const container = new batch.EcsEc2ContainerDefinition(this, 'Container', {
      image: props.image,
      gpu: gpu ? 1 : undefined,
      cpu: props.jobVcpus,
      memory: Size.mebibytes(props.jobMemoryMiB),
      command: ['job', '--bucket', 'Ref::bucket', '--key', 'Ref::key'],
      environment: {
        GLO_ARTIFACTS: `s3://${props.artifacts.bucketName}/${RUNS_PREFIX.slice(0, -1)}`,
        ...backendEnvironment,
        AWS_REGION: Stack.of(this).region,
      },
      volumes: gpu ? [batch.EcsVolume.host({ name: 'cuda-cache', hostPath: CUDA_CACHE.hostPath, containerPath: CUDA_CACHE.containerPath })] : undefined,
      jobRole: this.jobRole,
      logging: LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: 'glo' }),
    });
    Validations.of(container.executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken, which the agent needs to pull the training image, exists only on Resource "*"; the pull itself is granted on the image repository alone.',
    });

    this.jobDefinition = new batch.EcsJobDefinition(this, 'JobDefinition', {
      container,
      // Every Ref:: in the command has a default, so a manual `aws batch submit-job` without parameters runs
      // the example dataset instead of passing the literal "Ref::key" to the CLI.
      parameters: { bucket: props.datasets.bucketName, key: EXAMPLE_SPEC_KEY },
      timeout: props.jobTimeout,
      retryAttempts: props.jobAttempts,
      retryStrategies: [
        // A reclaimed spot instance ("Host EC2 ... terminated"): no signal reached the job (see
        // JOB_CHECKPOINT_MINUTES in training/pipeline/job-spec.ts); the next attempt resumes from the last
        // checkpoint, at most two minutes old.
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        // Stopped with SIGTERM (ECS StopTask, e.g. an instance being drained): the job checkpointed and
        // exited 143 (training/pipeline/job.ts), so the next attempt resumes from that very step.
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onExitCode: '143' })),
        // Anything else (a bad spec, a bug) fails the same way again: stop. Without this catch-all an
        // unmatched failure would be retried.
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: '*' })),
      ],
    });
  }
}

/**
 * The families the training image (CUDA 11.2, libtensorflow 2.9: native kernels up to sm_75, PTX for sm_80) runs
 * on: g4dn (T4, sm_75) natively; p3/p3dn (V100, sm_70) natively; p4d/p4de (A100, sm_80) from PTX; g5 (A10G,
 * sm_86) from PTX too, compiled at the first start of each instance (minutes; the job keeps the compute cache on
 * the host, so later jobs on a warm instance skip it). Newer families (g6/g6e: L4/L40S sm_89, p5: H100 sm_90)
 * need CUDA 11.8 or later and are refused; g4ad (AMD) and g5g (Arm) have no NVIDIA GPU for an amd64 image.
 */
export const SUPPORTED_GPU_FAMILIES = ['g4dn', 'g5', 'p3', 'p3dn', 'p4d', 'p4de'] as const;

export function isSupportedGpuInstance(instanceType: string): boolean {
  return (SUPPORTED_GPU_FAMILIES as readonly string[]).includes(instanceType.split('.')[0]);
}

/** x86 compute-optimized, general-purpose and memory-optimized families (c5, c6i, c6a, c7i, c7a, m6i, r7i, ...), not Graviton. */
export function isX86CpuInstance(instanceType: string): boolean {
  return /^[cmr][5-8][ain]?$/.test(instanceType.split('.')[0]);
}

/** Where CUDA keeps its JIT-compiled kernels: a host folder, so one instance compiles them once, not per job. */
const CUDA_CACHE = { hostPath: '/var/cache/glo-cuda', containerPath: '/var/cache/cuda' } as const;

/**
 * What the ECS agent on every instance is told. Not ECS_ENABLE_SPOT_INSTANCE_DRAINING: it drains service tasks
 * only, and a Batch job is a standalone task ("unaffected", the ECS docs say), so it would not signal the job.
 */
const ECS_AGENT_SETTINGS = {
  // SIGTERM to SIGKILL when a task is stopped (default 30 s): the trainer finishes its step and uploads a
  // checkpoint, which for a 128 px generator over a slow link can take longer.
  ECS_CONTAINER_STOP_TIMEOUT: '90s',
} as const;

/**
 * User data appended to /etc/ecs/ecs.config at boot. Batch merges launch-template user data with its own and
 * accepts it only as MIME multipart, hence MultipartUserData around the shell part.
 */
function spotDrainingUserData(): ec2.UserData {
  const shell = ec2.UserData.forLinux();
  shell.addCommands(...Object.entries(ECS_AGENT_SETTINGS).map(([key, value]) => `echo ${key}=${value} >> /etc/ecs/ecs.config`));
  const userData = new ec2.MultipartUserData();
  userData.addUserDataPart(shell, ec2.MultipartBody.SHELL_SCRIPT, true);
  return userData;
}
