import {
  SendMessageBatchCommand,
  SQSClient,
  type BatchResultErrorEntry,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { backoffMs, describeSdkError, errorName, isTransient, sleep } from '../adapters/sdk-errors';
import { readDispatcherConfig, readObservabilitySettings, type DispatcherConfig } from './config';
import type { PollJob } from './contract';
import { parseDispatchInput } from './jobs';

/**
 * The dispatcher Lambda: invoked by EventBridge Scheduler with a `DispatchInput`, it puts one
 * message per job on the FIFO job queue, where the worker picks them up.
 *
 * - `MessageGroupId` = the account id: SQS hands out one message of a group at a time, so a
 *   mailbox is never polled by two sessions at once (POP3 locks the maildrop anyway).
 * - `MessageDeduplicationId` = `<accountId>@<scheduled minute>`, from the input's `scheduledTime`
 *   (Scheduler's `<aws.scheduler.scheduled-time>`) or else the invocation time, floored to the
 *   minute: an invocation that is retried enqueues nothing twice within SQS's 5-minute
 *   de-duplication window.
 * - `SendMessageBatch` of up to 10 entries, a few batches at a time; entries that failed for a
 *   reason that can clear are sent again with backoff.
 *
 * A malformed input is rejected with an error that names each field at fault. If some jobs still
 * could not be enqueued, the invocation fails after enqueuing all it could, so Lambda's retry of
 * the asynchronous invocation sends them again (the de-duplication ids make that safe).
 */

const MAX_BATCH_ENTRIES = 10;
const CONCURRENT_BATCHES = 4;
const MAX_ATTEMPTS = 4;
const RETRY_BASE_DELAY_MS = 100;

const observability = readObservabilitySettings();
const logger = new Logger({ serviceName: observability.serviceName });
// Dimensions: `service` only (see worker.ts for why account ids are never dimensions).
const metrics = new Metrics({ namespace: observability.namespace, serviceName: observability.serviceName });
const sqs = new SQSClient({});

let config: DispatcherConfig | undefined;

export interface DispatchResult {
  readonly jobs: number;
  readonly enqueued: number;
  readonly batches: number;
  /** The minute the de-duplication ids were made from, e.g. `2025-03-04T10:05Z`. */
  readonly scheduledMinute: string;
}

export class DispatchError extends Error {
  override readonly name = 'DispatchError';
}

interface FailedEntry {
  readonly accountId: string;
  readonly code: string;
  readonly message: string;
}

export async function handler(event: unknown, context: Context): Promise<DispatchResult> {
  logger.addContext(context);
  try {
    config ??= readDispatcherConfig();
  } catch (error) {
    logger.error('Dispatcher configuration is invalid', { problem: (error as Error).message });
    throw error;
  }
  const parsed = parseDispatchInput(event);
  if (!parsed.ok) {
    logger.error('Dispatch input rejected', { problem: parsed.problem, needsAttention: true });
    throw new DispatchError(`invalid dispatch input: ${parsed.problem}`);
  }
  const { jobs, scheduledTime } = parsed.value;
  const scheduledMinute = toMinute(scheduledTime !== undefined ? new Date(scheduledTime) : new Date());

  const entries = jobs.map((job, i): SendMessageBatchRequestEntry & { accountId: string } => ({
    accountId: job.accountId,
    Id: String(i),
    MessageBody: JSON.stringify(scheduledJob(job)),
    MessageGroupId: job.accountId,
    // `@` cannot occur in an account id: `a@…` and `a-b@…` never collide.
    MessageDeduplicationId: `${job.accountId}@${scheduledMinute}`,
  }));
  const batches: Array<typeof entries> = [];
  for (let i = 0; i < entries.length; i += MAX_BATCH_ENTRIES) {
    batches.push(entries.slice(i, i + MAX_BATCH_ENTRIES));
  }

  const failed: FailedEntry[] = [];
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      failed.push(...(await sendBatch(config!.jobQueueUrl, batch)));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_BATCHES, batches.length) }, worker));

  const enqueued = jobs.length - failed.length;
  metrics.addMetadata('scheduledMinute', scheduledMinute);
  metrics.addMetric('JobsEnqueued', MetricUnit.Count, enqueued);
  metrics.addMetric('EnqueueFailures', MetricUnit.Count, failed.length);
  metrics.publishStoredMetrics();

  if (failed.length > 0) {
    logger.error('Jobs not enqueued', {
      jobs: jobs.length,
      enqueued,
      failed: failed.slice(0, 20),
      needsAttention: true,
    });
    throw new DispatchError(
      `${failed.length} of ${jobs.length} jobs could not be enqueued (${failed
        .slice(0, 5)
        .map((f) => `${f.accountId}: ${f.code}`)
        .join(', ')}${failed.length > 5 ? ', …' : ''}); a retry of this invocation is safe`,
    );
  }
  logger.info('Jobs enqueued', { jobs: jobs.length, batches: batches.length, scheduledMinute });
  return { jobs: jobs.length, enqueued, batches: batches.length, scheduledMinute };
}

/** A scheduled job starts a follow-up chain: `followUp` is the worker's to set. */
function scheduledJob(job: PollJob): PollJob {
  const { followUp: _followUp, ...rest } = job;
  return rest;
}

/** `2025-03-04T10:05Z`: the time floored to the minute. */
function toMinute(time: Date): string {
  return `${time.toISOString().slice(0, 16)}Z`;
}

/** Sends one batch, re-sending entries that failed transiently; returns those that finally failed. */
async function sendBatch(
  queueUrl: string,
  batch: ReadonlyArray<SendMessageBatchRequestEntry & { accountId: string }>,
): Promise<FailedEntry[]> {
  const failed: FailedEntry[] = [];
  let pending = batch;
  for (let attempt = 1; ; attempt++) {
    const retry: Array<{ entry: (typeof batch)[number]; code: string; message: string }> = [];
    try {
      const output = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: pending.map(({ accountId: _accountId, ...entry }) => entry),
        }),
      );
      const errors = new Map<string | undefined, BatchResultErrorEntry>(
        (output.Failed ?? []).map((f) => [f.Id, f]),
      );
      const succeeded = new Set((output.Successful ?? []).map((s) => s.Id));
      for (const entry of pending) {
        if (succeeded.has(entry.Id)) continue;
        const error = errors.get(entry.Id);
        const code = error?.Code ?? 'MissingResult';
        const message = error?.Message ?? 'no result for this entry';
        // SenderFault: the entry itself is wrong, and sending it again cannot help.
        if (error?.SenderFault) failed.push({ accountId: entry.accountId, code, message });
        else retry.push({ entry, code, message });
      }
    } catch (error) {
      const code = errorName(error);
      const message = describeSdkError(error);
      if (!isTransient(error)) {
        return [...failed, ...pending.map((entry) => ({ accountId: entry.accountId, code, message }))];
      }
      retry.push(...pending.map((entry) => ({ entry, code, message })));
    }
    if (retry.length === 0) return failed;
    if (attempt >= MAX_ATTEMPTS) {
      return [
        ...failed,
        ...retry.map((r) => ({ accountId: r.entry.accountId, code: r.code, message: r.message })),
      ];
    }
    logger.warn('Re-sending jobs that were not enqueued', {
      attempt,
      entries: retry.length,
      errorCode: retry[0]!.code,
    });
    pending = retry.map((r) => r.entry);
    await sleep(backoffMs(attempt, RETRY_BASE_DELAY_MS));
  }
}
