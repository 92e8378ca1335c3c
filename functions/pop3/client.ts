import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { chooseAuthMethod, guardCleartext } from './auth-choice';
import { Capabilities } from './capabilities';
import { checkCount, checkNumber, encodeCommand, encodeResponseLine, MAX_COMMAND_OCTETS } from './command';
import { DirectReader } from './direct-reader';
import { errorCodeForResponseCode, Pop3Error, type Pop3ErrorCode } from './errors';
import { apopTimestamp } from './greeting';
import {
  parseList,
  parseStat,
  parseUidl,
  parseUidlLine,
  type ListEntry,
  type MailboxStat,
  type UidlEntry,
} from './listing';
import { MessageStream } from './message-stream';
import { MIN_PROGRESS_OCTETS, ProgressWatchdog } from './progress-watchdog';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_TIMEOUTS,
  defaultPort,
  validateOptions,
  type Pop3ClientOptions,
  type Pop3Timeouts,
  type TraceEvent,
} from './options';
import { printable, ReplyDecoder, type AfterStatus, type StatusLine } from './reply-decoder';
import { apopDigest, saslClient, type AuthMethod, type Credentials, type SaslMechanismName } from './sasl';
import { openSocket, upgradeSocket } from './transport';

export type SessionState = 'connecting' | 'authorization' | 'transaction' | 'closed';

/** What a pending command does with each part of its reply. */
interface Pending {
  readonly verb: string;
  readonly line: Buffer | undefined;
  /** Must be alone on the wire: nothing after it is sent until its reply is complete. */
  readonly exclusive: boolean;
  /** Decides what follows this status line, or `continue` to stay at the head (SASL). */
  status(line: StatusLine): AfterStatus | 'continue';
  data?(chunk: Buffer): void;
  overflow?(limit: number): void;
  end?(): void;
  fail(error: Pop3Error): void;
}

