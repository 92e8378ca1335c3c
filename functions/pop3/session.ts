import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Capabilities } from './capabilities';
import type { DirectReader } from './direct-reader';
import { Pop3Error } from './errors';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_TIMEOUTS,
  type Pop3ClientOptions,
  type Pop3Timeouts,
} from './options';
import { CommandPipeline, type Pending } from './pipeline';
import { Redactor, replyError } from './redaction';
import { ReplyDecoder, type StatusLine } from './reply-decoder';
import { multiBuffered, simple } from './requests';
import type { AuthMethod } from './sasl';

export type SessionState = 'connecting' | 'authorization' | 'transaction' | 'closed';

/**
 * One POP3 connection (RFC 1939): its socket, its state, the commands in flight and what each
 * does with its reply. Internal to `pop3/`: `Pop3Client` is the public face, requests.ts builds
 * commands, and login.ts and stls.ts drive the authorization steps through it.
 */
export class Session {
  private socketValue: Socket;
  private readonly decoder: ReplyDecoder;
  readonly pipeline: CommandPipeline;
  readonly redactor: Redactor;
  readonly timeouts: Pop3Timeouts;
  readonly maxMessageBytes: number;
  readonly maxListingBytes: number;
  private pausedForConsumer = false;
  private quitting = false;
  private failureValue: Pop3Error | undefined;
  private capa = new Capabilities();
  private apopTimestampValue: string | undefined;
  private encryptedValue: boolean;
  private loggedInWith: AuthMethod | undefined;
  private stateValue: SessionState = 'connecting';
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private readonly onAbort = () =>
    this.fatal(new Pop3Error('EABORTED', 'POP3 session aborted', { cause: this.options.signal?.reason }));

  constructor(
    readonly options: Pop3ClientOptions,
    socket: Socket,
    encrypted: boolean,
    /** Reads `socket` through `onread` instead of 'data' events (implicit TLS only). */
    private readonly reader: DirectReader | undefined,
  ) {
    this.socketValue = socket;
    this.encryptedValue = encrypted;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxListingBytes = options.maxListingBytes ?? 64 * 1024 * 1024;
    this.redactor = new Redactor(options);
    this.pipeline = new CommandPipeline(socket, Math.max(1, options.pipelineWindow ?? 64), this.redactor);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.decoder = new ReplyDecoder(this.pipeline, {
      maxLineLength: options.maxLineLength ?? 512,
      // Per-command limits are enforced by the commands; this is the outer bound.
      maxBodyBytes: Math.max(this.maxMessageBytes, this.maxListingBytes),
    });
    this.attach(socket);
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get state(): SessionState {
    return this.stateValue;
  }

  /** The error that closed the session, if one did. */
  get failure(): Pop3Error | undefined {
    return this.failureValue;
  }

  get capabilities(): Capabilities {
    return this.capa;
  }

  /** The greeting's `<...>` timestamp, which APOP needs (RFC 1939 §7). */
  get apopTimestamp(): string | undefined {
    return this.apopTimestampValue;
  }

  get encrypted(): boolean {
    return this.encryptedValue;
  }

  /** The connection's socket: the TLS one after STLS. */
  get socket(): Socket {
    return this.socketValue;
  }

  get loginMethod(): AuthMethod | undefined {
    return this.loggedInWith;
  }

  // ---------------------------------------------------------------------------------------------
  // State transitions

  /** Waits for the greeting (RFC 1939 §4), which moves the session to the authorization state. */
  greeting(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fatal(new Pop3Error('ETIMEDOUT', `no greeting within ${this.timeouts.greetingMs} ms`)),
        this.timeouts.greetingMs,
      );
      this.pipeline.expect({
        verb: 'greeting',
        line: undefined,
        exclusive: true,
        status: (status) => {
          clearTimeout(timer);
          if (status.kind === 'ok') {
            // RFC 1939 §7: an APOP-capable server puts a msg-id-like timestamp in its greeting.
            this.apopTimestampValue = /<[^<>\s]*@?[^<>\s]*>/.exec(status.text)?.[0];
            this.stateValue = 'authorization';
            resolve();
          } else {
            reject(this.replyError('greeting', status, false));
          }
          return 'done';
        },
        fail: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.socketValue.setTimeout(this.timeouts.idleMs);
    });
  }

  async refreshCapabilities(): Promise<void> {
    try {
      this.capa = Capabilities.parse(await multiBuffered(this, 'CAPA', [], this.maxListingBytes));
    } catch (error) {
      // A server without CAPA (plain RFC 1939) answers -ERR: it simply has no extensions.
      if (error instanceof Pop3Error && error.code !== 'ECOMMAND') throw error;
      this.capa = new Capabilities();
    }
  }

  /** After a successful login: the transaction state, and capabilities re-read (RFC 2449 §5). */
  async enterTransaction(method: AuthMethod): Promise<void> {
    // The session can have failed between the login's +OK and this continuation (Dovecot follows
    // `+OK Logged in.` with `-ERR [SYS/TEMP]` and a close when it cannot open the mailbox, and both
    // can arrive in one read). Never bring a closed session back to life: its socket is gone, and
    // the next command would wait forever or bury the real error under a later ECONNECTION.
    if (this.stateValue === 'closed') {
      throw this.failureValue ?? new Pop3Error('ECLOSED', 'session closed during login', { command: method });
    }
    this.stateValue = 'transaction';
    this.loggedInWith = method;
    await this.refreshCapabilities();
    this.pipeline.pipelining = this.capa.pipelining;
  }

