import { rootCertificates } from 'node:tls';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { EventBridgeSink } from '../adapters/eventbridge-sink';
import { OAuth2TokenProvider } from '../adapters/oauth2-token-provider';
import { S3ArchiveStore } from '../adapters/s3-archive-store';
import { S3SeenStore } from '../adapters/s3-seen-store';
import { SecretsManagerCredentials } from '../adapters/secrets-manager-credentials';
import type { AccountConfig } from '../poller/account';
import { describeFailure, type FailureReport } from '../poller/errors';
import type { AccountResult } from '../poller/poll-account';
import { pollAccounts } from '../poller/poll-accounts';
import { readObservabilitySettings, readWorkerConfig, type WorkerConfig } from './config';
import type { PollJob } from './contract';
import { parsePollJob } from './jobs';

/**
 * The worker Lambda: consumes poll jobs from the FIFO job queue (one per SQS message; batch size 1
 * is expected, but a batch is handled record by record) and polls each account once:
 *
 *   job → AccountConfig → pollAccounts([account]) with Secrets Manager credentials, the S3
 *   archive, the EventBridge sink and (keep mode) S3 state → flush state → metrics and logs →
 *   follow-up job if the run was cut short by a bound or the deadline
 *
 * What happens to the SQS message afterwards:
 * - done (ok, partial, skipped because the mailbox is busy or the server's LOGIN-DELAY): deleted;
 *   the next scheduled tick polls again.
 * - failed with a retryable error (connection, timeout, S3/EventBridge outage): reported in
 *   `batchItemFailures`, with its visibility timeout raised exponentially per receive (30 s, 60 s,
 *   … up to 15 min), so SQS retries it with backoff and, after the queue's maxReceiveCount, moves
 *   it to the dead-letter queue. Later records of the same message group in the batch are
 *   returned unprocessed, so one mailbox is never polled out of order.
 * - failed with a non-retryable error (EAUTH, ESYS_PERM, ETLS, ECREDENTIALS, ECONFIG) or a
 *   malformed job: deleted — retrying would only hammer the server or fail the same way — and
 *   logged at error level with `needsAttention: true`, with the NeedsAttention metric at 1.
 *
 * Logs carry only the workflow's results and `FailureReport`s (code, message, flags), never raw
 * error objects: the workflow never hands a secret over, and its error messages carry none.
 *
 * Requires the event source mapping to have `ReportBatchItemFailures` enabled.
 */

/** Bounds that leave messages for a follow-up job (an error is retried by SQS instead). */
const FOLLOW_UP_REASONS: ReadonlySet<string> = new Set([
  'deadline',
  'maxMessages',
  'maxBytes',
  'maxSessions',
]);
/** Retry backoff through the message's visibility timeout: 30 s × 2^(receives − 1), at most 15 min. */
const RETRY_BASE_SECONDS = 30;
const RETRY_MAX_SECONDS = 900;

// Created once per execution environment and reused by every invocation it serves.
const observability = readObservabilitySettings();
const logger = new Logger({ serviceName: observability.serviceName });
/*
 * Metric dimensions stay low-cardinality: only `service` (Powertools' default dimension). Every
 * distinct set of dimension values is a separate CloudWatch custom metric, billed monthly, so an
 * `AccountId` dimension would make 10,000 mailboxes × 7 metrics = 70,000 custom metrics. The
 * account id goes into each EMF record as metadata instead — a plain property of the log event,
 * searchable with CloudWatch Logs Insights (`filter accountId = "…"`), costing nothing as a metric.
 */
const metrics = new Metrics({ namespace: observability.namespace, serviceName: observability.serviceName });
const s3 = new S3Client({});
const sqs = new SQSClient({});
const eventBridge = new EventBridgeClient({});
const secretsManager = new SecretsManagerClient({});
/**
 * OAuth 2.0 access tokens, cached for the life of the execution environment: one token per app
 * registration serves every mailbox this environment polls until shortly before it expires.
 */
const tokens = new OAuth2TokenProvider();

interface Runtime {
  readonly config: WorkerConfig;
  readonly archive: S3ArchiveStore;
  readonly events: EventBridgeSink;
  /** The CAs to trust for mail servers, when EXTRA_CA_PEM adds one to Node's public roots. */
  readonly caPem: string | undefined;
}

let runtime: Runtime | undefined;

