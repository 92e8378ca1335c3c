import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { DynamoDbRegistry } from '../adapters/dynamodb-registry';
import { SqsJobQueue } from '../adapters/sqs-job-queue';
import { readDispatcherConfig, readObservabilitySettings, type DispatcherConfig } from './config';
import { dispatch, type DispatchDeps } from './dispatch';
import { parseDispatchInput } from './jobs';

/**
 * The dispatcher Lambda: invoked by EventBridge Scheduler with a `DispatchInput`, it reads the
 * mailbox registry, and enqueues the tick's mailboxes as batch jobs on the FIFO job queue
 * (dispatch.ts; shards.ts says why no mailbox is ever polled by two sessions at once).
 *
 * De-duplication ids derive from the schedule's `scheduledTime` (or the invocation time), floored
 * to the minute, so a retried invocation enqueues nothing twice within SQS's 5-minute window. If
 * some jobs could not be enqueued, the invocation fails after enqueuing all it could, so Lambda's
 * retry of the asynchronous invocation sends them again.
 */

const observability = readObservabilitySettings();
const logger = new Logger({ serviceName: observability.serviceName });
// Dimensions: `service` only (see worker.ts for why account ids are never dimensions).
const metrics = new Metrics({ namespace: observability.namespace, serviceName: observability.serviceName });
const sqs = new SQSClient({});
const dynamodb = new DynamoDBClient({});

let runtime: { config: DispatcherConfig; deps: DispatchDeps } | undefined;

export interface DispatchResult {
  /** Mailboxes enqueued. */
  readonly jobs: number;
  readonly fromRegistry: number;
  /** SQS messages (batch jobs) enqueued. */
  readonly batches: number;
  /** The minute the de-duplication ids were made from, e.g. `2025-03-04T10:05Z`. */
  readonly scheduledMinute: string;
}

/** How many orphaned ids (and unknown group names) one WARN line names at most. */
const ORPHANS_LOGGED = 20;

export class DispatchError extends Error {
  override readonly name = 'DispatchError';
}

export async function handler(event: unknown, context: Context): Promise<DispatchResult> {
  logger.addContext(context);
  try {
    runtime ??= wire(readDispatcherConfig());
  } catch (error) {
    logger.error('Dispatcher configuration is invalid', { problem: (error as Error).message });
    throw error;
  }
  const parsed = parseDispatchInput(event);
  if (!parsed.ok) {
    logger.error('Dispatch input rejected', { problem: parsed.problem, needsAttention: true });
    throw new DispatchError(`invalid dispatch input: ${parsed.problem}`);
  }
  const { config, deps } = runtime;
  const outcome = await dispatch(
    parsed.value,
    {
      shards: config.shards,
      batchSize: config.batchSize,
      ...(config.scheduleGroups ? { scheduleGroups: config.scheduleGroups } : {}),
    },
    deps,
  );

  if (outcome.invalid.length > 0) {
    logger.error('Registry mailboxes left out: their records are invalid', {
      invalid: outcome.invalid.slice(0, 20),
      count: outcome.invalid.length,
      needsAttention: true,
    });
  }
  if (outcome.conflicts.length > 0) {
    logger.warn('Registry records ignored: the same ids are configured in the stack, which wins', {
      ids: outcome.conflicts.slice(0, 20),
      count: outcome.conflicts.length,
    });
  }
  if (outcome.orphaned && outcome.orphaned.length > 0) {
    // Ids and group names only: a record's other fields are never logged.
    logger.warn('Registry mailboxes never polled: their schedule names a group the stack does not have', {
      ids: outcome.orphaned.slice(0, ORPHANS_LOGGED).map((o) => o.id),
      unknownGroups: [...new Set(outcome.orphaned.map((o) => o.schedule))].sort().slice(0, ORPHANS_LOGGED),
      groups: [...config.scheduleGroups!].sort(),
      count: outcome.orphaned.length,
    });
  }
  const failedMailboxes = outcome.notEnqueued.reduce((n, f) => n + f.job.job.mailboxes.length, 0);
  const enqueued = outcome.mailboxes - failedMailboxes;
  metrics.addMetadata('scheduledMinute', outcome.scheduledMinute);
  // Mailboxes enqueued, every run, 0 included: the NoSuccessfulPoll alarm tells a stack with no
  // mailboxes (0) from one whose polls fail (infra/constructs/alarms.ts).
  metrics.addMetric('JobsEnqueued', MetricUnit.Count, enqueued);
  // Only the run that counts them (the default group's), so the alarm sees one value per tick.
  if (outcome.orphaned) metrics.addMetric('OrphanedMailboxes', MetricUnit.Count, outcome.orphaned.length);
  metrics.publishStoredMetrics();

  if (outcome.notEnqueued.length > 0) {
    const first = outcome.notEnqueued.slice(0, 5).map((f) => `${f.job.groupId}: ${f.code}`);
    logger.error('Jobs not enqueued', {
      mailboxes: outcome.mailboxes,
      enqueued,
      failed: outcome.notEnqueued.slice(0, 20).map((f) => ({
        group: f.job.groupId,
        mailboxes: f.job.job.mailboxes.length,
        code: f.code,
        message: f.message,
      })),
      needsAttention: true,
    });
    throw new DispatchError(
      `${outcome.notEnqueued.length} of ${outcome.batches} jobs (${failedMailboxes} mailboxes) could not be ` +
        `enqueued (${first.join(', ')}${outcome.notEnqueued.length > 5 ? ', …' : ''}); a retry of this invocation is safe`,
    );
  }
  logger.info('Jobs enqueued', {
    mailboxes: outcome.mailboxes,
    fromRegistry: outcome.fromRegistry,
    batches: outcome.batches,
    scheduledMinute: outcome.scheduledMinute,
  });
  return {
    jobs: enqueued,
    fromRegistry: outcome.fromRegistry,
    batches: outcome.batches,
    scheduledMinute: outcome.scheduledMinute,
  };
}

function wire(config: DispatcherConfig): { config: DispatcherConfig; deps: DispatchDeps } {
  return {
    config,
    deps: {
      queue: new SqsJobQueue(sqs, {
        queueUrl: config.jobQueueUrl,
        onRetry: (entries, code) => logger.warn('Re-sending jobs that were not enqueued', { entries, code }),
      }),
      ...(config.registryTable !== undefined
        ? { registry: new DynamoDbRegistry(dynamodb, config.registryTable) }
        : {}),
    },
  };
}
