import { rootCertificates } from 'node:tls';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import {
  lazyCredentialSource,
  lazyJobQueue,
  lazyLastPollWriter,
  lazySeenStore,
  onFirstUse,
  type FlushableSeenStore,
} from '../adapters/lazy-ports';
import { OAuth2TokenProvider } from '../adapters/oauth2-token-provider';
import { SecretTextCache } from '../adapters/secret-cache';
import { describeFailure } from '../poller/errors';
import type { ArchiveStore, CredentialSource, EventSink } from '../poller/ports';
import type { LastPollWriter } from '../registry/ports';
import { archivePorts } from './archive-ports';
import { reportBatch, reportMalformed } from './batch-report';
import { readObservabilitySettings, readWorkerConfig, type WorkerConfig } from './config';
import type { BatchJob } from './contract';
import type { JobQueue } from '../jobs/ports';
import { parseBatchJob } from './jobs';
import { pollBatch, type BatchDeps } from './poll-batch';
import { runtimeOrReport } from './runtime-or-report';
import { shardOf } from './shards';

/**
 * The worker Lambda: one batch job per SQS message (a shard's mailboxes, poll-batch.ts), wired to
 * S3, EventBridge, Secrets Manager (with a warm cache), the registry's last-poll records and the job
 * queue; reporting is in batch-report.ts.
 *
 * What happens to the SQS message afterwards: deleted once the batch ran, whatever each mailbox's
 * outcome (a failed mailbox is polled again at the next tick; its messages are safe on the server).
 * Only an unexpected failure of the whole job returns it in `batchItemFailures`, with its
 * visibility raised exponentially per receive (30 s, 60 s, … 15 min); after the queue's
 * maxReceiveCount it moves to the dead-letter queue. A malformed job is dropped and logged.
 *
 * The AWS adapters, and the SDK clients under them, are loaded on first use (lazy-ports.ts): a
 * cold start that only polls empty mailboxes loads the Secrets Manager client alone.
 *
 * Requires the event source mapping to have `ReportBatchItemFailures` enabled.
 */

const RETRY_BASE_SECONDS = 30;
const RETRY_MAX_SECONDS = 900;
/** Message bytes held in memory by a batch, shared out between its mailboxes (poll-batch.ts). */
const BATCH_MEMORY_BUDGET_BYTES = 160 * 1024 * 1024;

// Created once per execution environment and reused by every invocation it serves.
const observability = readObservabilitySettings();
const logger = new Logger({ serviceName: observability.serviceName });
/*
 * Metric dimensions stay low-cardinality: only `service`. Every distinct set of dimension values is
 * a separate CloudWatch custom metric, billed monthly; one EMF record per batch carries the sums.
 */
const metrics = new Metrics({ namespace: observability.namespace, serviceName: observability.serviceName });
const clients = {
  s3: onFirstUse(async () => new (await import('@aws-sdk/client-s3')).S3Client({})),
  sqs: onFirstUse(async () => new (await import('@aws-sdk/client-sqs')).SQSClient({})),
  eventBridge: onFirstUse(
    async () => new (await import('@aws-sdk/client-eventbridge')).EventBridgeClient({}),
  ),
  secretsManager: onFirstUse(
    async () => new (await import('@aws-sdk/client-secrets-manager')).SecretsManagerClient({}),
  ),
  dynamodb: onFirstUse(async () => new (await import('@aws-sdk/client-dynamodb')).DynamoDBClient({})),
};
/** OAuth 2.0 access tokens, cached for the life of the environment. */
const tokens = new OAuth2TokenProvider();

interface Runtime {
  readonly config: WorkerConfig;
  readonly archive: ArchiveStore;
  readonly events: EventSink;
  readonly queue: JobQueue;
  readonly registry: LastPollWriter | undefined;
  /** Keep mode's state store, one per batch (it collects the batch's changes until `flush`). */
  readonly seenStore: () => FlushableSeenStore;
  /** A credential source over the batch's secrets, reading each at most once. */
  readonly credentials: (
    secretIds: ReadonlyMap<string, string>,
    secretKeys: ReadonlyMap<string, string>,
  ) => CredentialSource;
  readonly secretTexts: SecretTextCache;
  readonly caPem: string | undefined;
}

let runtime: Runtime | undefined;

/** Reads and validates the environment once; a bad configuration fails every invocation clearly. */
function getRuntime(): Runtime {
  if (runtime) return runtime;
  const config = readWorkerConfig();
  const kms = config.archiveKmsKeyId !== undefined ? { kmsKeyId: config.archiveKmsKeyId } : {};
  const secretTexts = new SecretTextCache(config.secretCacheSeconds * 1000);
  runtime = {
    config,
    ...archivePorts(config, clients, logger),
    queue: lazyJobQueue(async () => {
      const { SqsJobQueue } = await import('../adapters/sqs-job-queue.js');
      return new SqsJobQueue(await clients.sqs(), { queueUrl: config.jobQueueUrl });
    }),
    registry:
      config.registryTable !== undefined
        ? lazyLastPollWriter(async () => {
            const { DynamoDbRegistry } = await import('../adapters/dynamodb-registry.js');
            return new DynamoDbRegistry(await clients.dynamodb(), config.registryTable!);
          })
        : undefined,
    seenStore: () =>
      lazySeenStore(async () => {
        const { S3SeenStore } = await import('../adapters/s3-seen-store.js');
        return new S3SeenStore(await clients.s3(), {
          bucket: config.archiveBucket,
          prefix: config.statePrefix,
          ...kms,
        });
      }),
    credentials: (secretIds, secretKeys) =>
      lazyCredentialSource(async () => {
        const { SecretsManagerCredentials } = await import('../adapters/secrets-manager-credentials.js');
        return new SecretsManagerCredentials(await clients.secretsManager(), secretIds, {
          tokens,
          entryKeys: (id) => secretKeys.get(id),
          textCache: secretTexts,
          // A rotated refresh token that could not be stored (e.g. a secret without the writeback tag).
          onWarning: (problem) => logger.error('Secret not updated', { problem, needsAttention: true }),
        });
      }),
    secretTexts,
    // An account's `caPem` replaces the trusted roots, so the extra CA is added to Node's own.
    caPem: config.extraCaPem !== undefined ? [...rootCertificates, config.extraCaPem].join('\n') : undefined,
  };
  return runtime;
}