  /** Ends the session with QUIT (RFC 1939 §6), then closes the connection whatever the reply. */
  async quit(): Promise<void> {
    if (this.stateValue === 'closed')
      throw this.failureValue ?? new Pop3Error('ECLOSED', 'session already closed');
    this.quitting = true;
    try {
      await simple(this, 'QUIT', []);
    } finally {
      this.socketValue.end();
      this.finish();
    }
  }

  destroy(): void {
    if (this.stateValue === 'closed') return;
    this.fatal(new Pop3Error('ECLOSED', 'session closed by the client'));
  }

  // ---------------------------------------------------------------------------------------------
  // Commands (requests.ts builds them)

  /** Queues a command, or fails it at once when the session is closed or quitting. */
  enqueue(pending: Pending): void {
    if (this.stateValue === 'closed' || (this.quitting && pending.verb !== 'QUIT')) {
      pending.fail(
        this.failureValue ??
          new Pop3Error('ECLOSED', `${pending.verb}: session is closed`, { command: pending.verb }),
      );
      return;
    }
    this.pipeline.push(pending);
  }

  /** Writes a line outside the FIFO: the answer to a SASL challenge (RFC 5034 §4). */
  write(line: Buffer): void {
    this.socketValue.write(line);
  }

  /** Turns a `-ERR` into the error its response code calls for, with secrets scrubbed. */
  replyError(verb: string, status: StatusLine, credentialCommand: boolean): Pop3Error {
    return replyError(verb, status, credentialCommand, this.redactor, this.capa);
  }

  // ---------------------------------------------------------------------------------------------
  // The socket

  /** Stops reading at once, for STLS: what follows the +OK must not be decoded (RFC 2595 §3.1). */
  haltReading(): void {
    this.socketValue.pause();
  }

  /** Decodes again after `haltReading`, returning the bytes that arrived meanwhile. */
  takeHeldBytes(): Buffer {
    return this.decoder.resume();
  }

  /** Unhooks the cleartext socket before TLS takes it over; it stays the session's until replaced. */
  releaseSocket(): Socket {
    this.detach(this.socketValue);
    return this.socketValue;
  }

  /** Carries on over the TLS socket that replaced the cleartext one (STLS). */
  useTlsSocket(socket: TLSSocket): void {
    this.socketValue = socket;
    this.pipeline.socket = socket;
    this.encryptedValue = true;
    this.attach(socket);
    socket.setTimeout(this.timeouts.idleMs);
  }

  private onData = (chunk: Buffer): void => {
    try {
      this.decoder.push(chunk);
      this.pipeline.pump();
    } catch (error) {
      this.fatal(
        error instanceof Pop3Error ? error : new Pop3Error('EPROTOCOL', String(error), { cause: error }),
      );
    }
  };

  private onSocketError = (cause: Error): void => {
    this.fatal(new Pop3Error('ECONNECTION', `connection error: ${cause.message}`, { cause }));
  };

  private onSocketClose = (): void => {
    if (this.stateValue === 'closed') return;
    if (this.quitting && this.pipeline.idle) {
      this.finish();
      return;
    }
    const inReply = this.decoder.hasPartialInput;
    const pending = this.pipeline.inflight[0]?.verb;
    this.fatal(
      new Pop3Error(
        'ECONNECTION',
        pending
          ? `server closed the connection ${inReply ? 'in the middle of' : 'before'} the reply to ${pending}`
          : 'server closed the connection',
        pending ? { command: pending } : {},
      ),
    );
  };

  private onSocketTimeout = (): void => {
    // Silence only counts while the server owes a reply and the client is not the one holding back.
    if (this.pipeline.inflight.length === 0 || this.pausedForConsumer) return;
    const verb = this.pipeline.inflight[0]!.verb;
    this.fatal(
      new Pop3Error('ETIMEDOUT', `no data from the server for ${this.timeouts.idleMs} ms awaiting ${verb}`, {
        command: verb,
      }),
    );
  };

  private attach(socket: Socket): void {
    if (this.reader) this.reader.start(socket, this.onData);
    else socket.on('data', this.onData);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    socket.on('end', this.onSocketClose);
    socket.on('timeout', this.onSocketTimeout);
  }

  private detach(socket: Socket): void {
    if (this.reader) this.reader.stop();
    else socket.off('data', this.onData);
    socket.off('error', this.onSocketError);
    socket.off('close', this.onSocketClose);
    socket.off('end', this.onSocketClose);
    socket.off('timeout', this.onSocketTimeout);
  }

  /** Stops reading while a message stream's consumer catches up. */
  pauseForConsumer(): void {
    if (this.pausedForConsumer) return;
    this.pausedForConsumer = true;
    if (this.reader) this.reader.pause();
    else this.socketValue.pause();
  }

  resumeForConsumer(): void {
    if (!this.pausedForConsumer) return;
    this.pausedForConsumer = false;
    if (this.reader) this.reader.resume();
    else this.socketValue.resume();
  }

  /** Closes the session on an error, failing every command queued or in flight with it. */
  fatal(error: Pop3Error): void {
    if (this.stateValue === 'closed') return;
    this.failureValue = error;
    const pending = this.pipeline.takeAll();
    this.socketValue.destroy();
    this.finish();
    for (const p of pending) p.fail(error);
  }

  private finish(): void {
    this.stateValue = 'closed';
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.resolveClosed();
  }
}
