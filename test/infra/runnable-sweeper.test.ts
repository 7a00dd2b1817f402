// The RUNNABLE sweeper: a schedule, a state machine that lists the queue's RUNNABLE jobs and cancels those older
// than glo:runnableTimeoutMinutes, and the one JSONata expression that decides, evaluated here by the jsonata
// library against ListJobs results as Step Functions returns them.
import jsonata from 'jsonata';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { staleJobsExpression } from '../../infra/constructs/runnable-sweeper.ts';
import { buildGloStack } from './synth.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const { stack } = buildGloStack({ context: { 'glo:runnableTimeoutMinutes': '90' } });
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, Json>;
const limitMs = 90 * 60_000;

/** The state machine's definition as text, with the CloudFormation joins flattened (tokens become "<ref>"). */
function definition(): Json {
  const [machine] = Object.values(resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  const join = machine.Properties.DefinitionString['Fn::Join'];
  return JSON.parse(join[1].map((part: Json) => (typeof part === 'string' ? part : '<ref>')).join(join[0]));
}

describe('the RUNNABLE sweeper', () => {
  it('runs every 10 minutes: list the queue\'s RUNNABLE jobs, cancel each stale one', () => {
    const schedules = Object.values(resources).filter((r) => r.Type === 'AWS::Events::Rule' && r.Properties.ScheduleExpression);
    expect(schedules.map((r) => r.Properties.ScheduleExpression)).toEqual(['rate(10 minutes)']);
    const states = definition();
    expect(states.QueryLanguage).toBe('JSONata');
    const list = states.States[states.StartAt];
    expect(list.Resource).toBe('arn:<ref>:states:::aws-sdk:batch:listJobs');
    expect(list.Arguments).toEqual({ JobQueue: '<ref>', JobStatus: 'RUNNABLE' });
    expect(list.Output).toEqual({ stale: `{% ${staleJobsExpression(limitMs)} %}` });
    const each = states.States[list.Next];
    expect(each.Type).toBe('Map');
    expect(each.Items).toBe('{% $states.input.stale %}');
    const cancel = each.ItemProcessor.States[each.ItemProcessor.StartAt];
    expect(cancel.Resource).toBe('arn:<ref>:states:::aws-sdk:batch:cancelJob');
    expect(cancel.Arguments.JobId).toBe('{% $states.input.JobId %}');
    expect(cancel.Arguments.Reason).toMatch(/RUNNABLE for more than 90 minutes/);
  });

  it('may list jobs and cancel jobs, nothing else of Batch', () => {
    const machineRole = Object.values(resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine')!.Properties.RoleArn['Fn::GetAtt'][0];
    const policies = Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((role: Json) => role.Ref === machineRole));
    const batchActions = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).flatMap((s: Json) => [s.Action].flat()).filter((a: string) => a.startsWith('batch:'));
    expect(batchActions.sort()).toEqual(['batch:cancelJob', 'batch:listJobs']);
  });

  it('picks exactly the jobs created before the limit, and an empty list when there are none', async () => {
    const expression = jsonata(staleJobsExpression(limitMs));
    const now = Date.now();
    const result = (jobs: { JobId: string; CreatedAt: number }[] | undefined) =>
      expression.evaluate({}, { states: { result: jobs === undefined ? {} : { JobSummaryList: jobs } } });
    const old = { JobId: 'old', JobName: 'a', CreatedAt: now - limitMs - 60_000 };
    const older = { JobId: 'older', JobName: 'b', CreatedAt: now - 5 * limitMs };
    const fresh = { JobId: 'fresh', JobName: 'c', CreatedAt: now - limitMs + 60_000 };
    expect(await result([old, fresh, older])).toEqual([old, older]);
    expect(await result([old])).toEqual([old]); // one match is still a list
    expect(await result([fresh])).toEqual([]);
    expect(await result([])).toEqual([]);
    expect(await result(undefined)).toEqual([]);
  });
});
