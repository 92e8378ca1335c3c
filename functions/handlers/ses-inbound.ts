import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { onFirstUse } from '../adapters/lazy-ports';
import { describeFailure } from '../poller/errors';
import type { ArchiveStore, EventSink } from '../poller/ports';
import { SesInboundError, isSesInboundError } from '../ses/errors';
import { ingestSesObject, type SesObjectRef } from '../ses/ingest';
import type { RecipientRules } from '../ses/recipients';
import { DEFAULT_VALIDITY_LIMITS, type ValidityLimits } from '../ses/ses-message';
import { archivePorts } from './archive-ports';
import { readObservabilitySettings, readSesInboundConfig, type SesInboundConfig } from './config';
import { runtimeOrReport } from './runtime-or-report';
import { parseObjectCreated } from './s3-notification';

/**
 * The SES inbound Lambda: each object SES's receipt rule writes (S3 → EventBridge → SQS, one
 * notification per message) becomes archived messages and "Message Archived" events exactly as a
 * poll makes them (functions/ses/ingest.ts), with the configured event `source` (`ses`).
 *
 * What happens to each SQS message afterwards (partial batch responses):
 * - archived, or already archived (a redelivery): deleted;
 * - an object that can never be archived — not a valid message, no recipient with an account, no
 *   longer there — is reported (an ERROR line naming the bucket, the key and why, `needsAttention`,
 *   and the `SesObjectsRejected` metric) and deleted: retrying cannot change it, and the object stays
 *   where SES wrote it;
 * - any other failure (S3 or EventBridge unavailable, throttled, denied) is returned in
 *   `batchItemFailures`: SQS delivers it again after the queue's visibility timeout, and after
 *   the queue's maxReceiveCount moves it to the dead-letter queue, whose alarm calls a person.
 *   The other messages of the batch are not held back by it.
 *
 * Records are handled one after another, so at most one message (≤ 40 MB) is in memory at once.
 * The S3 and EventBridge clients are loaded on first use, as the worker's are (archive-ports.ts).
 *
 * Requires the event source mapping to have `ReportBatchItemFailures` enabled.
 */

/** SES writes this object when a receipt rule's S3 action is saved, to check it may write. */
const SETUP_NOTIFICATION = 'AMAZON_SES_SETUP_NOTIFICATION';

const observability = readObservabilitySettings();
const logger = new Logger({ serviceName: observability.serviceName });
const metrics = new Metrics({ namespace: observability.namespace, serviceName: observability.serviceName });
const clients = {
  s3: onFirstUse(async () => new (await import('@aws-sdk/client-s3')).S3Client({})),
  eventBridge: onFirstUse(
    async () => new (await import('@aws-sdk/client-eventbridge')).EventBridgeClient({}),
  ),
};

interface Runtime {
  readonly config: SesInboundConfig;
  readonly rules: RecipientRules;
  readonly limits: ValidityLimits;
  readonly archive: ArchiveStore;
  readonly events: EventSink;
  read(ref: SesObjectRef, maxBytes: number): Promise<Buffer>;
}

let runtime: Runtime | undefined;

function getRuntime(): Runtime {
  if (runtime) return runtime;
  const config = readSesInboundConfig();
  runtime = {
    config,
    rules: { recipients: config.recipients, unmapped: config.unmapped, domains: config.domains },
    limits: { ...DEFAULT_VALIDITY_LIMITS, maxMessageBytes: config.maxMessageBytes },
    ...archivePorts(config, clients, logger),
    read: async (ref, maxBytes) => {
      const { readObjectBytes } = await import('../adapters/s3-object-reader.js');
      const where = `s3://${ref.bucket}/${ref.key}`;
      let result;
      try {
        result = await readObjectBytes(await clients.s3(), ref.bucket, ref.key, maxBytes);
      } catch (error) {
        throw new SesInboundError('EREAD', error instanceof Error ? error.message : String(error), {
          cause: error,
        });
      }
      if (result.status === 'missing') throw new SesInboundError('EGONE', `${where} is not there`);
      if (result.status === 'too-large') {
        throw new SesInboundError(
          'EINVALID',
          `${where} is not a valid message: the object is ${result.size ?? 'more than ' + maxBytes} bytes, ` +
            `over the ${maxBytes}-byte limit`,
        );
      }
      return result.bytes;
    },
  };
  return runtime;
}

