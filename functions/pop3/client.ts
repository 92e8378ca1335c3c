import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Capabilities } from './capabilities';
import { checkCount, checkNumber } from './command';
import { DirectReader } from './direct-reader';
import {
  parseList,
  parseStat,
  parseUidl,
  parseUidlLine,
  type ListEntry,
  type MailboxStat,
  type UidlEntry,
} from './listing';
import { logIn } from './login';
import type { MessageStream } from './message-stream';
import { DEFAULT_TIMEOUTS, defaultPort, validateOptions, type Pop3ClientOptions } from './options';
import { multiBuffered, multiStream, simple } from './requests';
import type { AuthMethod } from './sasl';
import { Session, type SessionState } from './session';
import { startTls } from './stls';
import { openSocket } from './transport';

export type { SessionState } from './session';

/**
 * A POP3 session (RFC 1939) over TCP or TLS.
 *
 * Commands may be issued without awaiting earlier ones. When the server offers PIPELINING they go
 * out together, up to `pipelineWindow` in flight; otherwise one at a time. Replies are matched to
 * commands through a FIFO, because only the command knows whether its reply has a body.
 *
 * Use `Pop3Client.connect(options)` to get a logged-in session.
 */
export class Pop3Client {
  private constructor(private readonly session: Session) {}

  /** The connection's socket (the TLS one after STLS); test helpers reach it to drop the connection. */
  private get socket(): Socket {
    return this.session.socket;
  }

  /** Connects, reads the greeting, negotiates TLS and capabilities, and logs in. */
  static async connect(options: Pop3ClientOptions): Promise<Pop3Client> {
    const client = await Pop3Client.open(options);
    try {
      await client.login();
      return client;
    } catch (error) {
      client.destroy();
      throw error;
    }
  }

  /**
   * Connects and reads the greeting, then CAPA and (for `starttls`) STLS, without logging in.
   * Most callers want `connect`.
   */
  static async open(options: Pop3ClientOptions): Promise<Pop3Client> {
    validateOptions(options);
    const mode = options.tls ?? 'implicit';
    const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    const port = options.port ?? defaultPort(mode);
    const reader = mode === 'implicit' ? new DirectReader() : undefined;
    const socket = await openSocket(
      { host: options.host, port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) },
      mode === 'implicit',
      options.tlsOptions ?? {},
      timeouts.connectMs,
      options.signal,
      reader,
    );
    const session = new Session(options, socket, mode === 'implicit', reader);
    const client = new Pop3Client(session);
    try {
      await session.greeting();
      await session.refreshCapabilities();
      if (mode === 'starttls') await startTls(session);
      return client;
    } catch (error) {
      client.destroy();
      throw error;
    }
  }

  get state(): SessionState {
    return this.session.state;
  }

  get capabilities(): Capabilities {
    return this.session.capabilities;
  }

  /** True when commands are being pipelined (the server advertised PIPELINING after login). */
  get pipelining(): boolean {
    return this.session.pipeline.pipelining;
  }

  get isEncrypted(): boolean {
    return this.session.encrypted;
  }

  /** The TLS version negotiated (`TLSv1.3`, …), once the session is encrypted. */
  get tlsProtocol(): string | undefined {
    return this.session.encrypted ? ((this.socket as TLSSocket).getProtocol?.() ?? undefined) : undefined;
  }

  /** How the session logged in (`USER`, `APOP` or a SASL mechanism), once it has. */
  get loginMethod(): AuthMethod | undefined {
    return this.session.loginMethod;
  }

  /** Resolves once the connection is closed, for whatever reason. */
  get closed(): Promise<void> {
    return this.session.closed;
  }

  // ---------------------------------------------------------------------------------------------
  // Authorization state (login.ts)

  /** Logs in with the configured credentials, then re-reads capabilities (RFC 2449 §5). */
  login(): Promise<void> {
    return logIn(this.session);
  }

  // ---------------------------------------------------------------------------------------------
  // Transaction state (RFC 1939 §5)

  async stat(): Promise<MailboxStat> {
    return parseStat((await simple(this.session, 'STAT', [])).text);
  }

  async list(): Promise<ListEntry[]> {
    return parseList(await multiBuffered(this.session, 'LIST', [], this.session.maxListingBytes));
  }

  async uidl(): Promise<UidlEntry[]> {
    return parseUidl(await multiBuffered(this.session, 'UIDL', [], this.session.maxListingBytes));
  }

  /** UIDL for one message (RFC 1939 §7). */
  async uidlOf(messageNumber: number): Promise<UidlEntry> {
    return parseUidlLine((await simple(this.session, 'UIDL', [checkNumber(messageNumber, 'UIDL')])).text);
  }

  /**
   * RETR as a stream of raw bytes. Resolves when the server says `+OK`; the stream ends at the
   * terminator. Streams must be consumed in the order they were requested: the next message's
   * bytes come only after this one's.
   */
  retr(messageNumber: number): Promise<MessageStream> {
    return guarded(() =>
      multiStream(this.session, 'RETR', [checkNumber(messageNumber, 'RETR')], messageNumber),
    );
  }

  /** RETR into one Buffer. Convenient for small messages; large ones should use `retr`. */
  async retrBuffer(messageNumber: number): Promise<Buffer> {
    return (await this.retr(messageNumber)).toBuffer();
  }

  /** TOP (RFC 1939 §7): the headers, the blank line and the first `lines` lines of the body. */
  top(messageNumber: number, lines: number): Promise<Buffer> {
    return guarded(() =>
      multiBuffered(
        this.session,
        'TOP',
        [checkNumber(messageNumber, 'TOP'), checkCount(lines, 'TOP')],
        this.session.maxMessageBytes,
      ),
    );
  }

  /** Marks a message deleted. Nothing is removed until QUIT ends the session (RFC 1939 §6). */
  dele(messageNumber: number): Promise<void> {
    return guarded(() =>
      simple(this.session, 'DELE', [checkNumber(messageNumber, 'DELE')]).then(() => undefined),
    );
  }

  /** Unmarks every message marked deleted in this session. */
  async rset(): Promise<void> {
    await simple(this.session, 'RSET', []);
  }

  async noop(): Promise<void> {
    await simple(this.session, 'NOOP', []);
  }

  /**
   * Ends the session. From the transaction state this enters UPDATE, in which the server removes
   * the messages marked deleted (RFC 1939 §6); a `-ERR` here means some may not have been removed.
   */
  quit(): Promise<void> {
    return this.session.quit();
  }

  /** Drops the connection without QUIT: nothing marked deleted is removed. */
  destroy(): void {
    this.session.destroy();
  }
}

/** Runs `start`, turning a synchronous throw into a rejected (and already handled) promise. */
function guarded<T>(start: () => Promise<T>): Promise<T> {
  let promise: Promise<T>;
  try {
    promise = start();
  } catch (error) {
    promise = Promise.reject(error);
  }
  promise.catch(() => {});
  return promise;
}
