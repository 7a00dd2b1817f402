// The four buckets of the pipeline. Every one blocks public access, refuses plain HTTP and encrypts at rest;
// the three that hold data write S3 access logs to the fourth.
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface GloBucketsProps {
  /**
   * Days after which an unfinished multipart upload is aborted (a `glo upload` that died half-way leaves
   * invisible parts that are billed until then).
   * @default 7
   */
  readonly abortIncompleteUploadsAfterDays?: number;
  /**
   * Days to keep access logs (S3 server access logs, CloudFront standard logs, VPC flow logs).
   * @default 90
   */
  readonly accessLogExpirationDays?: number;
}

/** Where runs live inside the artifacts bucket: the job writes there, CloudFront serves it as /runs/*. */
export const RUNS_PREFIX = 'runs/';
/** Where datasets live inside the datasets bucket: `datasets/<name>/` with the images and `glo.json`. */
export const DATASETS_PREFIX = 'datasets/';

export class GloBuckets extends Construct {
  /** Images and job specs uploaded by `glo upload`; sends EventBridge events (the training trigger). */
  readonly datasets: s3.Bucket;
  /** Published runs under `runs/`, written by the job and served by CloudFront under /runs/*. */
  readonly artifacts: s3.Bucket;
  /** The static site (site/dist), written only by the BucketDeployment. */
  readonly site: s3.Bucket;
  /** Access logs of the other buckets, of CloudFront and of the VPC. */
  readonly logs: s3.Bucket;

  constructor(scope: Construct, id: string, props: GloBucketsProps = {}) {
    super(scope, id);
    const abortAfter = Duration.days(props.abortIncompleteUploadsAfterDays ?? 7);

    this.logs = new s3.Bucket(this, 'AccessLogs', {
      ...secureDefaults,
      // CloudFront standard logging writes with an ACL grant, so this one bucket must accept ACLs
      // (the bucket owner still owns every object). Public access stays blocked.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(props.accessLogExpirationDays ?? 90), abortIncompleteMultipartUploadAfter: abortAfter }],
    });
    Validations.of(this.logs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log destination itself; logging it into itself would log its own log writes forever.',
    });

    this.datasets = new s3.Bucket(this, 'Datasets', {
      ...secureDefaults,
      serverAccessLogsBucket: this.logs,
      serverAccessLogsPrefix: 's3/datasets/',
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: abortAfter }],
    });
    // EventBridge delivery (the training trigger) set on the bucket resource itself: the L2
    // `eventBridgeEnabled: true` applies it through a custom-resource Lambda, a moving part this needs not.
    (this.datasets.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };

    this.artifacts = new s3.Bucket(this, 'Artifacts', {
      ...secureDefaults,
      serverAccessLogsBucket: this.logs,
      serverAccessLogsPrefix: 's3/artifacts/',
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: abortAfter }],
    });

    this.site = new s3.Bucket(this, 'Site', {
      ...secureDefaults,
      serverAccessLogsBucket: this.logs,
      serverAccessLogsPrefix: 's3/site/',
    });
  }
}

// Datasets and runs are user data: the buckets outlive the stack (RETAIN), and `cdk destroy` says so.
const secureDefaults = {
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  enforceSSL: true,
  encryption: s3.BucketEncryption.S3_MANAGED,
  removalPolicy: RemovalPolicy.RETAIN,
} satisfies s3.BucketProps;
