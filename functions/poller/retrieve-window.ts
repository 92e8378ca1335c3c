import type { Deleter } from './deleter';
import type { Candidate } from './mailbox';
import type { MailboxSession, MessageBody } from './ports';

/** A message whose RETR has been sent, and the server's answer to come. */
export interface Requested {
  readonly candidate: Candidate;
  readonly body: Promise<MessageBody>;
}

/**
 * The RETRs pipelined ahead of the message being read, within a count and an octet bound (by LIST
 * sizes; one message is always requested, whatever its size). The unread replies wait in the
 * socket, not in memory: the client stops reading while a message's stream is full.
 */
export class RetrieveWindow {
  private readonly requested: Requested[] = [];
  /** The next message of the plan to request. */
  private next = 0;
  private bytesAhead = 0;

  constructor(
    private readonly mailbox: MailboxSession,
    private readonly plan: readonly Candidate[],
    private readonly ahead: number,
    private readonly aheadBytes: number,
    /** Its queued DELEs go out in the same write as the RETRs. */
    private readonly deleter: Deleter,
    /** Whether a new message may be started now (false at a failure, the deadline or a stop). */
    private readonly mayStart: () => boolean,
  ) {}

  /** The next message requested, in the order requested; undefined when none is outstanding. */
  take(): Requested | undefined {
    const requested = this.requested.shift();
    if (requested !== undefined) this.bytesAhead -= requested.candidate.size;
    return requested;
  }

  /** Requests more of the plan, when the window has room enough. */
  refill(): void {
    const { requested, plan, ahead, aheadBytes } = this;
    // Refill in batches, once half the window has been consumed: the RETRs then leave together
    // in one TLS record and one segment (the client corks commands issued in one tick), rather
    // than one record per message (performance: fewer writes for both ends).
    const halfFull =
      requested.length > 0 && (requested.length > ahead / 2 || this.bytesAhead > aheadBytes / 2);
    if (halfFull) return;
    // The DELEs waiting go out in the same write as these RETRs.
    this.deleter.flush();
    while (requested.length < ahead && this.next < plan.length) {
      if (requested.length > 0 && this.bytesAhead + plan[this.next]!.size > aheadBytes) return;
      if (!this.mayStart()) return;
      const candidate = plan[this.next++]!;
      this.bytesAhead += candidate.size;
      requested.push({ candidate, body: this.mailbox.retr(candidate.messageNumber) });
    }
  }
}
