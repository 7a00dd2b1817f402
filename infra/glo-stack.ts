// The glo stack: wires the four concerns together and publishes the outputs the `glo` CLI reads
// (CloudFormation stack "Glo"). Every knob is a typed prop; infra/app.ts fills them from CDK context.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { DatasetTrigger } from './constructs/dataset-trigger.ts';
import { GloBuckets } from './constructs/glo-buckets.ts';
import { SiteHosting } from './constructs/site-hosting.ts';
import { TrainingBatch, type Compute } from './constructs/training-batch.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where the Astro build lands. */
export const DEFAULT_SITE_DIST = path.join(REPO_ROOT, 'site', 'dist');
/** Deployed instead of a missing default site/dist, so a fresh clone synthesizes (and says so). */
export const SITE_PLACEHOLDER = fileURLToPath(new URL('./site-placeholder', import.meta.url));
/** The training images: build context the repository root, Dockerfiles relative to it. */
export const TRAINING_DOCKERFILE = 'training/Dockerfile';
/** The CPU image (glo:compute=cpu): npm packages only, the wasm backend with threads. */
export const TRAINING_CPU_DOCKERFILE = 'training/Dockerfile.cpu';

export interface GloStackProps extends StackProps {
  /**
   * The built site to deploy. When left at the default and site/dist has no index.html, the placeholder
   * in infra/site-placeholder is deployed instead, with a synth warning; an explicit folder must exist.
   * @default site/dist
   */
  readonly siteDist?: string;
  /**
   * What the jobs run on: 'gpu' (tfjs-node-gpu, CUDA) or 'cpu' (the wasm backend with threads, an image built
   * from npm packages alone: no CUDA, no libtensorflow download). @default 'gpu'
   */
  readonly compute?: Compute;
  /** With compute 'gpu': families in SUPPORTED_GPU_FAMILIES (constructs/training-batch.ts). @default ['g4dn.xlarge'] */
  readonly gpuInstanceTypes?: string[];
  /** With compute 'cpu': x86 C, M or R families. @default ['c7i.xlarge', 'c6i.xlarge', 'c6a.xlarge'] */
  readonly cpuInstanceTypes?: string[];
  /** Run on spot first and fall back to on-demand; false: on-demand only. @default true */
  readonly spot?: boolean;
  /** Max vCPUs of each compute environment (4 per xlarge instance, so 8 = two jobs at once). @default 8 */
  readonly maxVcpus?: number;
  /** vCPUs reserved by one job (a g4dn/g5.xlarge has 4). @default 4 */
  readonly jobVcpus?: number;
  /** Memory of one job in MiB, below the smallest instance's RAM (g4dn.xlarge: 16 GiB, c7i.xlarge: 8 GiB). @default 14336 on GPU, 6144 on CPU */
  readonly jobMemoryMiB?: number;
  /** Wall-clock limit of one attempt. @default 4 hours */
  readonly jobTimeout?: Duration;
  /** Attempts per job, the first included; only spot reclaims are retried. @default 3 */
  readonly jobAttempts?: number;
  /** How long a job may wait for GPU capacity before it is cancelled. @default 2 hours */
  readonly runnableTimeout?: Duration;
  /** Retention of the job logs. @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** CloudFront edge locations. @default PRICE_CLASS_100 (North America, Europe) */
  readonly priceClass?: cloudfront.PriceClass;
  /** Cache time of /runs/index.json and manifests. @default 60 seconds */
  readonly indexCacheTtl?: Duration;
  /** The training image. @default the Docker image built from training/Dockerfile with the repository as context */
  readonly trainingImage?: ecs.ContainerImage;
}

export class GloStack extends Stack {
  readonly buckets: GloBuckets;
  readonly training: TrainingBatch;
  readonly trigger: DatasetTrigger;
  readonly hosting: SiteHosting;

