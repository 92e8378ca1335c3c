import type { Socket } from 'node:net';
import type { Pop3Error } from './errors';
import { traceCommand, unsolicitedReplyError, type Redactor } from './redaction';
import type { AfterStatus, DecoderSink, StatusLine } from './reply-decoder';

/** What a pending command does with each part of its reply. */
export interface Pending {
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

/**
 * The FIFO between commands and their replies. Commands wait in `queue` until the window lets
 * them onto the wire, then in `inflight` until their reply is complete. POP3 replies carry no tag,
 * so they are matched to commands by order (RFC 2449 §6.6: a pipelining server answers in the
 * order the commands were sent), and only the command knows whether its reply has a body.
 *
 * The pipeline is the reply decoder's sink: every part of a reply goes to the head of `inflight`.
 */
export class CommandPipeline implements DecoderSink {
  /** Written, awaiting (the rest of) their reply; the head owns the reply being decoded. */
  readonly inflight: Pending[] = [];
  /** Not yet written. */
  readonly queue: Pending[] = [];
  /** True once the server offered PIPELINING after login: up to `window` commands in flight. */
  pipelining = false;
  private corked = false;

  constructor(
    /** Where commands are written; the session replaces it with the TLS socket after STLS. */
    public socket: Socket,
    private readonly window: number,
    private readonly redactor: Redactor,
  ) {}

  /** True when no command is queued or awaiting a reply. */
  get idle(): boolean {
    return this.inflight.length === 0 && this.queue.length === 0;
  }

  /** A reply that comes without a command (the greeting): it waits at the head of the FIFO. */
  expect(pending: Pending): void {
    this.inflight.push(pending);
  }

  push(pending: Pending): void {
    this.queue.push(pending);
    this.pump();
  }

  /** Removes every command, in flight and queued, for the session to fail them. */
  takeAll(): Pending[] {
    return [...this.inflight.splice(0), ...this.queue.splice(0)];
  }

  /** Writes queued commands while the window allows: many when pipelining, else one at a time. */
  pump(): void {
    const window = this.pipelining ? this.window : 1;
    while (this.queue.length > 0 && this.inflight.length < window) {
      const next = this.queue[0]!;
      if (next.exclusive && this.inflight.length > 0) break;
      if (this.inflight.some((p) => p.exclusive)) break;
      this.queue.shift();
      this.inflight.push(next);
      if (next.line) {
        this.redactor.trace('client', traceCommand(next.verb, next.line));
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
      }
    }
  }

  status(line: StatusLine): AfterStatus {
    const head = this.inflight[0];
    if (!head) throw unsolicitedReplyError(line, this.redactor);
    this.redactor.trace(
      'server',
      `${line.kind === 'ok' ? '+OK' : line.kind === 'err' ? '-ERR' : '+'} ${line.text}`,
    );
    const after = head.status(line);
    if (after === 'continue') return 'done';
    if (after !== 'body') {
      this.inflight.shift();
      this.pump();
    }
    return after;
  }

  data(chunk: Buffer): void {
    this.inflight[0]?.data?.(chunk);
  }

  overflow(limit: number): void {
    this.inflight[0]?.overflow?.(limit);
  }

  end(): void {
    this.inflight.shift()?.end?.();
  }
}
