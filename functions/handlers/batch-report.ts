import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { describeFailure } from '../poller/errors';
import type { AccountResult } from '../poller/poll-account';
import type { BatchJob } from './contract';
import type { BatchOutcome } from './poll-batch';

/**
 * What a batch leaves in the logs and metrics, kept lean for a fleet: one INFO line and one EMF
 * record per batch; a line of its own only for a mailbox that failed or archived mail. An empty,
 * healthy mailbox costs no log line — its last poll is in the registry (poll-batch.ts).
 */

export function reportBatch(
  logger: Logger,
  metrics: Metrics,
  job: BatchJob,
  outcome: BatchOutcome,
  context: { readonly messageId: string; readonly receiveCount: number },
): void {
  let failed = 0;
  let skipped = 0;
  let archived = 0;
  let bytes = 0;
  let backlog = 0;
  let needsAttention = 0;
  for (const { job: mailbox, result, followUp, refreshedSecret } of outcome.mailboxes) {
    archived += result.archived;
    bytes += result.bytes;
    backlog += result.remaining;
    const attention =
      (result.error?.needsAttention ?? false) || result.messageErrors.some((e) => e.needsAttention);
    if (attention) needsAttention++;
    if (result.status === 'skipped') skipped++;
    const line = {
      accountId: mailbox.accountId,
      ...summarise(result),
      ...(followUp ? { followUp: (mailbox.followUp ?? 0) + 1 } : {}),
      ...(refreshedSecret ? { refreshedSecret: true } : {}),
    };
    if (result.status === 'failed') {
      failed++;
      const log = attention ? logger.error.bind(logger) : logger.warn.bind(logger);
      log(attention ? 'Poll failed: needs attention' : 'Poll failed; the next tick polls again', {
        ...line,
        failure: result.error,
        needsAttention: attention,
      });
    } else if (attention) {
      logger.error('Poll completed, but some messages cannot be fetched: needs attention', {
        ...line,
        messageErrors: result.messageErrors,
        needsAttention: true,
      });
    } else if (result.archived > 0 || result.status === 'partial') {
      logger.info(
        result.status === 'partial' ? 'Poll completed with mail left for a later run' : 'Mail archived',
        {
          ...line,
          ...(result.messageErrors.length > 0 ? { messageErrors: result.messageErrors } : {}),
        },
      );
    }
  }
  if (outcome.seenFailure !== undefined) {
    logger.error('Keep-mode state not saved: those messages will be archived again', {
      failure: describeFailure(outcome.seenFailure),
    });
  }
  if (outcome.lastPollFailures > 0) {
    logger.warn('Last-poll records not written', { count: outcome.lastPollFailures });
  }
  if (outcome.followUpFailure !== undefined) {
    logger.warn('Follow-up job not sent; the next tick continues', { problem: outcome.followUpFailure });
  }
  const polls = outcome.mailboxes.length;
  logger.info('Batch polled', {
    messageId: context.messageId,
    receiveCount: context.receiveCount,
    shard: job.shard,
    mailboxes: polls,
    ok: polls - failed - skipped,
    failed,
    skipped,
    archived,
    bytes,
    backlog,
    followUps: outcome.mailboxes.filter((m) => m.followUp).length,
    ...(outcome.followUpSkipped ? { followUpSkipped: outcome.followUpSkipped } : {}),
    summaries: outcome.mailboxes.filter((m) => m.summaryPublished).length,
    lastPollWrites: outcome.mailboxes.filter((m) => m.lastPollWritten).length,
    durationMs: outcome.durationMs,
  });
  metrics.addMetric('Polls', MetricUnit.Count, polls);
  metrics.addMetric('PollErrors', MetricUnit.Count, failed);
  metrics.addMetric('NeedsAttention', MetricUnit.Count, needsAttention);
  metrics.addMetric('MessagesArchived', MetricUnit.Count, archived);
  metrics.addMetric('BytesArchived', MetricUnit.Bytes, bytes);
  metrics.addMetric('Backlog', MetricUnit.Count, backlog);
  metrics.publishStoredMetrics();
}

export function reportMalformed(logger: Logger, metrics: Metrics, messageId: string, problem: string): void {
  logger.error('Malformed poll job dropped', { messageId, problem, needsAttention: true });
  metrics.addMetric('PollErrors', MetricUnit.Count, 1);
  metrics.addMetric('NeedsAttention', MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
}

function summarise(result: AccountResult) {
  return {
    status: result.status,
    listed: result.listed,
    archived: result.archived,
    alreadyArchived: result.alreadyArchived,
    deleted: result.deleted,
    failedMessages: result.failedMessages,
    bytes: result.bytes,
    durationMs: result.durationMs,
    remaining: result.remaining,
    ...(result.stoppedBy !== undefined ? { stoppedBy: result.stoppedBy } : {}),
    ...(result.moreMayRemain ? { moreMayRemain: true } : {}),
  };
}
