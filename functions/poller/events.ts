import { createHash } from 'node:crypto';

/**
 * The events the poller emits. The envelope mirrors an EventBridge entry; `id` is computed from
 * what the event is about, so a message fetched again after an interrupted run gets the same id
 * and consumers can deduplicate on it.
 */

export const EVENT_SOURCE = 'pop3-poller';

export type DetailType = 'Message Archived' | 'Poll Completed' | 'Poll Failed';

export interface PollEvent<D = MessageArchivedDetail | PollSummaryDetail> {
  readonly id: string;
  readonly source: string;
  readonly detailType: DetailType;
  /** ISO 8601. */
  readonly time: string;
  readonly detail: D;
}

export interface Address {
  readonly name: string;
  readonly address: string;
}

export interface AttachmentInfo {
  readonly filename: string | null;
  readonly mimeType: string;
  readonly size: number;
}

/** What is read from a message's headers (and, for small messages, its MIME structure). */
export interface MessageMetadata {
  /** `complete`, `headers` (attachments not inspected: message too large) or `unavailable`. */
  readonly metadata: 'complete' | 'headers' | 'unavailable';
  readonly metadataError?: string;
  readonly subject: string | null;
  readonly from: Address | null;
  readonly to: readonly Address[];
  readonly cc: readonly Address[];
  /** The Date header as ISO 8601, when it parses. */
  readonly date: string | null;
  readonly messageId: string | null;
  readonly attachments: readonly AttachmentInfo[] | null;
}

export interface MessageArchivedDetail extends MessageMetadata {
  /** Same as the envelope id (EventBridge assigns its own id; this one is stable). */
  readonly eventId: string;
  readonly accountId: string;
  readonly uidl: string | null;
  /** SHA-256 (hex) of the archived bytes. */
  readonly sha256: string;
  readonly size: number;
  /** Where the message was archived, e.g. `s3://bucket/key` or `file:///…`. */
  readonly location: string;
  readonly key: string;
  /** When the archive stored the message (the same for every event of it, replayed ones too). */
  readonly archivedAt: string;
  /** Only on an event re-emitted from the archive (docs/replay.md); absent on the original. */
  readonly replay?: ReplayMarker;
}

/** Marks a replayed event: which replay run sent it, and when that run was asked for. */
export interface ReplayMarker {
  readonly runId: string;
  /** ISO 8601. */
  readonly requestedAt: string;
}

export interface PollSummaryDetail {
  readonly accountId: string;
  readonly runId: string;
  readonly status: 'ok' | 'partial' | 'skipped' | 'failed';
  readonly listed: number;
  readonly fetched: number;
  readonly archived: number;
  readonly deleted: number;
  readonly bytes: number;
  readonly durationMs: number;
  /** Messages left on the server for a later run (bounds reached, or failures). */
  readonly remaining: number;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly retryable?: boolean;
  readonly needsAttention?: boolean;
}

/** A deterministic id in UUID form from the parts that identify what an event is about. */
export function stableEventId(...parts: ReadonlyArray<string>): string {
  const hex = createHash('sha256').update(parts.join('\0')).digest('hex');
  // Shaped as an RFC 9562 version 8 (custom) UUID.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
