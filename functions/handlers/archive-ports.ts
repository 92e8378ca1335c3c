import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '@aws-lambda-powertools/logger';
import { lazyArchive, lazyEventSink } from '../adapters/lazy-ports';
import type { ArchiveStore, EventSink } from '../poller/ports';
import type { ArchiveTarget } from './config';

/**
 * The S3 archive and the EventBridge sink of a Lambda that archives messages (the worker, the SES
 * inbound handler). Both adapters, and the SDK clients under them, are loaded on first use
 * (lazy-ports.ts), so an invocation that archives nothing loads neither.
 */
export function archivePorts(
  target: ArchiveTarget,
  clients: { s3(): Promise<S3Client>; eventBridge(): Promise<EventBridgeClient> },
  logger: Pick<Logger, 'warn'>,
): { archive: ArchiveStore; events: EventSink } {
  return {
    archive: lazyArchive(async () => {
      const { S3ArchiveStore } = await import('../adapters/s3-archive-store.js');
      return new S3ArchiveStore(await clients.s3(), {
        bucket: target.archiveBucket,
        prefix: target.archivePrefix,
        ...(target.archiveKmsKeyId !== undefined ? { kmsKeyId: target.archiveKmsKeyId } : {}),
      });
    }),
    events: lazyEventSink(async () => {
      const { EventBridgeSink } = await import('../adapters/eventbridge-sink.js');
      return new EventBridgeSink(await clients.eventBridge(), {
        eventBusName: target.eventBusName,
        // Ids, error code and message only: never an event's payload.
        onFailure: (failure) =>
          logger.warn('Events not published', {
            errorCode: failure.errorCode,
            errorMessage: failure.errorMessage,
            events: failure.ids.length,
          }),
      });
    }),
  };
}