interface Tally {
  archived: number;
  rejected: number;
  retried: number;
}

export async function handler(event: { Records: SQSRecord[] }, context: Context): Promise<SQSBatchResponse> {
  logger.addContext(context);
  const rt = runtimeOrReport(getRuntime, logger, 'SES inbound configuration is invalid');
  const failures: SQSBatchItemFailure[] = [];
  const tally: Tally = { archived: 0, rejected: 0, retried: 0 };
  for (const record of event.Records) {
    if (!(await processRecord(rt, record, tally))) failures.push({ itemIdentifier: record.messageId });
  }
  metrics.addMetric('SesMessagesArchived', MetricUnit.Count, tally.archived);
  metrics.addMetric('SesObjectsRejected', MetricUnit.Count, tally.rejected);
  metrics.addMetric('SesObjectsRetried', MetricUnit.Count, tally.retried);
  metrics.publishStoredMetrics();
  return { batchItemFailures: failures };
}

/** True when the notification is done with (delete it), false to have SQS deliver it again. */
async function processRecord(rt: Runtime, record: SQSRecord, tally: Tally): Promise<boolean> {
  const parsed = parseObjectCreated(record.body);
  if (!parsed.ok) {
    // It can never succeed: retrying would only delay it on its way to the dead-letter queue.
    logger.error('Malformed notification dropped', {
      messageId: record.messageId,
      problem: parsed.problem,
      needsAttention: true,
    });
    tally.rejected++;
    return true;
  }
  const { bucket, key, size } = parsed.object;
  const { config } = rt;
  if (bucket !== config.sesBucket || !key.startsWith(config.sesPrefix)) {
    logger.warn('Notification for an object outside the SES prefix ignored', { bucket, key });
    return true;
  }
  if (key.slice(config.sesPrefix.length) === SETUP_NOTIFICATION) {
    logger.info('SES setup notification object ignored', { bucket, key });
    return true;
  }
  try {
    const result = await ingestSesObject(
      { bucket, key, ...(size !== undefined ? { size } : {}) },
      { read: (ref, max) => rt.read(ref, max), archive: rt.archive, events: rt.events },
      { eventSource: config.eventSource, rules: rt.rules, limits: rt.limits },
    );
    tally.archived += result.archived.length;
    logger.info('SES message archived', {
      bucket,
      key,
      sha256: result.sha256,
      size: result.size,
      accounts: result.archived.map((a) => a.accountId),
      alreadyArchived: result.archived.filter((a) => a.alreadyExisted).length,
      eventIds: result.events.map((e) => e.id),
    });
    return true;
  } catch (error) {
    const failure = describeFailure(error);
    if (isSesInboundError(error) && !error.retryable) {
      logger.error('SES object not archived: kept where SES wrote it', {
        bucket,
        key,
        code: failure.code,
        reason: failure.message,
        needsAttention: true,
      });
      tally.rejected++;
      return true;
    }
    // Anything else comes back through SQS. A failure no retry can fix (a different object at
    // the archive key, say) still goes that way, to end in the dead-letter queue with its alarm:
    // the object is kept, and redriving the DLQ processes it once a person has fixed the cause.
    const log = failure.retryable ? logger.warn.bind(logger) : logger.error.bind(logger);
    log('SES object not archived yet; its notification is retried', {
      bucket,
      key,
      messageId: record.messageId,
      receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
      failure,
      ...(failure.retryable ? {} : { needsAttention: true }),
    });
    tally.retried++;
    return false;
  }
}
