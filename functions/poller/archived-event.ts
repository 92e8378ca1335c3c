// LOCAL STUB of the lead's archive-record contract (common.md); replaced by main's file on merge.
import { stableEventId, type MessageArchivedDetail, type MessageMetadata, type PollEvent } from './events';

export interface ArchivedMessage {
  readonly accountId: string;
  readonly uidl: string | null;
  readonly sha256: string;
  readonly size: number;
  readonly location: string;
  readonly key: string;
  readonly archivedAt: Date;
  readonly source: string;
}

export function messageArchivedEvent(
  m: ArchivedMessage,
  metadata: MessageMetadata,
): PollEvent<MessageArchivedDetail> {
  const eventId = stableEventId(m.accountId, m.uidl ?? '', m.sha256);
  const archivedAt = m.archivedAt.toISOString();
  return {
    id: eventId,
    source: m.source,
    detailType: 'Message Archived',
    time: archivedAt,
    detail: {
      eventId,
      accountId: m.accountId,
      uidl: m.uidl,
      sha256: m.sha256,
      size: m.size,
      location: m.location,
      key: m.key,
      ...metadata,
      archivedAt,
    },
  };
}
