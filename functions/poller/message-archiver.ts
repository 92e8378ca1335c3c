import { PollError } from './errors';
import type { EventBatcher } from './event-batcher';
import { messageArchivedEvent } from './archived-event';
import type { MessageMetadata } from './events';
import type { MessageRecord } from './message-record';
import type { ArchiveStore, Clock, StoredObject } from './ports';

/**
 * The two steps between receiving a message and its DELE: store it (verified against the hash
 * computed as it arrived) and announce it (the "Message Archived" event). Each moves the message's
 * record on only when it succeeded, and throws otherwise.
 */
export class MessageArchiver {
  constructor(
    private readonly accountId: string,
    private readonly archive: ArchiveStore,
    private readonly batcher: EventBatcher,
    private readonly eventSource: string,
    private readonly clock: Clock,
  ) {}

  /** Puts the message in the archive and checks that what was stored is what was received. */
  async store(record: MessageRecord): Promise<void> {
    const { spool } = record;
    let stored: StoredObject;
    try {
      stored = await this.archive.put({
        key: record.key,
        accountId: this.accountId,
        ...(record.uidl !== undefined ? { uidl: record.uidl } : {}),
        sha256: spool.sha256,
        size: spool.size,
        archivedAt: this.clock.now(),
        source: this.eventSource,
        body: () => spool.body(),
        ...(spool.buffer ? { bytes: spool.buffer } : {}),
      });
    } catch (cause) {
      // Keep the store's own verdict when it gives one: a different object already at the key
      // (EINTEGRITY, not retryable) needs a person; a throttled service does not.
      const known = cause as { code?: unknown; retryable?: unknown };
      const code = known?.code === 'EINTEGRITY' ? 'EINTEGRITY' : 'EARCHIVE';
      throw new PollError(code, `archiving message ${record.messageNumber} failed: ${errorText(cause)}`, {
        cause,
        ...(typeof known?.retryable === 'boolean' ? { retryable: known.retryable } : {}),
      });
    }
    if (stored.sha256 !== spool.sha256 || stored.size !== spool.size) {
      throw new PollError(
        'EINTEGRITY',
        `archive reports sha256 ${stored.sha256} (${stored.size} octets) for a message received as ` +
          `${spool.sha256} (${spool.size} octets)`,
      );
    }
    record.stored(stored);
  }

  /**
   * Publishes the "Message Archived" event of a stored message. Resolves once it is published; the
   * caller then marks the record announced. (Not an async function: the batcher's own promise is
   * handed back, without a hop per message.)
   */
  publish(record: MessageRecord, metadata: MessageMetadata): Promise<void> {
    const event = messageArchivedEvent(
      {
        accountId: this.accountId,
        uidl: record.uidl ?? null,
        sha256: record.sha256,
        size: record.size,
        location: record.location,
        key: record.key,
        archivedAt: record.archivedAt!,
        source: this.eventSource,
      },
      metadata,
    );
    record.eventId = event.id;
    return this.batcher.publish(event);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
