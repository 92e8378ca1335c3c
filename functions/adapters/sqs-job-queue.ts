import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { JobQueue, NotEnqueued, QueuedJob } from '../jobs/ports';
import { mapBounded } from '../poller/bounded';
import { sendWithEntryRetries, type EntryFailure } from './entry-retry';

/**
 * The job queue on an SQS FIFO queue. Jobs go out in SendMessageBatch requests of at most 10
 * entries and 256 KiB (SQS's limits), a few requests at a time; entries that failed inside a
 * successful response are sent again unless SQS calls them the sender's fault (entry-retry.ts:
 * whole-request failures are the SDK's to retry).
 */

const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;
const CONCURRENT_REQUESTS = 4;

export interface SqsJobQueueOptions {
  readonly queueUrl: string;
  /** For tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onRetry?: (entries: number, code: string) => void;
}

interface Entry {
  readonly job: QueuedJob;
  readonly body: string;
}

export class SqsJobQueue implements JobQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly options: SqsJobQueueOptions,
  ) {}

  async enqueue(jobs: readonly QueuedJob[]): Promise<NotEnqueued[]> {
    const entries = jobs.map((job) => ({ job, body: JSON.stringify(job.job) }));
    const results = await mapBounded(requests(entries), CONCURRENT_REQUESTS, (request) => this.send(request));
    return results.flat();
  }

  async delayRedelivery(receiptHandle: string, seconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.options.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }

  private async send(request: readonly Entry[]): Promise<NotEnqueued[]> {
    const failed = await sendWithEntryRetries(
      request,
      async (pending) => {
        const ids = new Map(pending.map((entry, i) => [String(i), entry]));
        const output = await this.client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: [...ids].map(([id, entry]): SendMessageBatchRequestEntry => ({
              Id: id,
              MessageBody: entry.body,
              MessageGroupId: entry.job.groupId,
              MessageDeduplicationId: entry.job.deduplicationId,
            })),
          }),
        );
        const failures = new Map<Entry, EntryFailure>();
        const succeeded = new Set((output.Successful ?? []).map((s) => s.Id));
        const errors = new Map((output.Failed ?? []).map((f) => [f.Id, f]));
        for (const [id, entry] of ids) {
          if (succeeded.has(id)) continue;
          const error = errors.get(id);
          failures.set(entry, {
            code: error?.Code ?? 'MissingResult',
            message: error?.Message ?? 'no result for this entry',
            // SenderFault: the entry itself is wrong, and sending it again cannot help.
            permanent: error?.SenderFault === true,
          });
        }
        return failures;
      },
      {
        ...(this.options.sleep ? { sleep: this.options.sleep } : {}),
        onRetry: (_round, entries, failure) => this.options.onRetry?.(entries, failure.code),
      },
    );
    return failed.map(({ entry, failure }) => ({
      job: entry.job,
      code: failure.code,
      message: failure.message,
    }));
  }
}

/** Entries packed, in order, into requests within SQS's entry and size limits. */
function requests(entries: readonly Entry[]): Entry[][] {
  const out: Entry[][] = [];
  let current: Entry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = Buffer.byteLength(entry.body, 'utf8');
    if (current.length > 0 && (current.length === MAX_ENTRIES || bytes + size > MAX_REQUEST_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
