import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { ResolvedConfig } from '../validation';

/**
 * The FIFO job queue (message group = shard, so the jobs of one mailbox never run beside each
 * other), its FIFO dead-letter queue, and the dispatch dead-letter queue. All SSE-SQS, TLS only.
 */
export class Queues {
  readonly jobQueue: sqs.Queue;
  readonly jobDeadLetterQueue: sqs.Queue;
  /** Schedules the dispatcher could not be invoked for, and dispatcher invocations that failed. */
  readonly dispatchDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, config: ResolvedConfig) {
    this.jobDeadLetterQueue = new sqs.Queue(scope, 'JobDeadLetterQueue', {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // A FIFO message keeps its first enqueue time in the DLQ: keep it longer than the source.
      retentionPeriod: Duration.days(14),
    });
    this.jobQueue = new sqs.Queue(scope, 'JobQueue', {
      fifo: true,
      // The dispatcher and the worker set deduplication ids (shard, batch and scheduled time).
      contentBasedDeduplication: false,
      // High-throughput FIFO: quotas per message group (one per shard), not per queue.
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      // AWS's advice for a Lambda event source: at least 6× the function timeout.
      visibilityTimeout: Duration.seconds(6 * config.worker.timeoutSeconds),
      // A job is worth no more than the next scheduled run makes it.
      retentionPeriod: Duration.days(1),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.jobDeadLetterQueue, maxReceiveCount: config.worker.maxReceiveCount },
    });
    this.dispatchDeadLetterQueue = new sqs.Queue(scope, 'DispatchDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
  }
}
