import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { METRICS } from '../metrics';
import type { ResolvedConfig } from '../validation';
import { createDashboard } from './dashboard';

export interface AlarmsProps {
  readonly config: ResolvedConfig;
  readonly worker: lambda.IFunction;
  readonly dispatcher: lambda.IFunction;
  readonly jobQueue: sqs.IQueue;
  readonly jobDeadLetterQueue: sqs.IQueue;
  readonly dispatchDeadLetterQueue: sqs.IQueue;
  /** Encrypts the alarm topic, when the archive has a customer-managed key. */
  readonly key?: kms.Key;
  /** SES inbound, when on: its dead-letter queue, rejected objects and handler errors get alarms. */
  readonly sesInbound?: { readonly function: lambda.IFunction; readonly deadLetterQueue: sqs.IQueue };
}

/** A worker metric of the poller's namespace (or the dispatcher's, by its service), summed. */
export function pollerMetric(
  name: string,
  period: Duration,
  service: string = METRICS.workerService,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS.namespace,
    metricName: name,
    dimensionsMap: { service },
    statistic: cloudwatch.Stats.SUM,
    period,
  });
}

/**
 * Eight alarms (about $0.10 a month per metric: $0.30 for the three-metric "no successful poll",
 * so $1.00 in all), three more with SES inbound, an optional SNS topic (TLS only; encrypted with the archive's key when it has one) that they all
 * notify, and the dashboard when `dashboard` is on.
 */
export class Alarms {
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly topic?: sns.Topic;
  readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, props: AlarmsProps) {
    const { config } = props;
    this.alarms = createAlarms(scope, props);
    const topics: sns.ITopic[] = [];
    if (config.alarms.emails.length > 0) {
      this.topic = new sns.Topic(scope, 'AlarmTopic', {
        displayName: 'Pop3Poller alarms',
        enforceSSL: true,
        ...(props.key ? { masterKey: props.key } : {}),
      });
      if (props.key) {
        // CloudWatch publishes to the encrypted topic, for this account's alarms only.
        props.key.addToResourcePolicy(
          new iam.PolicyStatement({
            sid: 'CloudWatchAlarmsPublishToTopic',
            principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
            actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
            resources: ['*'],
            conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account } },
          }),
        );
      }
      for (const email of config.alarms.emails) {
        this.topic.addSubscription(new snsSubscriptions.EmailSubscription(email));
      }
      topics.push(this.topic);
    }
    if (config.alarms.topicArn) {
      topics.push(sns.Topic.fromTopicArn(scope, 'ExistingAlarmTopic', config.alarms.topicArn));
    }
    for (const alarm of this.alarms) {
      for (const topic of topics) {
        alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
        alarm.addOkAction(new cloudwatchActions.SnsAction(topic));
      }
    }
    if (config.dashboard) this.dashboard = createDashboard(scope, { ...props, alarms: this.alarms });
  }
}

function createAlarms(scope: Construct, props: AlarmsProps): cloudwatch.Alarm[] {
  return [
    ...pollerAlarms(scope, props),
    ...(props.sesInbound ? sesInboundAlarms(scope, props.sesInbound) : []),
  ];
}

/** Most alarms here: a count of one or more in a single period alarms; a period with no data does not. */
const AT_LEAST_ONE = {
  threshold: 1,
  evaluationPeriods: 1,
  comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
};

function sesInboundAlarms(scope: Construct, ses: NonNullable<AlarmsProps['sesInbound']>): cloudwatch.Alarm[] {
  const five = Duration.minutes(5);
  return [
    new cloudwatch.Alarm(scope, 'SesInboundDeadLetterQueueAlarm', {
      alarmDescription:
        'SES objects failed every retry (or their notification could not be delivered) and are in the SES ' +
        'inbound dead-letter queue. The objects are still where SES wrote them: fix the cause, then redrive.',
      metric: ses.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: five,
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      ...AT_LEAST_ONE,
    }),
    new cloudwatch.Alarm(scope, 'SesObjectsRejectedAlarm', {
      alarmDescription:
        'SES wrote an object that is not archived: not a valid message, or no recipient with an account. It is ' +
        'kept where SES wrote it; the SES inbound logs name it and why (needsAttention).',
      metric: pollerMetric(METRICS.sesObjectsRejected, five, METRICS.sesInboundService),
      ...AT_LEAST_ONE,
    }),
    new cloudwatch.Alarm(scope, 'SesInboundErrorsAlarm', {
      alarmDescription: 'The SES inbound Lambda failed (crash, timeout, out of memory, bad configuration).',
      metric: ses.function.metricErrors({ period: five, statistic: cloudwatch.Stats.SUM }),
      ...AT_LEAST_ONE,
    }),
  ];
}

