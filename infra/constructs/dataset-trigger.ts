// The training trigger: an EventBridge rule on the datasets bucket's "Object Created" events that submits a
// Batch job when, and only when, a job spec `datasets/<name>/glo.json` is written. `glo upload` writes the spec
// last, so the images are all there when the job starts; uploading images alone starts nothing. No Lambda:
// the rule's input transformer turns the event into the job's parameters.
import { Duration } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Validations } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DATASETS_PREFIX } from './glo-buckets.ts';

export interface DatasetTriggerProps {
  readonly datasets: s3.IBucket;
  readonly jobQueue: batch.IJobQueue;
  readonly jobDefinition: batch.IJobDefinition;
}

/** The job spec's key pattern (EventBridge wildcard: `*` matches any characters, `/` included). */
export const JOB_SPEC_KEY_PATTERN = `${DATASETS_PREFIX}*/glo.json`;

export class DatasetTrigger extends Construct {
  readonly rule: events.Rule;
  /** Events EventBridge could not turn into a submitted job (after its retries) land here. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: DatasetTriggerProps) {
    super(scope, id);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the training rule target (EventBridge DLQs are not SQS redrive policies, which is what the rule looks for).',
    });

    this.rule = new events.Rule(this, 'JobSpecCreated', {
      description: `Submit a glo training job when ${JOB_SPEC_KEY_PATTERN} is created in the datasets bucket`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.datasets.bucketName] },
          object: { key: [{ wildcard: JOB_SPEC_KEY_PATTERN }] },
        },
      },
    });

    this.rule.addTarget(new targets.BatchJob(
      props.jobQueue.jobQueueArn, props.jobQueue,
      props.jobDefinition.jobDefinitionArn, props.jobDefinition,
      {
        jobName: 'glo-train',
        // Become the job parameters that fill Ref::bucket and Ref::key in the job definition's command.
        event: events.RuleTargetInput.fromObject({
          Parameters: {
            bucket: events.EventField.fromPath('$.detail.bucket.name'),
            key: events.EventField.fromPath('$.detail.object.key'),
          },
        }),
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 4,
        maxEventAge: Duration.hours(2),
      },
    ));
  }
}
