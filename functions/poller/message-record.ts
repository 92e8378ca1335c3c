import { archiveKey } from './archive-key';
import type { Candidate } from './mailbox';
import type { StoredObject } from './ports';
import type { Spool } from './spool';

/**
 * Where one retrieved message is on its way to a DELE. The states only move forward, each after
 * the step before it succeeded:
 *
 *   retrieved (spooled, hashed) → stored (archive verified against the hash) → announced (its
 *   "Message Archived" event published) → deletable (handed to the deleter)
 *
 * The deleter (deleter.ts) takes a message only when its record says announced, so no DELE can
 * be sent for a message not durably stored and announced, whichever path got it there.
 */
export type MessageState = 'retrieved' | 'stored' | 'announced' | 'deletable';

export class MessageRecord {
  state: MessageState = 'retrieved';
  /** Archive key, derived from the bytes: a re-fetch lands on the same object. */
  readonly key: string;
  /** Where the archive put it, once stored. */
  location = '';
  /** The archive already held exactly these bytes (a re-fetch after an interrupted run). */
  alreadyArchived = false;
  /** When the archive first stored these bytes, once stored (the event's `archivedAt`). */
  archivedAt: Date | undefined;
  /** Its "Message Archived" event id, once the event is made (derived from the UIDL and the bytes). */
  eventId = '';

  constructor(
    /** The message as listed: number, UIDL, LIST size, and whether it is an expired keep-mode one. */
    readonly candidate: Candidate,
    /** The bytes as received, with their SHA-256 and size. */
    readonly spool: Spool,
    accountId: string,
  ) {
    this.key = archiveKey(accountId, spool.sha256);
  }

  get messageNumber(): number {
    return this.candidate.messageNumber;
  }

  get uidl(): string | undefined {
    return this.candidate.uidl;
  }

  get sha256(): string {
    return this.spool.sha256;
  }

  get size(): number {
    return this.spool.size;
  }

  /** The archive holds exactly these bytes (verified by the archiver). */
  stored(object: StoredObject): void {
    this.advance('retrieved', 'stored');
    this.location = object.location;
    this.alreadyArchived = object.alreadyExisted;
    this.archivedAt = object.archivedAt;
  }

  /** Its event was published. */
  announced(): void {
    this.advance('stored', 'announced');
  }

  /**
   * Keep mode, an expired message whose exact bytes the archive already held: the run that archived
   * it announced it then (keep mode records a UIDL as seen only after its event is published).
   */
  announcedEarlier(): void {
    if (!this.alreadyArchived) throw new Error(`message ${this.messageNumber} was not archived before`);
    this.advance('stored', 'announced');
  }

  /** Handed to the deleter: its DELE may be sent. */
  deletable(): void {
    this.advance('announced', 'deletable');
  }

  private advance(from: MessageState, to: MessageState): void {
    // A guard on the workflow's own order, never expected to fire: a DELE must not follow a
    // failed or skipped step.
    if (this.state !== from) {
      throw new Error(`message ${this.messageNumber} cannot become ${to}: it is ${this.state}, not ${from}`);
    }
    this.state = to;
  }
}