  constructor(scope: Construct, id: string, props: GloStackProps = {}) {
    super(scope, id, {
      description: 'glo: GLO image generators trained on GPU AWS Batch when a dataset lands in S3, served with a static site',
      ...props,
    });

    this.buckets = new GloBuckets(this, 'Buckets');

    const compute = props.compute ?? 'gpu';
    const dockerfile = compute === 'gpu' ? TRAINING_DOCKERFILE : TRAINING_CPU_DOCKERFILE;
    this.training = new TrainingBatch(this, 'Training', {
      datasets: this.buckets.datasets,
      artifacts: this.buckets.artifacts,
      logsBucket: this.buckets.logs,
      image: props.trainingImage ?? ecs.ContainerImage.fromAsset(REPO_ROOT, { file: dockerfile, platform: Platform.LINUX_AMD64 }),
      compute,
      instanceTypes: compute === 'gpu' ? (props.gpuInstanceTypes ?? ['g4dn.xlarge']) : (props.cpuInstanceTypes ?? ['c7i.xlarge', 'c6i.xlarge', 'c6a.xlarge']),
      spot: props.spot ?? true,
      maxVcpus: props.maxVcpus ?? 8,
      jobVcpus: props.jobVcpus ?? 4,
      jobMemoryMiB: props.jobMemoryMiB ?? (compute === 'gpu' ? 14336 : 6144),
      jobTimeout: props.jobTimeout ?? Duration.hours(4),
      jobAttempts: props.jobAttempts ?? 3,
      runnableTimeout: props.runnableTimeout ?? Duration.hours(2),
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });

    this.trigger = new DatasetTrigger(this, 'Trigger', {
      datasets: this.buckets.datasets,
      jobQueue: this.training.jobQueue,
      jobDefinition: this.training.jobDefinition,
    });

    this.hosting = new SiteHosting(this, 'Hosting', {
      siteBucket: this.buckets.site,
      artifactsBucket: this.buckets.artifacts,
      logsBucket: this.buckets.logs,
      siteDist: this.resolveSiteDist(props.siteDist),
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      indexCacheTtl: props.indexCacheTtl ?? Duration.seconds(60),
    });

    // Read by the glo CLI (upload, runs, pull) from the stack "Glo": keep these names.
    new CfnOutput(this, 'DatasetsBucketName', { value: this.buckets.datasets.bucketName, description: 'glo upload puts datasets/<name>/ here' });
    new CfnOutput(this, 'ArtifactsBucketName', { value: this.buckets.artifacts.bucketName, description: 'Published runs, under runs/' });
    new CfnOutput(this, 'SiteUrl', { value: `https://${this.hosting.distribution.distributionDomainName}`, description: 'The site; runs under /runs/' });
    new CfnOutput(this, 'JobQueueName', { value: this.training.jobQueue.jobQueueName, description: 'Batch queue of the training jobs' });
    new CfnOutput(this, 'JobLogGroupName', { value: this.training.logGroup.logGroupName, description: 'aws logs tail <this> --follow' });
  }

  private resolveSiteDist(siteDist: string | undefined): string {
    const choice = chooseSiteDist(siteDist);
    if (choice.placeholder) {
      Annotations.of(this).addWarningV2('glo:site-placeholder',
        `${path.relative(REPO_ROOT, DEFAULT_SITE_DIST)} is not built: deploying the placeholder page from ` +
        `${path.relative(REPO_ROOT, SITE_PLACEHOLDER)} instead (it replaces any site already deployed). Build the site, then synth/deploy again.`);
    }
    return choice.dir;
  }
}

/**
 * The folder to deploy as the site: an explicit one must hold an index.html (a typo must not deploy an empty
 * site); the default site/dist falls back to the placeholder when it is not built, so a fresh clone synthesizes.
 */
export function chooseSiteDist(siteDist: string | undefined, defaultSiteDist = DEFAULT_SITE_DIST): { dir: string; placeholder: boolean } {
  if (siteDist != null) {
    if (!existsSync(path.join(siteDist, 'index.html'))) {
      throw new Error(`GloStack: siteDist ${siteDist} has no index.html. Build the site first, or leave siteDist unset to deploy the placeholder.`);
    }
    return { dir: siteDist, placeholder: false };
  }
  if (existsSync(path.join(defaultSiteDist, 'index.html'))) return { dir: defaultSiteDist, placeholder: false };
  return { dir: SITE_PLACEHOLDER, placeholder: true };
}