/** Reads and validates the environment once; a bad configuration fails every invocation clearly. */
function getRuntime(): Runtime {
  if (runtime) return runtime;
  const config = readWorkerConfig();
  runtime = {
    config,
    archive: new S3ArchiveStore(s3, {
      bucket: config.archiveBucket,
      prefix: config.archivePrefix,
      ...(config.archiveKmsKeyId !== undefined ? { kmsKeyId: config.archiveKmsKeyId } : {}),
    }),
    events: new EventBridgeSink(eventBridge, {
      eventBusName: config.eventBusName,
      onFailure: (failure) =>
        logger.warn('Events not published', {
          errorCode: failure.errorCode,
          errorMessage: failure.errorMessage,
          events: failure.ids.length,
        }),
    }),
    // An account's `caPem` replaces the trusted roots, so the extra CA is added to Node's own.
    caPem: config.extraCaPem !== undefined ? [...rootCertificates, config.extraCaPem].join('\n') : undefined,
  };
  return runtime;
}

type Outcome = 'done' | 'retry';

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  logger.addContext(context);
  let rt: Runtime;
  try {
    rt = getRuntime();
  } catch (error) {
    logger.error('Worker configuration is invalid', {
      failure: describeFailure(error),
      needsAttention: true,
    });
    throw error;
  }
  const marginMs = rt.config.deadlineMarginSeconds * 1000;
  if (context.getRemainingTimeInMillis() <= marginMs) {
    logger.warn('The function timeout leaves no time to poll: it must exceed DEADLINE_MARGIN_SECONDS', {
      remainingMs: context.getRemainingTimeInMillis(),
      deadlineMarginSeconds: rt.config.deadlineMarginSeconds,
    });
  }
  const failures: SQSBatchItemFailure[] = [];
  const failedGroups = new Set<string>();
  for (const [index, record] of event.Records.entries()) {
    const group = record.attributes.MessageGroupId;
    // FIFO: a later message of a group whose earlier message failed must not overtake it.
    const blocked = group !== undefined && failedGroups.has(group);
    // Later records are not started without time to run them; the first always runs.
    const outOfTime = index > 0 && context.getRemainingTimeInMillis() <= marginMs;
    let outcome: Outcome;
    if (blocked || outOfTime) {
      logger.info('Job returned to the queue unprocessed', {
        messageId: record.messageId,
        reason: blocked ? 'an earlier job of its message group failed' : 'not enough time left',
      });
      outcome = 'retry';
    } else {
      outcome = await processRecord(rt, record, context);
    }
    if (outcome === 'retry') {
      failures.push({ itemIdentifier: record.messageId });
      if (group !== undefined) failedGroups.add(group);
    }
  }
  return { batchItemFailures: failures };
}

async function processRecord(rt: Runtime, record: SQSRecord, context: Context): Promise<Outcome> {
  const parsed = parsePollJob(record.body);
  if (!parsed.ok) {
    // It can never succeed: retrying would only delay it on its way to the dead-letter queue.
    logger.error('Malformed poll job dropped', {
      messageId: record.messageId,
      problem: parsed.problem,
      needsAttention: true,
    });
    publishMetrics({ messageId: record.messageId }, { pollErrors: 1, needsAttention: 1 });
    return 'done';
  }
  const job = parsed.value;
  logger.appendPersistentKeys({ accountId: job.accountId, messageId: record.messageId });
  try {
    return await pollJob(rt, job, record, context);
  } catch (error) {
    // pollAccounts reports failures in its result: this is for the unexpected.
    const failure = describeFailure(error);
    logger.error('Poll job failed unexpectedly', { failure, needsAttention: true });
    publishMetrics({ accountId: job.accountId }, { pollErrors: 1, needsAttention: 1 });
    await delayRetry(rt, record);
    return 'retry';
  } finally {
    logger.removePersistentKeys(['accountId', 'messageId']);
  }
}

