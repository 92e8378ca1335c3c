import type {
  Mailbox,
  MailboxEntry,
  MailboxLogin,
  MailboxSession,
  MailboxStatus,
  MailboxUid,
  MessageBody,
} from '../../functions/poller/ports';

/**
 * An in-memory mailbox behind the workflow's mailbox port (functions/poller/ports.ts), for unit
 * tests of the workflow's parts without a socket. It keeps RFC 1939's rules that matter to the
 * workflow: DELE only marks, QUIT removes what is marked, a session dropped without QUIT removes
 * nothing; with `expireDays: 0`, QUIT also removes whatever was retrieved (RFC 2449 §6.7).
 * Every command is written to `log` (`RETR 2`, `DELE 2`, `QUIT`, `ABORT`), shared with whatever
 * else the test records there, so a test can assert the order of everything.
 */
export class MemoryMailbox implements Mailbox {
  /**
   * The messages on the server by message number (1-based). They keep their first numbers across
   * sessions, where a real server renumbers at each login: the workflow never carries a number
   * from one session to the next, so tests can name messages by them.
   */
  readonly live = new Map<number, Buffer>();
  /** Sessions opened, in order. */
  readonly sessions: MemoryMailboxSession[] = [];
  /** Return an error to make DELE of that message fail (as a server's -ERR would). */
  failDele: (messageNumber: number) => Error | undefined = () => undefined;
  /** Set to make QUIT fail as a lost connection would: nothing is removed. */
  failQuit: Error | undefined;
  expireDays: number | undefined;

  constructor(
    messages: readonly Buffer[],
    readonly log: string[] = [],
  ) {
    messages.forEach((bytes, i) => this.live.set(i + 1, bytes));
  }

  async open(): Promise<MailboxLogin> {
    const session = new MemoryMailboxSession(this);
    this.sessions.push(session);
    return { session, preset: undefined, keepOnly: false };
  }
}

export class MemoryMailboxSession implements MailboxSession {
  isOpen = true;
  readonly loginDelaySeconds = undefined;
  readonly maxMessageBytes = 1024 * 1024;
  readonly capabilityTags: readonly string[] = ['UIDL', 'PIPELINING'];
  readonly tlsProtocol = undefined;
  readonly loginMethod = undefined;
  private readonly marked = new Set<number>();
  private readonly retrieved = new Set<number>();

  constructor(private readonly mailbox: MemoryMailbox) {}

  get expireDays(): number | undefined {
    return this.mailbox.expireDays;
  }

  tooLarge(messageNumber: number, size: number): Error {
    return new Error(`message ${messageNumber} is ${size} octets`);
  }

  async stat(): Promise<MailboxStatus> {
    const sizes = [...this.mailbox.live.values()].map((b) => b.length);
    return { count: sizes.length, size: sizes.reduce((a, b) => a + b, 0) };
  }

  async list(): Promise<readonly MailboxEntry[]> {
    this.mailbox.log.push('LIST');
    return [...this.mailbox.live].map(([messageNumber, bytes]) => ({ messageNumber, size: bytes.length }));
  }

  async uidl(): Promise<readonly MailboxUid[]> {
    return [...this.mailbox.live.keys()].map((messageNumber) => ({
      messageNumber,
      uid: `uid-${messageNumber}`,
    }));
  }

  async retr(messageNumber: number): Promise<MessageBody> {
    this.mailbox.log.push(`RETR ${messageNumber}`);
    const bytes = this.command(messageNumber);
    this.retrieved.add(messageNumber);
    return (async function* () {
      // Two chunks, so that the workflow joins them as it would a socket's.
      yield bytes.subarray(0, bytes.length >> 1);
      yield bytes.subarray(bytes.length >> 1);
    })();
  }

  async dele(messageNumber: number): Promise<void> {
    this.mailbox.log.push(`DELE ${messageNumber}`);
    this.command(messageNumber);
    const refused = this.mailbox.failDele(messageNumber);
    if (refused) throw refused;
    this.marked.add(messageNumber);
  }

  async quit(): Promise<void> {
    this.mailbox.log.push('QUIT');
    if (!this.isOpen) throw new Error('session closed');
    this.isOpen = false;
    if (this.mailbox.failQuit) throw this.mailbox.failQuit;
    for (const n of this.marked) this.mailbox.live.delete(n);
    if (this.mailbox.expireDays === 0) for (const n of this.retrieved) this.mailbox.live.delete(n);
  }

  abort(): void {
    if (!this.isOpen) return;
    this.mailbox.log.push('ABORT');
    this.isOpen = false;
  }

  private command(messageNumber: number): Buffer {
    if (!this.isOpen) throw new Error('session closed');
    const bytes = this.mailbox.live.get(messageNumber);
    if (!bytes) throw new Error(`no message ${messageNumber}`);
    return bytes;
  }
}
