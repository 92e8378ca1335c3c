import { stableEventId, type MessageArchivedDetail, type MessageMetadata, type PollEvent } from './events';

/**
 * What a "Message Archived" event is built from, apart from the message's own metadata: all of it
 * is recorded with the archived object (the S3 object's user metadata, the directory archive's
 * `archive-log.jsonl`), so replay (functions/replay) rebuilds the very event a poll or the SES
 * ingest sent, from the archive alone.
 */
export interface ArchivedMessage {
  readonly accountId: string;
  /** The UIDL the server gave it; null without UIDL (and for SES-received mail). */
  readonly uidl: string | null;
  /** SHA-256 (hex) of the archived bytes. */
  readonly sha256: string;
  readonly size: number;
  /** `s3://bucket/key`, `file:///…`. */
  readonly location: string;
  readonly key: string;
  /** When the archive first stored the bytes (StoredObject.archivedAt). */
  readonly archivedAt: Date;
  /** The event's source: the configured poller source, or `ses`. */
  readonly source: string;
}

/**
 * The "Message Archived" event of an archived message. The id is `stableEventId(accountId, uidl
 * or '', sha256)` — pinned by test/functions/poller/stable-ids.test.ts and documented in
 * infra/event-schema.json — and the event's time is the archive time, so a message fetched again,
 * delivered again, or replayed gets the same id and the same detail.
 */
export function messageArchivedEvent(
  message: ArchivedMessage,
  metadata: MessageMetadata,
): PollEvent<MessageArchivedDetail> {
  const eventId = stableEventId(message.accountId, message.uidl ?? '', message.sha256);
  const archivedAt = message.archivedAt.toISOString();
  const detail: MessageArchivedDetail = {
    eventId,
    accountId: message.accountId,
    uidl: message.uidl,
    sha256: message.sha256,
    size: message.size,
    location: message.location,
    key: message.key,
    ...metadata,
    archivedAt,
  };
  return { id: eventId, source: message.source, detailType: 'Message Archived', time: archivedAt, detail };
}