async function pollJob(rt: Runtime, job: PollJob, record: SQSRecord, context: Context): Promise<Outcome> {
  const { config } = rt;
  const receiveCount = receives(record);
  const runId = `${record.messageId}/${receiveCount}`;
  const remainingMs = context.getRemainingTimeInMillis();
  const marginMs = config.deadlineMarginSeconds * 1000;
  const deadline = new Date(Date.now() + remainingMs - marginMs);
  // Past the deadline the workflow starts no new message; if one transfer still runs on, the
  // session is cut half-way through the margin, leaving time to save state and report.
  const signal = AbortSignal.timeout(Math.max(1, remainingMs - marginMs / 2));
  const seen = new S3SeenStore(s3, {
    bucket: config.archiveBucket,
    prefix: config.statePrefix,
    ...(config.archiveKmsKeyId !== undefined ? { kmsKeyId: config.archiveKmsKeyId } : {}),
  });
  const deps = {
    credentials: new SecretsManagerCredentials(secretsManager, () => job.secretId, {
      tokens,
      // A rotated refresh token that could not be stored: this run is fine, but the stored one
      // may expire or be revoked before it is replaced (e.g. no secretsmanager:PutSecretValue).
      onWarning: (problem) => logger.error('Secret not updated', { problem, needsAttention: true }),
    }),
    archive: rt.archive,
    events: rt.events,
    seen,
  };
  // pollAccounts publishes the run's "Poll Completed" / "Poll Failed" summary event.
  const [result] = await pollAccounts([accountFor(job, rt.caPem)], deps, {
    runId,
    deadline,
    signal,
    accountConcurrency: 1,
  });
  if (result === undefined) throw new Error('pollAccounts returned no result');

  let failure: FailureReport | undefined = result.status === 'failed' ? result.error : undefined;
  try {
    // Keep mode: remember what was archived, whatever happened to the run.
    await seen.flush();
  } catch (error) {
    const report = describeFailure(error);
    logger.error('Keep-mode state not saved: those messages will be archived again', { failure: report });
    failure ??= report;
  }

  const messagesNeedAttention = result.messageErrors.some((e) => e.needsAttention);
  const needsAttention = (failure?.needsAttention ?? false) || messagesNeedAttention;
  publishMetrics(
    { accountId: job.accountId, runId },
    {
      archived: result.archived,
      bytes: result.bytes,
      deleted: result.deleted,
      pollErrors: failure ? 1 : 0,
      durationMs: result.durationMs,
      backlog: result.remaining,
      needsAttention: needsAttention ? 1 : 0,
    },
  );
  const summary = summarise(result, runId, receiveCount);

  if (result.status === 'skipped') {
    logger.info('Poll skipped: the mailbox is busy or the server asks to wait; next tick polls again', {
      ...summary,
      reason: result.error,
    });
    return 'done';
  }
  if (failure) {
    if (failure.retryable) {
      const log = failure.needsAttention ? logger.error.bind(logger) : logger.warn.bind(logger);
      log('Poll failed; SQS retries the job', {
        ...summary,
        failure,
        needsAttention: failure.needsAttention,
      });
      await delayRetry(rt, record);
      return 'retry';
    }
    logger.error('Poll failed and is not retried: needs attention', {
      ...summary,
      failure,
      needsAttention: true,
    });
    return 'done';
  }
  if (messagesNeedAttention) {
    logger.error('Poll completed, but some messages cannot be fetched: needs attention', {
      ...summary,
      messageErrors: result.messageErrors,
      needsAttention: true,
    });
  } else if (result.status === 'partial') {
    logger.warn('Poll completed with messages left for a later run', {
      ...summary,
      messageErrors: result.messageErrors,
    });
  } else {
    logger.info('Poll completed', summary);
  }
  await maybeFollowUp(rt, job, record, result);
  return 'done';
}

/**
 * Sends the next job at once when a bound or the deadline left messages, so a big mailbox drains
 * now. At a provider that lists part of the mailbox per session (Gmail) `remaining` can be 0 while
 * more waits unlisted (`moreMayRemain`). Never when the server asks for a LOGIN-DELAY: a FIFO queue
 * has no per-message delay (SQS refuses DelaySeconds on FIFO messages), so the next scheduled run
 * continues — schedule such accounts no more often than their LOGIN-DELAY (Gmail: 5 minutes).
 */