const CREDENTIAL_VERBS = new Set(['PASS', 'APOP', 'AUTH', 'USER']);
/** SASL responses a login may send (LOGIN: two, plus the empty answer to an error challenge). */
const MAX_SASL_RESPONSES = 4;

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
  private socket: Socket;
  private readonly decoder: ReplyDecoder;
  private readonly queue: Pending[] = [];
  private readonly inflight: Pending[] = [];
  private readonly timeouts: Pop3Timeouts;
  private readonly window: number;
  private readonly maxMessageBytes: number;
  private readonly maxListingBytes: number;
  private readonly secrets: string[];
  private corked = false;
  private pausedForConsumer = false;
  private quitting = false;
  private failure: Pop3Error | undefined;
  private capa = new Capabilities();
  private apopTimestamp: string | undefined;
  private pipeliningActive = false;
  private encrypted: boolean;
  private loggedInWith: AuthMethod | undefined;
  private stateValue: SessionState = 'connecting';
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;
  /** Cuts a server that drips its replies too slowly for the idle timeout to notice. */
  private readonly watchdog: ProgressWatchdog;
  private readonly onAbort = () =>
    this.fatal(new Pop3Error('EABORTED', 'POP3 session aborted', { cause: this.options.signal?.reason }));

  private constructor(
    private readonly options: Pop3ClientOptions,
    socket: Socket,
    encrypted: boolean,
    /** Reads `socket` through `onread` instead of 'data' events (implicit TLS only). */
    private readonly reader: DirectReader | undefined,
  ) {
    this.socket = socket;
    this.encrypted = encrypted;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.window = Math.max(1, options.pipelineWindow ?? 64);
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxListingBytes = options.maxListingBytes ?? 64 * 1024 * 1024;
    this.secrets = secretVariants(options.auth);
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    this.watchdog = new ProgressWatchdog(this.timeouts.idleMs, (octets) => this.onStall(octets));
    this.watchdog.start();
    this.decoder = new ReplyDecoder(
      {
        status: (line) => this.onStatus(line),
        data: (chunk) => this.inflight[0]?.data?.(chunk),
        overflow: (limit) => this.inflight[0]?.overflow?.(limit),
        end: () => {
          this.watchdog.progress();
          this.inflight.shift()?.end?.();
        },
      },
      {
        maxLineLength: options.maxLineLength ?? 512,
        // Per-command limits are enforced by the commands; this is the outer bound.
        maxBodyBytes: Math.max(this.maxMessageBytes, this.maxListingBytes),
        // A reply still going after as much again never ends (found by the fuzz suite).
        maxDiscardBytes: Math.max(this.maxMessageBytes, this.maxListingBytes),
      },
      this.scrub,
    );
    this.attach(socket);
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
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
    const client = new Pop3Client(options, socket, mode === 'implicit', reader);
    try {
      await client.greeting();
      await client.refreshCapabilities();
      if (mode === 'starttls') await client.startTls();
      return client;
    } catch (error) {
      client.destroy();
      throw error;
    }
  }

  get state(): SessionState {
    return this.stateValue;
  }

  get capabilities(): Capabilities {
    return this.capa;
  }

  /** True when commands are being pipelined (the server advertised PIPELINING after login). */
  get pipelining(): boolean {
    return this.pipeliningActive;
  }

  get isEncrypted(): boolean {
    return this.encrypted;
  }

  /** The TLS version negotiated (`TLSv1.3`, …), once the session is encrypted. */
  get tlsProtocol(): string | undefined {
    return this.encrypted ? ((this.socket as TLSSocket).getProtocol?.() ?? undefined) : undefined;
  }

  /** How the session logged in (`USER`, `APOP` or a SASL mechanism), once it has. */
  get loginMethod(): AuthMethod | undefined {
    return this.loggedInWith;
  }

  /** Resolves once the connection is closed, for whatever reason. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  // ---------------------------------------------------------------------------------------------
  // Authorization state

  /** Logs in with the configured credentials, then re-reads capabilities (RFC 2449 §5). */
  async login(): Promise<void> {
    if (this.stateValue !== 'authorization') {
      throw new Pop3Error('ECLOSED', `cannot log in while ${this.stateValue}`, { command: 'LOGIN' });
    }
    if (this.capa.has('UTF8') && this.options.utf8 !== false) {
      // RFC 6856 §2: UTF8 is issued before authentication; a refusal only means no UTF-8 mode.
      await this.simple('UTF8', []).catch((error: unknown) => {
        // A -ERR leaves the session usable; anything that closed it is fatal.
        if (this.stateValue === 'closed') throw error;
      });
    }
    const login = {
      auth: this.options.auth,
      capabilities: this.capa,
      apopTimestamp: this.apopTimestamp,
      encrypted: this.encrypted,
      allowPlaintextAuth: this.options.allowPlaintextAuth === true,
    };
    const method = chooseAuthMethod(login);
    guardCleartext(method, login);
    const { auth } = this.options;
    switch (method) {
      case 'USER':
        await this.simple('USER', [auth.username], true);
        await this.simple('PASS', [auth.password!], true);
        break;
      case 'APOP':
        await this.simple('APOP', [auth.username, apopDigest(this.apopTimestamp!, auth.password!)], true);
        break;
      default:
        await this.authenticate(method);
    }
    // The session can have failed between the login's +OK and this continuation (Dovecot follows
    // `+OK Logged in.` with `-ERR [SYS/TEMP]` and a close when it cannot open the mailbox, and both
    // can arrive in one read). Never bring a closed session back to life: its socket is gone, and
    // the next command would wait forever or bury the real error under a later ECONNECTION.
    if ((this.stateValue as SessionState) === 'closed') {
      throw this.failure ?? new Pop3Error('ECLOSED', 'session closed during login', { command: method });
    }
    this.stateValue = 'transaction';
    this.loggedInWith = method;
    await this.refreshCapabilities();
    this.pipeliningActive = this.capa.pipelining;
  }

  /** RFC 5034 SASL exchange. */
  private authenticate(name: SaslMechanismName): Promise<void> {
    const mech = saslClient(name, this.options.auth);
    let initial = mech.initialResponse;
    // The initial response carries the secret in another encoding (PLAIN: base64 of
    // `authzid NUL user NUL password`; XOAUTH2/OAUTHBEARER: the token behind a prefix), which the
    // plain and base64 forms in `secrets` do not match. A server echoing the line back in a
    // challenge or an -ERR must not get it into an error or the trace.
    if (initial) this.secrets.push(initial);
    let line: Buffer;
    if (initial !== undefined && `AUTH ${name} ${initial || '='}`.length <= MAX_COMMAND_OCTETS) {
      line = encodeCommand('AUTH', name, initial || '=');
      initial = undefined;
    } else {
      // RFC 5034 §4: an initial response that would overflow the 255-octet command goes after `+`.
      line = encodeCommand('AUTH', name);
    }
    const expectedResponses = name === 'LOGIN' ? 2 : 1;
    let responsesSent = line.length > `AUTH ${name}\r\n`.length ? 1 : 0;
    return new Promise<void>((resolve, reject) => {
      const send = (base64: string) => {
        responsesSent += 1;
        this.trace('client', '[redacted SASL response]');
        this.socket.write(encodeResponseLine(base64));
      };
      this.enqueue({
        verb: 'AUTH',
        line,
        exclusive: true,
        status: (status) => {
          // Some servers send `+OK` where a `+` challenge is due (field notes, lesson 9). Before the
          // client has sent what the mechanism needs, a `+OK` cannot mean success: treat it as a
          // challenge. After that, `+` challenges are error reports (XOAUTH2/OAUTHBEARER) or
          // further steps, and are answered as the mechanism says.
          const challengeDue = responsesSent < expectedResponses;
          if (status.kind === 'continuation' || (status.kind === 'ok' && challengeDue)) {
            // No mechanism here needs more than two challenges (LOGIN); a server that keeps sending
            // them would hold the session forever, answered line by line (found by the fuzz suite).
            if (responsesSent >= MAX_SASL_RESPONSES) {
              throw new Pop3Error('EPROTOCOL', `server sent more SASL challenges than ${name} has steps`, {
                command: 'AUTH',
              });
            }
            if (initial !== undefined) {
              send(initial);
              initial = undefined;
            } else {
              send(mech.respond(decodeChallenge(status.text)));
            }
            return 'continue';
          }
          if (status.kind === 'ok') resolve();
          else reject(this.replyError('AUTH', status, true));
          return 'done';
        },
        fail: reject,
      });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Transaction state (RFC 1939 §5)

  async stat(): Promise<MailboxStat> {
    return parseStat((await this.simple('STAT', [])).text, this.scrub);
  }

  async list(): Promise<ListEntry[]> {
    return parseList(await this.multiBuffered('LIST', [], this.maxListingBytes), this.scrub);
  }

  async uidl(): Promise<UidlEntry[]> {
    return parseUidl(await this.multiBuffered('UIDL', [], this.maxListingBytes), this.scrub);
  }

  /** UIDL for one message (RFC 1939 §7). */
  async uidlOf(messageNumber: number): Promise<UidlEntry> {
    return parseUidlLine((await this.simple('UIDL', [checkNumber(messageNumber, 'UIDL')])).text, this.scrub);
  }

  /**
   * RETR as a stream of raw bytes. Resolves when the server says `+OK`; the stream ends at the
   * terminator. Streams must be consumed in the order they were requested: the next message's
   * bytes come only after this one's.
   */
  retr(messageNumber: number): Promise<MessageStream> {
    return guarded(() => this.multiStream('RETR', [checkNumber(messageNumber, 'RETR')], messageNumber));
  }

  /** RETR into one Buffer. Convenient for small messages; large ones should use `retr`. */
  async retrBuffer(messageNumber: number): Promise<Buffer> {
    return (await this.retr(messageNumber)).toBuffer();
  }

  /** TOP (RFC 1939 §7): the headers, the blank line and the first `lines` lines of the body. */
  top(messageNumber: number, lines: number): Promise<Buffer> {
    return guarded(() =>
      this.multiBuffered(
        'TOP',
        [checkNumber(messageNumber, 'TOP'), checkCount(lines, 'TOP')],
        this.maxMessageBytes,
      ),
    );
  }

  /** Marks a message deleted. Nothing is removed until QUIT ends the session (RFC 1939 §6). */
  dele(messageNumber: number): Promise<void> {
    return guarded(() => this.simple('DELE', [checkNumber(messageNumber, 'DELE')]).then(() => undefined));
  }

  /** Unmarks every message marked deleted in this session. */
  async rset(): Promise<void> {
    await this.simple('RSET', []);
  }

  async noop(): Promise<void> {
    await this.simple('NOOP', []);
  }

  /**
   * Ends the session. From the transaction state this enters UPDATE, in which the server removes
   * the messages marked deleted (RFC 1939 §6); a `-ERR` here means some may not have been removed.
   */
  async quit(): Promise<void> {
    if (this.stateValue === 'closed')
      throw this.failure ?? new Pop3Error('ECLOSED', 'session already closed');
    this.quitting = true;
    try {
      await this.simple('QUIT', []);
    } finally {
      this.socket.end();
      this.finish();
    }
  }

  /** Drops the connection without QUIT: nothing marked deleted is removed. */
  destroy(): void {
    if (this.stateValue === 'closed') return;
    this.fatal(new Pop3Error('ECLOSED', 'session closed by the client'));
  }

  // ---------------------------------------------------------------------------------------------
  // Command plumbing

  private greeting(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fatal(new Pop3Error('ETIMEDOUT', `no greeting within ${this.timeouts.greetingMs} ms`)),
        this.timeouts.greetingMs,
      );
      // The greeting is a reply without a command: it waits at the head of the FIFO.
      this.inflight.push({
        verb: 'greeting',
        line: undefined,
        exclusive: true,
        status: (status) => {
          clearTimeout(timer);
          if (status.kind === 'ok') {
            // RFC 1939 §7: an APOP-capable server puts a msg-id-like timestamp in its greeting.
            this.apopTimestamp = apopTimestamp(status.text);
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
      this.socket.setTimeout(this.timeouts.idleMs);
    });
  }

  private async refreshCapabilities(): Promise<void> {
    try {
      this.capa = Capabilities.parse(await this.multiBuffered('CAPA', [], this.maxListingBytes));
    } catch (error) {
      // A server without CAPA (plain RFC 1939) answers -ERR: it simply has no extensions.
      if (error instanceof Pop3Error && error.code !== 'ECOMMAND') throw error;
      this.capa = new Capabilities();
    }
  }

  /** RFC 2595 §4 STLS, with the RFC 2595 §3.1 / RFC 7817 injection guard. */
  private async startTls(): Promise<void> {
    if (!this.capa.has('STLS')) {
      throw new Pop3Error('ETLS', 'server does not offer STLS, and the account requires it', {
        command: 'STLS',
      });
    }
    await new Promise<void>((resolve, reject) => {
      this.enqueue({
        verb: 'STLS',
        line: encodeCommand('STLS'),
        exclusive: true,
        status: (status) => {
          if (status.kind !== 'ok') {
            reject(
              new Pop3Error('ETLS', `server refused STLS: ${printable(this.redact(status.text))}`, {
                command: 'STLS',
                response: this.redact(status.text),
              }),
            );
            return 'done';
          }
          // Stop reading at once: anything after this line was sent in cleartext and must not
          // be taken as a reply (that is how STARTTLS command injection works).
          this.socket.pause();
          resolve();
          return 'halt';
        },
        fail: reject,
      });
    });
    const injected = this.decoder.resume();
    if (injected.length > 0) {
      throw new Pop3Error(
        'ETLS',
        `server sent ${injected.length} octets after +OK to STLS, before TLS began`,
        {
          command: 'STLS',
        },
      );
    }
    const plain = this.socket;
    this.detach(plain);
    try {
      this.socket = await upgradeSocket(
        plain,
        this.options.host,
        this.options.tlsOptions ?? {},
        this.timeouts.connectMs,
        this.options.signal,
      );
    } catch (error) {
      this.fatal(error instanceof Pop3Error ? error : new Pop3Error('ETLS', String(error), { cause: error }));
      throw error;
    }
    this.encrypted = true;
    this.attach(this.socket);
    this.socket.setTimeout(this.timeouts.idleMs);
    // RFC 2595 §4: capabilities learnt before TLS are discarded.
    await this.refreshCapabilities();
  }

  /** A command with a single-line reply. */
  private simple(verb: string, args: ReadonlyArray<string | number>, sensitive = false): Promise<StatusLine> {
    return this.request(verb, args, (resolve, reject) => ({
      status: (status) => {
        if (status.kind === 'ok') resolve(status);
        else reject(this.replyError(verb, status, sensitive));
        return 'done';
      },
    }));
  }

  /** A command with a multi-line reply, collected whole (bounded by `maxBytes`). */
  private multiBuffered(
    verb: string,
    args: ReadonlyArray<string | number>,
    maxBytes: number,
  ): Promise<Buffer> {
    return this.request(verb, args, (resolve, reject) => {
      const parts: Buffer[] = [];
      let size = 0;
      let error: Pop3Error | undefined;
      const tooBig = () =>
        new Pop3Error('ELIMIT', `${verb} reply exceeds ${maxBytes} octets`, { command: verb });
      return {
        status: (status) => {
          if (status.kind === 'ok') return 'body';
          reject(this.replyError(verb, status, false));
          return 'done';
        },
        data: (chunk) => {
          size += chunk.length;
          if (size > maxBytes) error ??= tooBig();
          else parts.push(chunk);
        },
        overflow: () => (error ??= tooBig()),
        end: () => (error ? reject(error) : resolve(Buffer.concat(parts, size))),
      };
    });
  }

  /** A command whose multi-line reply is handed over as a stream, with backpressure. */
  private multiStream(
    verb: string,
    args: ReadonlyArray<string | number>,
    messageNumber: number,
  ): Promise<MessageStream> {
    return this.request(verb, args, (resolve, reject) => {
      let stream: MessageStream | undefined;
      const limit = this.maxMessageBytes;
      return {
        status: (status) => {
          if (status.kind !== 'ok') {
            reject(this.replyError(verb, status, false));
            return 'done';
          }
          stream = new MessageStream(messageNumber, () => this.resumeForConsumer(), 256 * 1024);
          resolve(stream);
          return 'body';
        },
        data: (chunk) => {
          if (!stream || stream.destroyed) return;
          if (stream.bytesReceived + chunk.length > limit) {
            stream.destroy(
              new Pop3Error('ELIMIT', `message ${messageNumber} exceeds ${limit} octets`, { command: verb }),
            );
            return;
          }
          if (!stream.deliver(chunk)) this.pauseForConsumer();
        },
        overflow: () =>
          stream?.destroy(
            new Pop3Error('ELIMIT', `message ${messageNumber} exceeds ${limit} octets`, { command: verb }),
          ),
        end: () => stream?.finish(),
        failStream: (error: Pop3Error) => {
          if (stream && !stream.destroyed && !stream.readableEnded) stream.destroy(error);
        },
      };
    });
  }

  private request<T>(
    verb: string,
    args: ReadonlyArray<string | number>,
    handlers: (
      resolve: (value: T) => void,
      reject: (error: Pop3Error) => void,
    ) => Omit<Pending, 'verb' | 'line' | 'exclusive' | 'fail'> & { failStream?(error: Pop3Error): void },
  ): Promise<T> {
    const promise = new Promise<T>((resolve, reject) => {
      const line = encodeCommand(verb, ...args);
      const h = handlers(resolve, reject);
      this.enqueue({
        verb,
        line,
        exclusive: false,
        ...h,
        fail: (error) => {
          h.failStream?.(error);
          reject(error);
        },
      });
    });
    // Callers may issue many commands and await them in order; a rejection of one not yet awaited
    // must not be reported as unhandled. Awaiting the returned promise still sees the rejection.
    promise.catch(() => {});
    return promise;
  }

  private enqueue(pending: Pending): void {
    if (this.stateValue === 'closed' || (this.quitting && pending.verb !== 'QUIT')) {
      pending.fail(
        this.failure ??
          new Pop3Error('ECLOSED', `${pending.verb}: session is closed`, { command: pending.verb }),
      );
      return;
    }
    this.queue.push(pending);
    this.pump();
  }

  /** Writes queued commands while the window allows: many when pipelining, else one at a time. */
  private pump(): void {
    const window = this.pipeliningActive ? this.window : 1;
    while (this.queue.length > 0 && this.inflight.length < window) {
      const next = this.queue[0]!;
      if (next.exclusive && this.inflight.length > 0) break;
      if (this.inflight.some((p) => p.exclusive)) break;
      this.queue.shift();
      this.inflight.push(next);
      if (next.line) {
        this.trace('client', traceCommand(next.verb, next.line));
        if (!this.corked) {
          // Commands issued in one tick leave in one TCP segment.
          this.corked = true;
          this.socket.cork();
          process.nextTick(() => {
            this.corked = false;
            this.socket.uncork();
          });
        }
        this.socket.write(next.line);
        this.watchdog.progress();
      }
    }
  }

  private onStatus(line: StatusLine): AfterStatus {
    this.watchdog.progress();
    const head = this.inflight[0];
    if (!head) {
      if (line.kind === 'err') {
        // A server may say why it is about to close without being asked: Dovecot sends
        // `-ERR [SYS/TEMP] Internal error occurred...` right after `+OK Logged in.` when the
        // mailbox cannot be opened, and `-ERR Disconnected for inactivity.` on autologout. Report
        // it as what its response code says (a protocol violation would hide a [SYS/TEMP] or
        // [AUTH]); without a code it is the server dropping the connection.
        this.trace('server', `-ERR ${line.text}`);
        const shown = this.redact(line.code ? `[${line.code}] ${line.text}` : line.text);
        throw new Pop3Error(
          errorCodeForResponseCode(line.code) ?? 'ECONNECTION',
          `server sent -ERR with no command outstanding: ${printable(shown)}`,
          { response: `-ERR ${shown}` },
        );
      }
      throw new Pop3Error(
        'EPROTOCOL',
        `unexpected reply with no command outstanding: ${printable(this.redact(line.text))}`,
      );
    }
    this.trace('server', `${line.kind === 'ok' ? '+OK' : line.kind === 'err' ? '-ERR' : '+'} ${line.text}`);
    const after = head.status(line);
    if (after === 'continue') return 'done';
    if (after !== 'body') {
      this.inflight.shift();
      this.pump();
    }
    return after;
  }

  private onData = (chunk: Buffer): void => {
    this.watchdog.received(chunk.length);
    try {
      this.decoder.push(chunk);
      this.pump();
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
    if (this.quitting && this.inflight.length === 0 && this.queue.length === 0) {
      this.finish();
      return;
    }
    const inReply = this.decoder.hasPartialInput;
    const pending = this.inflight[0]?.verb;
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
    if (this.inflight.length === 0 || this.pausedForConsumer) return;
    const verb = this.inflight[0]!.verb;
    this.fatal(
      new Pop3Error('ETIMEDOUT', `no data from the server for ${this.timeouts.idleMs} ms awaiting ${verb}`, {
        command: verb,
      }),
    );
  };

  /** The watchdog saw a period without progress (progress-watchdog.ts). */
  private onStall(octets: number): void {
    // The greeting has its own deadline; an idle client or one holding back is not stalled.
    if (this.stateValue === 'connecting' || this.inflight.length === 0 || this.pausedForConsumer) return;
    const verb = this.inflight[0]!.verb;
    this.fatal(
      new Pop3Error(
        'ETIMEDOUT',
        `server too slow: ${octets} octets in ${this.timeouts.idleMs} ms awaiting ${verb} ` +
          `(at least ${MIN_PROGRESS_OCTETS} or a complete reply expected)`,
        { command: verb },
      ),
    );
  }

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

  private pauseForConsumer(): void {
    this.watchdog.progress();
    if (this.pausedForConsumer) return;
    this.pausedForConsumer = true;
    if (this.reader) this.reader.pause();
    else this.socket.pause();
  }

  private resumeForConsumer(): void {
    this.watchdog.progress();
    if (!this.pausedForConsumer) return;
    this.pausedForConsumer = false;
    if (this.reader) this.reader.resume();
    else this.socket.resume();
  }

  private fatal(error: Pop3Error): void {
    if (this.stateValue === 'closed') return;
    this.failure = error;
    const pending = [...this.inflight.splice(0), ...this.queue.splice(0)];
    this.socket.destroy();
    this.finish();
    for (const p of pending) p.fail(error);
  }

  private finish(): void {
    this.watchdog.stop();
    this.stateValue = 'closed';
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.resolveClosed();
  }

  /** Turns a `-ERR` into the error its response code calls for, with secrets scrubbed. */
  private replyError(verb: string, status: StatusLine, credentialCommand: boolean): Pop3Error {
    const text = this.redact(status.text);
    let code: Pop3ErrorCode =
      errorCodeForResponseCode(status.code) ?? (credentialCommand ? 'EAUTH' : 'ECOMMAND');
    if (verb === 'greeting' && code === 'ECOMMAND') code = 'ECONNECTION';
    const shown = status.code ? `[${status.code}] ${text}` : text;
    const retryAfter = code === 'ELOGIN_DELAY' ? this.capa.loginDelaySeconds : undefined;
    return new Pop3Error(code, `${verb} failed: -ERR ${printable(shown)}`, {
      command: verb,
      response: `-ERR ${shown}`,
      ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
    });
  }

  /** `redact` as a function to hand to the decoder and the parsers, which quote server text in errors. */
  private readonly scrub = (text: string): string => this.redact(text);

  private redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    return out;
  }

  private trace(direction: TraceEvent['direction'], line: string): void {
    if (this.options.onTrace) this.options.onTrace({ direction, line: this.redact(line) });
  }
}

/** The forms in which a secret could appear on the wire or in a reply. */
function secretVariants(auth: Credentials): string[] {
  const out: string[] = [];
  for (const secret of [auth.password, auth.accessToken]) {
    if (!secret) continue;
    out.push(secret, Buffer.from(secret, 'utf8').toString('base64'));
  }
  return out.filter((s) => s.length >= 3);
}

function traceCommand(verb: string, line: Buffer): string {
  if (!CREDENTIAL_VERBS.has(verb) || verb === 'USER') return line.toString('utf8').trimEnd();
  if (verb === 'AUTH')
    return line.toString('utf8').trimEnd().split(' ').slice(0, 2).join(' ') + ' [redacted]';
  return `${verb} [redacted]`;
}

function decodeChallenge(text: string): Buffer {
  const trimmed = text.trim();
  return /^[A-Za-z0-9+/]*={0,2}$/.test(trimmed)
    ? Buffer.from(trimmed, 'base64')
    : Buffer.from(trimmed, 'utf8');
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