/**
 * Successful polls per hour, or 1 (healthy) in an hour when nothing was to be polled:
 * `IF(dispatched + polls > 0, polls - failed, 1)`, each metric FILLed with 0 where it has no data.
 * - no mailboxes: the dispatcher reports 0 dispatched each tick and the worker never runs → 1;
 * - mailboxes whose polls all fail: polls = failed → 0, breaching;
 * - mailboxes dispatched and the worker never runs (or never reports): polls = 0 → 0, breaching.
 * Polls count as activity too, so a poll that fails in the hour after its dispatch still breaches.
 */
export function noSuccessfulPollExpression(period: Duration): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    label: 'Successful polls (1 when nothing was to be polled)',
    expression: 'IF(FILL(dispatched, 0) + FILL(polls, 0) > 0, FILL(polls, 0) - FILL(failed, 0), 1)',
    usingMetrics: {
      dispatched: pollerMetric(METRICS.jobsEnqueued, period, METRICS.dispatcherService),
      polls: pollerMetric(METRICS.polls, period),
      failed: pollerMetric(METRICS.pollErrors, period),
    },
    period,
  });
}

function pollerAlarms(scope: Construct, props: AlarmsProps): cloudwatch.Alarm[] {
  const { config } = props;
  const five = Duration.minutes(5);
  const hour = Duration.hours(1);
  const maxVisible = (queue: sqs.IQueue) =>
    queue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: cloudwatch.Stats.MAXIMUM });
  return [
    new cloudwatch.Alarm(scope, 'WorkerErrorsAlarm', {
      alarmDescription: 'The worker Lambda failed (crash, timeout, out of memory). See its logs.',
      metric: props.worker.metricErrors({ period: five, statistic: cloudwatch.Stats.SUM }),
      ...AT_LEAST_ONE,
    }),
    new cloudwatch.Alarm(scope, 'DispatcherErrorsAlarm', {
      alarmDescription: 'The dispatcher Lambda failed: scheduled polls may not have been enqueued.',
      metric: props.dispatcher.metricErrors({ period: five, statistic: cloudwatch.Stats.SUM }),
      ...AT_LEAST_ONE,
    }),
    new cloudwatch.Alarm(scope, 'JobDeadLetterQueueAlarm', {
      alarmDescription: 'Poll jobs failed every retry and are in the job dead-letter queue.',
      metric: maxVisible(props.jobDeadLetterQueue),
      ...AT_LEAST_ONE,
    }),
    new cloudwatch.Alarm(scope, 'DispatchDeadLetterQueueAlarm', {
      alarmDescription: 'Scheduled dispatches failed and are in the dispatch dead-letter queue.',
      metric: maxVisible(props.dispatchDeadLetterQueue),
      ...AT_LEAST_ONE,
    }),
    new cloudwatch.Alarm(scope, 'NeedsAttentionAlarm', {
      alarmDescription:
        'A mailbox fails in a way retrying will not fix (authentication, TLS, server refusal): ' +
        "search the worker logs for needsAttention, or list the registry's failed last polls.",
      metric: pollerMetric(METRICS.needsAttention, five),
      ...AT_LEAST_ONE,
    }),
    new cloudwatch.Alarm(scope, 'NoSuccessfulPollAlarm', {
      alarmDescription:
        `Mailboxes were dispatched or polled, and no poll has completed successfully, for ` +
        `${config.alarms.noSuccessHours} hour(s). A stack with no mailboxes does not alarm.`,
      metric: noSuccessfulPollExpression(hour),
      threshold: 1,
      evaluationPeriods: config.alarms.noSuccessHours,
      datapointsToAlarm: config.alarms.noSuccessHours,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      // FILL gives the expression a value in every hour with data (and the dispatcher reports every
      // run, 0 mailboxes included). An hour with no value at all is one with nothing dispatched or
      // polled: "empty", not "broken" (a dispatcher that fails raises DispatcherErrorsAlarm; jobs
      // no worker takes, JobQueueAgeAlarm).
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
    new cloudwatch.Alarm(scope, 'OrphanedMailboxesAlarm', {
      alarmDescription:
        'Registry mailboxes name a schedule group the stack does not have, so they are never polled: ' +
        'the dispatcher logs their ids (WARN); fix their schedule (pop3-poller mailboxes list marks them).',
      // The default group's run reports the count each tick; the worst of the hour.
      metric: pollerMetric(METRICS.orphanedMailboxes, hour, METRICS.dispatcherService).with({
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // Between the default group's ticks (which may be hours apart) the last state stands.
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    }),
    new cloudwatch.Alarm(scope, 'JobQueueAgeAlarm', {
      alarmDescription:
        'Jobs wait over an hour in the job queue: raise worker.maxConcurrency, or a shard is stuck.',
      metric: props.jobQueue.metricApproximateAgeOfOldestMessage({
        period: five,
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 3600,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
  ];
}
