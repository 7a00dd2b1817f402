// Cancels jobs that have waited RUNNABLE longer than the limit, whatever the reason. The queue's job-state time
// limits (training-batch.ts) cancel only a job Batch reports blocked in EVERY compute environment; a job waiting
// for spot capacity while the on-demand environment is merely idle, or on a zero quota, carries no such reason
// and would wait for ever. No Lambda: a Step Functions state machine calls Batch directly (AWS SDK
// integrations) every 10 minutes and decides with one JSONata expression, which the tests evaluate.
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

export interface RunnableSweeperProps {
  readonly jobQueue: batch.IJobQueue;
  /** A job RUNNABLE for longer than this is cancelled. */
  readonly maxRunnable: Duration;
  /** How often to look. @default 10 minutes */
  readonly every?: Duration;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The jobs of a Batch ListJobs result (as Step Functions returns it: PascalCase fields, CreatedAt in epoch ms)
 * created more than `maxMs` ago, always as an array (JSONata yields nothing, not [], for no match).
 */
export const staleJobsExpression = (maxMs: number) => `[$states.result.JobSummaryList[CreatedAt < $millis() - ${maxMs}]]`;

export class RunnableSweeper extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: RunnableSweeperProps) {
    super(scope, id);
    const maxMs = props.maxRunnable.toMilliseconds();
    const minutes = props.maxRunnable.toMinutes();
    const stack = Stack.of(this);

    // One page (up to 100 jobs) per run: more would be cancelled on the next runs, 10 minutes apart.
    const list = tasks.CallAwsService.jsonata(this, 'ListRunnableJobs', {
      service: 'batch',
      action: 'listJobs',
      parameters: { JobQueue: props.jobQueue.jobQueueArn, JobStatus: 'RUNNABLE' },
      iamResources: ['*'], // ListJobs has no resource-level permissions
      outputs: { stale: `{% ${staleJobsExpression(maxMs)} %}` },
    });
    const cancel = tasks.CallAwsService.jsonata(this, 'CancelJob', {
      service: 'batch',
      action: 'cancelJob',
      parameters: {
        JobId: '{% $states.input.JobId %}',
        Reason: `Waited RUNNABLE for more than ${minutes} minutes (glo:runnableTimeoutMinutes): no capacity or no quota for its instance types.`,
      },
      iamResources: [stack.formatArn({ service: 'batch', resource: 'job', resourceName: '*' })],
    });
    const each = new sfn.Map(this, 'EachStaleJob', {
      queryLanguage: sfn.QueryLanguage.JSONATA,
      items: sfn.ProvideItems.jsonata('{% $states.input.stale %}'),
      maxConcurrency: 5,
    }).itemProcessor(cancel);

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: 'glo: cancel training jobs RUNNABLE for too long',
      queryLanguage: sfn.QueryLanguage.JSONATA,
      definitionBody: sfn.DefinitionBody.fromChainable(list.next(each)),
      timeout: Duration.minutes(5),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'Logs', { retention: props.logRetention }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: true,
      },
    });
    for (const [findingId, reason] of Object.entries({
      'AwsSolutions-IAM5[Resource::*]': 'batch:ListJobs has no resource-level permissions; the list is of one queue, given as a parameter. (The CDK also grants X-Ray and log delivery on *, which those APIs require.)',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job/*]': 'Job ids are created by each upload; CancelJob is granted on this account and region\'s jobs only.',
    })) Validations.of(this.stateMachine.role).acknowledge({ id: findingId, reason });

    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'glo: look for training jobs RUNNABLE for too long',
      schedule: events.Schedule.rate(props.every ?? Duration.minutes(10)),
      targets: [new targets.SfnStateMachine(this.stateMachine)],
    });
  }
}
