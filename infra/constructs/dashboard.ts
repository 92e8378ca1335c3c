import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { METRICS } from '../metrics';
import { pollerMetric, type AlarmsProps } from './alarms';

/**
 * The dashboard ($3 a month; `dashboard: false` leaves it out): alarms, mail, polls, worker, queues,
 * and SES inbound when it is on.
 */
export function createDashboard(
  scope: Construct,
  props: AlarmsProps & { alarms: readonly cloudwatch.Alarm[] },
): cloudwatch.Dashboard {
  const five = Duration.minutes(5);
  const max = cloudwatch.Stats.MAXIMUM;
  const { worker, dispatcher, jobQueue } = props;
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', { defaultInterval: Duration.days(1) });
  dashboard.addWidgets(
    new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24, height: 3 }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Mail archived',
      left: [pollerMetric(METRICS.messagesArchived, five)],
      right: [pollerMetric(METRICS.bytesArchived, five)],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Polls',
      left: [
        pollerMetric(METRICS.polls, five),
        pollerMetric(METRICS.pollErrors, five).with({ label: 'Failed polls' }),
        pollerMetric(METRICS.needsAttention, five),
      ],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Messages left on servers (backlog)',
      left: [pollerMetric(METRICS.backlog, five).with({ statistic: max })],
      width: 8,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Worker invocations',
      left: [
        worker.metricInvocations({ period: five }),
        worker.metricErrors({ period: five }),
        worker.metricThrottles({ period: five }),
      ],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Worker duration',
      left: [
        worker.metricDuration({ period: five, statistic: cloudwatch.Stats.p(50) }),
        worker.metricDuration({ period: five, statistic: cloudwatch.Stats.p(99) }),
        worker.metricDuration({ period: five, statistic: max }),
      ],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Worker concurrency',
      left: [worker.metric('ConcurrentExecutions', { period: five, statistic: max })],
      width: 8,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Job queue',
      left: [
        jobQueue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: max }),
        jobQueue.metricApproximateNumberOfMessagesNotVisible({ period: five, statistic: max }),
      ],
      right: [jobQueue.metricApproximateAgeOfOldestMessage({ period: five, statistic: max })],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'Dead-letter queues and dispatcher',
      left: [
        props.jobDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: max }),
        props.dispatchDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: five,
          statistic: max,
        }),
      ],
      right: [
        pollerMetric(METRICS.jobsEnqueued, five, METRICS.dispatcherService),
        pollerMetric(METRICS.orphanedMailboxes, five, METRICS.dispatcherService).with({
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        dispatcher.metricErrors({ period: five }),
      ],
      width: 12,
    }),
  );
  if (props.sesInbound) {
    const ses = props.sesInbound;
    const sesMetric = (name: string) => pollerMetric(name, five, METRICS.sesInboundService);
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'SES inbound',
        left: [
          sesMetric(METRICS.sesMessagesArchived),
          sesMetric(METRICS.sesObjectsRejected),
          sesMetric(METRICS.sesObjectsRetried),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'SES inbound dead-letter queue and handler',
        left: [
          ses.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: max }),
        ],
        right: [ses.function.metricErrors({ period: five }), ses.function.metricDuration({ period: five })],
        width: 12,
      }),
    );
  }
  return dashboard;
}