export async function handler(event: { Records: SQSRecord[] }, context: Context): Promise<SQSBatchResponse> {
  logger.addContext(context);
  const rt = runtimeOrReport(getRuntime, logger, 'Worker configuration is invalid');
  const marginMs = rt.config.deadlineMarginSeconds * 1000;
  const failures: SQSBatchItemFailure[] = [];
  for (const [index, record] of event.Records.entries()) {
    // Later records are not started without time to run them; the first always runs.
    if (index > 0 && context.getRemainingTimeInMillis() <= marginMs) {
      failures.push({ itemIdentifier: record.messageId });
      continue;
    }
    if (!(await processRecord(rt, record, context))) failures.push({ itemIdentifier: record.messageId });
  }
  return { batchItemFailures: failures };
}

/** True when the message is done with (delete it), false to have SQS deliver it again. */
async function processRecord(rt: Runtime, record: SQSRecord, context: Context): Promise<boolean> {
  const parsed = parseBatchJob(record.body, (id) => shardOf(id, rt.config.shards));
  if (!parsed.ok) {
    // It can never succeed: retrying would only delay it on its way to the dead-letter queue.
    reportMalformed(logger, metrics, record.messageId, parsed.problem);
    return true;
  }
  try {
    await runBatch(rt, parsed.value, record, context);
    return true;
  } catch (error) {
    logger.error('Poll job failed unexpectedly', {
      messageId: record.messageId,
      failure: describeFailure(error),
      needsAttention: true,
    });
    await delayRetry(rt, record);
    return false;
  }
}

async function runBatch(rt: Runtime, job: BatchJob, record: SQSRecord, context: Context): Promise<void> {
  const { config } = rt;
  const receiveCount = receives(record);
  // When the invocation ends, read once: the deadline and the abort signal below are measured
  // from it, not from a clock read later (loading the adapters in between takes time).
  // (The clock first: a tick between the two reads then errs early, never late.)
  const now = Date.now();
  const endsAt = now + context.getRemainingTimeInMillis();
  const marginMs = config.deadlineMarginSeconds * 1000;
  const usesKeepMode = job.mailboxes.some((m) => m.mode === 'keep');
  const seen = usesKeepMode ? rt.seenStore() : undefined;
  const secretIds = new Map(job.mailboxes.map((m) => [m.accountId, m.secretId]));
  const secretKeys = new Map(job.mailboxes.map((m) => [m.accountId, m.secretKey ?? m.accountId]));
  const deps: BatchDeps = {
    archive: rt.archive,
    events: rt.events,
    ...(seen ? { seen, flushSeen: () => seen.flush() } : {}),
    queue: rt.queue,
    ...(rt.registry ? { lastPolls: rt.registry } : {}),
    secrets: {
      source: () => rt.credentials(secretIds, secretKeys),
      forgetIfCachedBefore: (accountId, time) => {
        const secretId = secretIds.get(accountId);
        const readAt = secretId !== undefined ? rt.secretTexts.readAt(secretId) : undefined;
        if (secretId === undefined || readAt === undefined || readAt >= time) return false;
        rt.secretTexts.forget(secretId);
        return true;
      },
    },
  };
  const outcome = await pollBatch(
    job,
    {
      runId: `${record.messageId}/${receiveCount}`,
      deadline: new Date(endsAt - marginMs),
      // Past the deadline no new message starts; a session still running a quarter of the margin
      // later is dropped without QUIT (the hard stop: EDEADLINE, nothing deleted in it), well
      // before Lambda ends the invocation; the signal, half-way through the margin, is the
      // backstop. (With DEADLINE_MARGIN_SECONDS 0 neither can act before the end.)
      hardStopGraceMs: marginMs / 4,
      signal: AbortSignal.timeout(Math.max(1, endsAt - marginMs / 2 - Date.now())),
      messageId: record.messageId,
    },
    {
      mailboxConcurrency: config.mailboxConcurrency,
      summaryEvents: config.summaryEvents,
      maxFollowUps: config.maxFollowUps,
      memoryBudgetBytes: BATCH_MEMORY_BUDGET_BYTES,
      ...(rt.caPem !== undefined ? { caPem: rt.caPem } : {}),
    },
    deps,
  );
  reportBatch(logger, metrics, job, outcome, { messageId: record.messageId, receiveCount });
}

/** Raises the message's visibility timeout so that SQS retries it with exponential backoff. */
async function delayRetry(rt: Runtime, record: SQSRecord): Promise<void> {
  const seconds = Math.min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (receives(record) - 1));
  try {
    await rt.queue.delayRedelivery(record.receiptHandle, seconds);
  } catch (error) {
    // The retry then comes after the queue's own visibility timeout.
    logger.warn('Could not delay the retry', { failure: describeFailure(error) });
  }
}

function receives(record: SQSRecord): number {
  const count = Number(record.attributes.ApproximateReceiveCount);
  return Number.isInteger(count) && count > 0 ? count : 1;
}