async function maybeFollowUp(rt: Runtime, job: PollJob, record: SQSRecord, result: AccountResult) {
  const more = result.remaining > 0 || result.moreMayRemain === true;
  const stoppedBy = result.stoppedBy;
  if (!more || stoppedBy === undefined || (!FOLLOW_UP_REASONS.has(stoppedBy) && stoppedBy !== 'loginDelay')) {
    return;
  }
  const done = job.followUp ?? 0;
  if (result.loginDelaySeconds || stoppedBy === 'loginDelay') {
    // FIFO queues have no per-message delay: a follow-up now would only be refused by the server.
    logger.info('No follow-up: the server asks for a LOGIN-DELAY; the next tick continues', {
      remaining: result.remaining,
      ...(result.moreMayRemain ? { moreMayRemain: true } : {}),
      loginDelaySeconds: result.loginDelaySeconds,
    });
    return;
  }
  if (done >= rt.config.maxFollowUps) {
    logger.warn('Follow-up limit reached; the next tick continues', {
      remaining: result.remaining,
      followUp: done,
      maxFollowUps: rt.config.maxFollowUps,
    });
    return;
  }
  const next: PollJob = { ...job, followUp: done + 1 };
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: rt.config.jobQueueUrl,
        MessageBody: JSON.stringify(next),
        // Same group: it runs after this job, never beside it.
        MessageGroupId: job.accountId,
        // One follow-up per job message, even if this message is processed twice. `@` cannot
        // occur in an account id, so this never collides with the dispatcher's `<id>@<time>`.
        MessageDeduplicationId: `${job.accountId}@f:${record.messageId}`,
      }),
    );
    logger.info('Follow-up job sent', { remaining: result.remaining, followUp: next.followUp });
  } catch (error) {
    // The messages are safe on the server; the next tick picks them up.
    logger.warn('Follow-up job not sent; the next tick continues', {
      remaining: result.remaining,
      failure: describeFailure(error),
    });
  }
}

/** Raises the message's visibility timeout so that SQS retries it with exponential backoff. */
async function delayRetry(rt: Runtime, record: SQSRecord): Promise<void> {
  const seconds = Math.min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (receives(record) - 1));
  try {
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: rt.config.jobQueueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  } catch (error) {
    // The retry then comes after the queue's own visibility timeout.
    logger.warn('Could not delay the retry', { failure: describeFailure(error) });
  }
}

function accountFor(job: PollJob, caPem: string | undefined): AccountConfig {
  // Host, port, TLS mode and username come from the account's secret (SecretsManagerCredentials).
  return {
    id: job.accountId,
    ...(job.provider !== undefined ? { provider: job.provider } : {}),
    // Unset stays unset: the workflow defaults to delete, except for Gmail `recent:` logins.
    ...(job.mode !== undefined ? { mode: job.mode } : {}),
    ...(job.deleteAfterDays !== undefined ? { deleteAfterDays: job.deleteAfterDays } : {}),
    ...(job.maxMessages !== undefined ? { maxMessages: job.maxMessages } : {}),
    ...(job.maxBytes !== undefined ? { maxBytes: job.maxBytes } : {}),
    ...(caPem !== undefined ? { caPem } : {}),
  };
}

function receives(record: SQSRecord): number {
  const count = Number(record.attributes.ApproximateReceiveCount);
  return Number.isInteger(count) && count > 0 ? count : 1;
}

function summarise(result: AccountResult, runId: string, receiveCount: number) {
  return {
    runId,
    receiveCount,
    status: result.status,
    listed: result.listed,
    fetched: result.fetched,
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

interface RunMetrics {
  readonly archived?: number;
  readonly bytes?: number;
  readonly deleted?: number;
  readonly pollErrors?: number;
  readonly durationMs?: number;
  readonly backlog?: number;
  readonly needsAttention?: number;
}

/** One EMF record per job, with the account id as metadata (see the note on dimensions above). */
function publishMetrics(metadata: Readonly<Record<string, string>>, m: RunMetrics): void {
  for (const [key, value] of Object.entries(metadata)) metrics.addMetadata(key, value);
  if (m.archived !== undefined) metrics.addMetric('MessagesArchived', MetricUnit.Count, m.archived);
  // Bytes retrieved from the server in this run (all of it archived unless the run reports failures).
  if (m.bytes !== undefined) metrics.addMetric('BytesArchived', MetricUnit.Bytes, m.bytes);
  if (m.deleted !== undefined) metrics.addMetric('MessagesDeleted', MetricUnit.Count, m.deleted);
  if (m.durationMs !== undefined) metrics.addMetric('PollDuration', MetricUnit.Milliseconds, m.durationMs);
  if (m.backlog !== undefined) metrics.addMetric('Backlog', MetricUnit.Count, m.backlog);
  metrics.addMetric('PollErrors', MetricUnit.Count, m.pollErrors ?? 0);
  metrics.addMetric('NeedsAttention', MetricUnit.Count, m.needsAttention ?? 0);
  metrics.publishStoredMetrics();
}
