import { CfnOutput, Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { EVENT_SOURCE } from '../../functions/poller/events';
import type { ResolvedConfig } from '../validation';

/**
 * The event bus (a custom one, or the account's default), its replay archive and the example rule,
 * for the poller's events and, with SES inbound, those of its source too.
 */
export class Events {
  readonly bus: events.IEventBus;
  /** The example rule's target, when `eventBus.exampleRule` is on. */
  readonly sampleQueue?: sqs.Queue;

  constructor(scope: Construct, config: ResolvedConfig) {
    const sources = [EVENT_SOURCE, ...(config.sesInbound ? [config.sesInbound.eventSource] : [])];
    this.bus =
      config.eventBus.type === 'custom'
        ? new events.EventBus(scope, 'EventBus', { description: 'Pop3Poller events (source pop3-poller)' })
        : events.EventBus.fromEventBusName(scope, 'DefaultEventBus', 'default');
    if (config.eventBus.archiveRetentionDays > 0) {
      const archive = new events.Archive(scope, 'EventArchive', {
        sourceEventBus: this.bus,
        eventPattern: { source: sources },
        retention: Duration.days(config.eventBus.archiveRetentionDays),
        description: 'Pop3Poller events, for replay',
      });
      new CfnOutput(scope, 'EventArchiveArn', {
        description: 'Replay events with: aws events start-replay --event-source-arn <this>',
        value: archive.archiveArn,
      });
    }
    if (config.eventBus.exampleRule) {
      this.sampleQueue = new sqs.Queue(scope, 'MessageArchivedSampleQueue', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(4),
      });
      new events.Rule(scope, 'MessageArchivedRule', {
        eventBus: this.bus,
        description: 'Example: every archived message, to a sample queue. Point your workflow here.',
        eventPattern: { source: sources, detailType: ['Message Archived'] },
        targets: [new eventsTargets.SqsQueue(this.sampleQueue)],
      });
      new CfnOutput(scope, 'SampleQueueUrl', {
        description: 'Receives every "Message Archived" event (example rule)',
        value: this.sampleQueue.queueUrl,
      });
    }
  }
}
