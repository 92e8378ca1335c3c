import type { MessageRecord } from './message-record';
import type { MailboxSession } from './ports';

/** DELEs queued before they are sent without waiting for the next RETRs (see `accept`). */
export const DELE_BATCH = 32;

/**
 * The one place that sends DELE, for one session, and the session's commit (QUIT) or abandonment.
 * It takes only messages whose record says announced (stored, verified and announced: see
 * message-record.ts), so nothing else in the workflow can mark a message deleted.
 */
export class Deleter {
  /** Message numbers accepted whose DELE has not been sent yet. */
  private queued: number[] = [];
  /** The replies to the DELEs sent, settled before QUIT (they never reject). */
  private replies: Array<Promise<void>> = [];
  /** DELEs the server accepted; removed only by a successful QUIT (RFC 1939 §6). */
  private marked = 0;

  constructor(
    private readonly mailbox: MailboxSession,
    /** Told of each DELE the server refused, or that failed with the session. */
    private readonly onRefused: (error: unknown) => void,
  ) {}

  /**
   * Queues the DELE of a message that is archived and announced. DELEs leave in batches: with the
   * next refill of RETRs (one write, one TLS record), when DELE_BATCH are waiting, and before QUIT.
   * (Performance: one write and one server wake-up per DELE cost both ends CPU; a DELE takes
   * effect only at QUIT, RFC 1939 §6, so sending it later changes nothing else.)
   */
  accept(record: MessageRecord): void {
    record.deletable(); // throws unless the record says announced
    if (this.queued.push(record.messageNumber) >= DELE_BATCH) this.flush();
  }

  /**
   * Sends the queued DELEs; their replies are not awaited here. With pipelining, a DELE's reply
   * comes after the replies to the RETRs already requested ahead, which are read only as the
   * retrieve loop consumes them; that loop may be waiting for a message task to end while the
   * client has stopped reading a RETR larger than its stream buffer (256 KiB). Awaiting it in a
   * task deadlocked (found by test/functions/poller/fault-injection.test.ts: 20 messages, the last
   * one 300 KB), and no idle timeout ends it since the client is the one holding back. Settled
   * before QUIT.
   */
  flush(): void {
    const numbers = this.queued;
    this.queued = [];
    // A connection already cut (the hard stop, a lost connection) can mark nothing: the messages
    // stay on the server, and a DELE sent now would only fail.
    if (!this.mailbox.isOpen) return;
    for (const messageNumber of numbers) this.send(messageNumber);
  }

  /**
   * Sends what is queued and QUIT, and resolves with the number of DELEs the QUIT committed.
   * QUIT goes out right behind the last DELE rather than after the DELEs' replies (performance: one
   * round trip less, 50 ms on a slow link): the server handles commands in order, so QUIT commits
   * exactly the DELEs it accepted. Every reply is still awaited before anything is counted as
   * deleted; a failed QUIT rejects, and then nothing counts as deleted.
   */
  async commit(): Promise<number> {
    this.flush();
    await Promise.all([...this.replies, this.mailbox.quit()]);
    return this.marked;
  }

  /**
   * Sends what is queued, waits for the DELEs' replies (they commit nothing without QUIT, and
   * are awaited so that none is reported as failed by the close), then drops the connection
   * without QUIT: the server removes nothing (RFC 1939 §6).
   */
  async abandon(): Promise<void> {
    this.flush();
    await Promise.all(this.replies);
    this.mailbox.abort();
  }

  private send(messageNumber: number): void {
    this.replies.push(
      this.mailbox.dele(messageNumber).then(
        () => {
          this.marked += 1;
        },
        (error: unknown) => {
          // Archived and announced but not marked: it stays on the server and the next run
          // fetches it again, landing on the same key and event id. Not a failure of this
          // message, but reported so that a server refusing DELE does not go unnoticed.
          this.onRefused(error);
        },
      ),
    );
  }
}
