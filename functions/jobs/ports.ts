import type { BatchJob } from './job';

/**
 * The job queue as the handlers see it: the dispatcher enqueues a tick's batches, the worker
 * enqueues follow-ups and delays the redelivery of a job it could not finish. The SQS FIFO adapter
 * is functions/adapters/sqs-job-queue.ts; the handlers wire it, so the port lives here, where both
 * may import it (eslint.config.mjs, MAY_IMPORT), not in handlers/.
 */

export interface QueuedJob {
  readonly job: BatchJob;
  /** The FIFO message group: the shard's (functions/handlers/shards.ts), so a mailbox's jobs never overlap. */
  readonly groupId: string;
  /** Makes a retried send harmless within SQS's 5-minute de-duplication window. */
  readonly deduplicationId: string;
}

export interface NotEnqueued {
  readonly job: QueuedJob;
  readonly code: string;
  readonly message: string;
}

export interface JobQueue {
  /** Enqueues every job it can; returns those it could not, with why. Never throws for an outage. */
  enqueue(jobs: readonly QueuedJob[]): Promise<NotEnqueued[]>;
  /** Delays the redelivery of a received job (its visibility timeout) by `seconds`. */
  delayRedelivery(receiptHandle: string, seconds: number): Promise<void>;
}
