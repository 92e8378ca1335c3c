import { DEFAULT_MAX_MESSAGE_BYTES, Pop3Error, type MessageStream, type Pop3Client } from '../pop3';
import type { MailboxEntry, MailboxSession, MailboxStatus, MailboxUid } from './ports';

/**
 * The mailbox port (ports.ts) over a logged-in POP3 client. Each method hands the client's own
 * promise and stream straight through (performance: RETR and DELE are on every message's path, so
 * the adapter adds no promise, copy or stream of its own).
 */
export class Pop3MailboxSession implements MailboxSession {
  readonly maxMessageBytes: number;

  constructor(
    private readonly client: Pop3Client,
    /** The limit the client was opened with (`Pop3ClientOptions.maxMessageBytes`). */
    maxMessageBytes: number | undefined,
  ) {
    this.maxMessageBytes = maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  get isOpen(): boolean {
    return this.client.state !== 'closed';
  }

  get loginDelaySeconds(): number | undefined {
    return this.client.capabilities.loginDelaySeconds;
  }

  get expireDays(): number | undefined {
    return this.client.capabilities.expireDays;
  }

  get capabilityTags(): readonly string[] {
    return this.client.capabilities.tags;
  }

  get tlsProtocol(): string | undefined {
    return this.client.tlsProtocol;
  }

  get loginMethod(): Pop3Client['loginMethod'] {
    return this.client.loginMethod;
  }

  tooLarge(messageNumber: number, size: number): Error {
    const why = `message ${messageNumber} is ${size} octets by LIST, over the limit of ${this.maxMessageBytes}`;
    return new Pop3Error('ELIMIT', `${why}: left on the server`, { command: 'LIST' });
  }

  stat(): Promise<MailboxStatus> {
    return this.client.stat();
  }

  list(): Promise<readonly MailboxEntry[]> {
    return this.client.list();
  }

  uidl(): Promise<readonly MailboxUid[]> {
    return this.client.uidl();
  }

  retr(messageNumber: number): Promise<MessageStream> {
    return this.client.retr(messageNumber);
  }

  dele(messageNumber: number): Promise<void> {
    return this.client.dele(messageNumber);
  }

  quit(): Promise<void> {
    return this.client.quit();
  }

  abort(): void {
    this.client.destroy();
  }
}
