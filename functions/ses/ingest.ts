import { Readable } from 'node:stream';
import { archiveKey } from '../poller/archive-key';
import { messageArchivedEvent } from '../poller/archived-event';
import type { MessageArchivedDetail, PollEvent } from '../poller/events';
import { readMetadata } from '../poller/metadata';
import { systemClock, type ArchiveStore, type Clock, type EventSink } from '../poller/ports';
import { Spool } from '../poller/spool';
import { SesInboundError } from './errors';
import { accountsOf, findRecipients, type Recipient, type RecipientRules } from './recipients';
import { DEFAULT_VALIDITY_LIMITS, inspectMessage, type ValidityLimits } from './ses-message';

/**
 * One object SES wrote, turned into archived messages and their "Message Archived" events, the
 * same as a poll makes of a message retrieved from a mailbox without UIDL: the same archive key
 * (`<account>/<sha256>.eml`), the same conditional, checksum-verified write, the same event built
 * by `messageArchivedEvent` from what the archive recorded (`uidl` null, `archivedAt` the store's),
 * metadata read from the same bytes by `readMetadata`. Only the envelope `source` differs.
 *
 * Idempotent: a notification delivered again finds each object already archived; the store returns
 * the `archivedAt` it was first stored with, so the event is the same, id and time included.
 *
 * The object itself is only read: never changed, moved or deleted.
 */

export interface SesObjectRef {
  readonly bucket: string;
  readonly key: string;
  /** The size the notification gives, when it gives one: checked before anything is read. */
  readonly size?: number;
}

export interface IngestDeps {
  /**
   * The object's bytes exactly as stored. Throws SesInboundError EINVALID past `maxBytes` (without
   * reading further), EGONE when the object is not there, EREAD on other failures.
   */
  read(ref: SesObjectRef, maxBytes: number): Promise<Buffer>;
  readonly archive: ArchiveStore;
  readonly events: EventSink;
  /** The archive time of a message archived now. @default systemClock */
  readonly clock?: Clock;
}

export interface IngestSettings {
  /** The envelope `source` of the events, and the `event-source` the archive records. */
  readonly eventSource: string;
  readonly rules: RecipientRules;
  /** @default DEFAULT_VALIDITY_LIMITS */
  readonly limits?: ValidityLimits;
}

export interface ArchivedCopy {
  readonly accountId: string;
  readonly key: string;
  readonly eventId: string;
  readonly alreadyExisted: boolean;
}

export interface IngestResult {
  readonly sha256: string;
  readonly size: number;
  readonly recipients: readonly Recipient[];
  readonly archived: readonly ArchivedCopy[];
  readonly events: readonly PollEvent<MessageArchivedDetail>[];
}

/**
 * Archives one SES object under each account its recipients map to, then publishes the events.
 * Throws SesInboundError for an object that can never be archived (EINVALID, EUNROUTABLE, EGONE:
 * not retryable) and for a read that failed (EREAD); archive errors (ArchiveError)
 * are thrown as they are (retryable or not), and an event that was not published is EEVENTS.
 */
export async function ingestSesObject(
  ref: SesObjectRef,
  deps: IngestDeps,
  settings: IngestSettings,
): Promise<IngestResult> {
  const limits = settings.limits ?? DEFAULT_VALIDITY_LIMITS;
  const where = `s3://${ref.bucket}/${ref.key}`;
  if (ref.size !== undefined && ref.size > limits.maxMessageBytes) {
    throw new SesInboundError(
      'EINVALID',
      `${where} is not a valid message: the object is ${ref.size} bytes, over the ${limits.maxMessageBytes}-byte limit`,
    );
  }
  const bytes = await deps.read(ref, limits.maxMessageBytes);
  const inspection = inspectMessage(bytes, limits);
  if (!inspection.valid) {
    throw new SesInboundError('EINVALID', `${where} is not a valid message: ${inspection.reason}`);
  }
  const recipients = findRecipients(inspection.fields, settings.rules);
  const accounts = accountsOf(recipients);
  if (accounts.length === 0) {
    const found = recipients.map((r) => r.address);
    throw new SesInboundError(
      'EUNROUTABLE',
      found.length > 0
        ? `${where}: no account for its recipient(s) ${found.join(', ')}`
        : `${where}: no recipient found (SES named none, and no To/Cc address is at one of your domains)`,
    );
  }

  // Hashed once; the spool holds the very Buffer read, which is never modified, and the archive
  // takes its digest from `hashedBuffers` instead of hashing (and copying) it again per account.
  const spool = Spool.fromBuffer(bytes);
  const metadata = await readMetadata(spool);
  const archived: ArchivedCopy[] = [];
  const events: PollEvent<MessageArchivedDetail>[] = [];
  // One archive time for the object's copies; a copy already archived keeps the time it was first
  // archived with (the store reports it), so a redelivery rebuilds the same event.
  const archivedAt = (deps.clock ?? systemClock).now();
  for (const accountId of accounts) {
    const key = archiveKey(accountId, spool.sha256);
    const stored = await deps.archive.put({
      key,
      accountId,
      sha256: spool.sha256,
      size: spool.size,
      archivedAt,
      body: () => Readable.from([bytes], { objectMode: false }),
      bytes,
      source: settings.eventSource,
    });
    if (stored.sha256 !== spool.sha256 || stored.size !== spool.size) {
      throw new SesInboundError(
        'EINTEGRITY',
        `${where}: the archive reports sha256 ${stored.sha256} (${stored.size} bytes) for an object read as ` +
          `${spool.sha256} (${spool.size} bytes)`,
      );
    }
    const event = messageArchivedEvent(
      {
        accountId,
        uidl: null,
        sha256: spool.sha256,
        size: spool.size,
        location: stored.location,
        key,
        archivedAt: stored.archivedAt,
        source: settings.eventSource,
      },
      metadata,
    );
    events.push(event);
    archived.push({ accountId, key, eventId: event.id, alreadyExisted: stored.alreadyExisted });
  }
  const { failedIds } = await deps.events.publish(events);
  if (failedIds.length > 0) {
    // Retried with the notification: the archive then finds every object there, the events are
    // the same (ids and times), and consumers de-duplicate the ones that did go out.
    throw new SesInboundError(
      'EEVENTS',
      `${where}: ${failedIds.length} of ${events.length} "Message Archived" event(s) not published`,
    );
  }
  return { sha256: spool.sha256, size: spool.size, recipients, archived, events };
}
