import { CfnOutput, Duration, RemovalPolicy, Stack, TimeZone } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { DispatchInput } from '../../functions/handlers/contract';
import type { ResolvedConfig, ResolvedSchedule } from '../validation';

export interface SchedulingProps {
  readonly config: ResolvedConfig;
  readonly dispatcher: lambda.IFunction;
  readonly dispatchDeadLetterQueue: sqs.IQueue;
}

/**
 * The schedule group, the one role its schedules invoke the dispatcher with (assumable by
 * Scheduler only, for this group), and a schedule per schedule group (split when its configured
 * accounts outgrow one input) and per account with a schedule of its own.
 */
export class Scheduling {
  readonly group: scheduler.ScheduleGroup;
  readonly role: iam.Role;
  readonly schedules: readonly scheduler.Schedule[];

  constructor(scope: Construct, props: SchedulingProps) {
    this.group = new scheduler.ScheduleGroup(scope, 'ScheduleGroup', {
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(scope, 'SchedulerRole', {
      description: 'Pop3Poller schedules: invoke the dispatcher',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': Stack.of(scope).account,
            'aws:SourceArn': this.group.scheduleGroupArn,
          },
        },
      }),
    });
    const schedules: scheduler.Schedule[] = [];
    for (const spec of props.config.schedules) {
      spec.chunks.forEach((jobs, i) => {
        const part = spec.chunks.length > 1 ? ` (part ${i + 1}/${spec.chunks.length})` : '';
        const scheduleId = `Schedule-${spec.key.replace(':', '-')}${spec.chunks.length > 1 ? `-${i + 1}` : ''}`;
        // The registry's mailboxes of a group are added by the dispatcher once per run, so only
        // the first part of a split group names it.
        const input = dispatchInput(spec, jobs, i === 0);
        schedules.push(
          new scheduler.Schedule(scope, scheduleId, {
            scheduleGroup: this.group,
            description: `${spec.description}${part}: ${jobs.length} configured account(s)`.slice(0, 512),
            schedule: scheduler.ScheduleExpression.expression(spec.expression, TimeZone.of(spec.timeZone)),
            enabled: spec.enabled,
            timeWindow:
              spec.flexibleWindowMinutes !== undefined
                ? scheduler.TimeWindow.flexible(Duration.minutes(spec.flexibleWindowMinutes))
                : scheduler.TimeWindow.off(),
            target: new schedulerTargets.LambdaInvoke(props.dispatcher, {
              role: this.role,
              input: scheduler.ScheduleTargetInput.fromObject(input),
              deadLetterQueue: props.dispatchDeadLetterQueue,
              retryAttempts: 5,
              // A dispatch later than this is superseded by the next run anyway.
              maxEventAge: Duration.minutes(15),
            }),
          }),
        );
      });
    }
    this.schedules = schedules;
    new CfnOutput(scope, SCHEDULE_GROUPS_OUTPUT, {
      description:
        "The schedule groups a registry record's schedule may name, as JSON (pop3-poller mailboxes add and import check against it)",
      value: JSON.stringify(scheduleGroupNames(props.config)),
    });
  }
}

/** The output the CLI reads the group names from (functions/cli/mailboxes/context.ts). */
export const SCHEDULE_GROUPS_OUTPUT = 'ScheduleGroups';

/** The stack's schedule group names (`scheduleGroups`), in configuration order. */
export function scheduleGroupNames(config: ResolvedConfig): string[] {
  return config.schedules.flatMap((s) => (s.registryGroup !== undefined ? [s.registryGroup] : []));
}

/** A schedule's input; Scheduler fills in the run's time, from which the dispatcher derives de-duplication ids. */
function dispatchInput(spec: ResolvedSchedule, jobs: DispatchInput['jobs'], first: boolean): DispatchInput {
  return {
    jobs,
    ...(spec.registryGroup !== undefined && first ? { registryGroup: spec.registryGroup } : {}),
    ...(spec.defaultGroup && first ? { defaultGroup: true } : {}),
    scheduledTime: scheduler.ContextAttribute.scheduledTime,
  };
}
