import { TLSSocket } from 'node:tls';
import { capaReply, multiLine, toCrlf, topOf } from './replies';
import {
  startFakeServer,
  type FakeContext,
  type FakeScript,
  type FakeServer,
  type FakeServerOptions,
  type Reply,
} from './server';

/**
 * One user's mailbox in memory, as a script for the scriptable server (server.ts): what
 * `pop3-poller demo` serves, and what the tests poll when they need no real server, or a server
 * rule Dovecot has no setting for. It keeps the rules of RFC 1939 a client can observe:
 *
 * - AUTHORIZATION: USER/PASS (§7); CAPA in every state (RFC 2449 §5); STLS when offered
 *   (RFC 2595 §4), after which the client must start over.
 * - TRANSACTION: message numbers are fixed at login (§5): mail added later is not seen by a session
 *   already open; a message marked by DELE is neither listed nor retrieved again; RSET unmarks.
 * - UPDATE: only QUIT removes what was marked (§6) — and, with `expireZero` (RFC 2449 §6.7,
 *   `EXPIRE 0`), whatever was retrieved too; a session that ends any other way removes nothing.
 *
 * Each message has an id (1, 2, … in the order added) and a UIDL, which the caller may choose,
 * reuse included.
 */

export interface MailboxMessage {
  readonly bytes: Buffer;
  readonly uidl: string;
}

export interface FakeMailboxOptions {
  /** The one user. Default: any user name is accepted. */
  readonly username?: string;
  readonly password: string;
  /** Messages to start with (ids 1, 2, …; UIDL `uid-<id>`). */
  readonly messages?: ReadonlyArray<string | Buffer>;
  /** Sent on connect. Default `+OK fake POP3 ready`. */
  readonly greeting?: Reply;
  /** CAPA lines before login. Default `USER UIDL TOP PIPELINING RESP-CODES` (+ `STLS` with `stls`). */
  readonly capabilities?: readonly string[];
  /** CAPA lines after login. Default: `capabilities` (without `STLS`). */
  readonly capabilitiesAfterLogin?: readonly string[];
  /** Offer STLS while the session is in plaintext (the server needs a certificate). */
  readonly stls?: boolean;
  /** Refuse PASS until the session is encrypted (STLS or implicit TLS). */
  readonly requireTls?: boolean;
  /** RFC 2449 §6.7 `EXPIRE 0`: QUIT removes every message retrieved in the session. */
  readonly expireZero?: boolean;
  /** Serve bare LFs as CRLF, sizes included, as Dovecot serves a message stored that way. */
  readonly crlf?: boolean;
  /** The size LIST gives for a message (default: its real size); a server may understate it. */
  readonly listSize?: (id: number, size: number) => number;
  /** Checked first for every line; return `undefined` to fall through to the mailbox's reply. */
  readonly override?: (line: string, ctx: FakeContext) => Reply | undefined | Promise<Reply | undefined>;
}

export const DEFAULT_CAPABILITIES: readonly string[] = ['USER', 'UIDL', 'TOP', 'PIPELINING', 'RESP-CODES'];

interface Session {
  user: string | undefined;
  loggedIn: boolean;
  /** Message ids by message number - 1, fixed at login. */
  numbers: number[];
  retrieved: Set<number>;
  marked: Set<number>;
}

const TRANSACTION_COMMANDS = new Set(['STAT', 'LIST', 'UIDL', 'RETR', 'TOP', 'DELE', 'RSET']);

export class FakeMailbox {
  /** The messages on the server, by id. */
  readonly live = new Map<number, MailboxMessage>();
  /** The script to serve this mailbox with: `startFakeServer(mailbox.script, …)`. */
  readonly script: FakeScript;
  private nextId = 1;
  private quitCount = 0;
  private readonly sessions = new Map<number, Session>();

  constructor(private readonly options: FakeMailboxOptions) {
    for (const message of options.messages ?? []) this.add(Buffer.from(message));
    this.script = {
      ...(options.greeting !== undefined ? { greeting: options.greeting } : {}),
      handle: async (line, ctx) => (await options.override?.(line, ctx)) ?? this.reply(line, ctx),
    };
  }

  /** Adds a message (UIDL `uid-<id>` unless given); returns its id. */
  add(bytes: Buffer, uidl?: string): number {
    const id = this.nextId++;
    this.live.set(id, { bytes, uidl: uidl ?? `uid-${id}` });
    return id;
  }

  /** QUITs answered so far. */
  quits(): number {
    return this.quitCount;
  }

  /** The bytes RETR sends (before dot-stuffing). */
  private served(message: MailboxMessage): Buffer {
    return this.options.crlf ? toCrlf(message.bytes) : message.bytes;
  }

  private session(ctx: FakeContext): Session {
    let session = this.sessions.get(ctx.connection);
    if (!session) {
      session = { user: undefined, loggedIn: false, numbers: [], retrieved: new Set(), marked: new Set() };
      this.sessions.set(ctx.connection, session);
    }
    return session;
  }

  private reply(line: string, ctx: FakeContext): Reply | undefined {
    const session = this.session(ctx);
    const [word = '', ...args] = line.split(' ');
    const verb = word.toUpperCase();
    const secure = ctx.socket instanceof TLSSocket;
    switch (verb) {
      case 'CAPA':
        return capaReply(...this.capabilities(session, secure));
      case 'NOOP':
        return '+OK\r\n';
      case 'QUIT':
        return this.quit(session);
    }
    if (!session.loggedIn) {
      switch (verb) {
        case 'STLS':
          if (!this.options.stls || secure) return '-ERR TLS is not available here\r\n';
          return async (c) => {
            c.write('+OK Begin TLS negotiation\r\n');
            // RFC 2595 §4: the client forgets what it learnt; so does the server.
            session.user = undefined;
            await c.startTls();
          };
        case 'USER':
          session.user = args.join(' ');
          return '+OK\r\n';
        case 'PASS':
          if (this.options.requireTls && !secure) return '-ERR [AUTH] use STLS first\r\n';
          if (
            session.user === undefined ||
            (this.options.username !== undefined && session.user !== this.options.username) ||
            args.join(' ') !== this.options.password
          )
            return '-ERR [AUTH] invalid login\r\n';
          session.loggedIn = true;
          session.numbers = [...this.live.keys()];
          return '+OK logged in\r\n';
      }
      return TRANSACTION_COMMANDS.has(verb) ? '-ERR not logged in\r\n' : undefined;
    }
    if (verb === 'USER' || verb === 'PASS' || verb === 'STLS') return '-ERR already logged in\r\n';
    return this.transaction(session, verb, args);
  }

  private capabilities(session: Session, secure: boolean): string[] {
    const before = this.options.capabilities ?? DEFAULT_CAPABILITIES;
    if (!session.loggedIn) return [...before, ...(this.options.stls && !secure ? ['STLS'] : [])];
    return [
      ...(this.options.capabilitiesAfterLogin ?? before),
      ...(this.options.expireZero ? ['EXPIRE 0'] : []),
    ];
  }

  private transaction(session: Session, verb: string, args: string[]): Reply | undefined {
    /** The visible messages of this session, by message number. */
    const visible = () =>
      session.numbers.flatMap((id, i) => {
        const message = this.live.get(id);
        return message && !session.marked.has(id) ? [{ n: i + 1, id, message }] : [];
      });
    const numbered = (arg: string | undefined) => {
      if (arg === undefined || !/^[1-9]\d*$/.test(arg)) return undefined;
      const id = session.numbers[Number(arg) - 1];
      const message = id === undefined ? undefined : this.live.get(id);
      return message && !session.marked.has(id!) ? { n: Number(arg), id: id!, message } : undefined;
    };
    const size = (m: { id: number; message: MailboxMessage }) => {
      const real = this.served(m.message).length;
      return this.options.listSize ? this.options.listSize(m.id, real) : real;
    };
    const one = numbered(args[0]);
    const missing = `-ERR no such message\r\n`;
    switch (verb) {
      case 'STAT': {
        const all = visible();
        return `+OK ${all.length} ${all.reduce((sum, m) => sum + this.served(m.message).length, 0)}\r\n`;
      }
      case 'LIST':
        if (args[0] !== undefined) return one ? `+OK ${one.n} ${size(one)}\r\n` : missing;
        return multiLine(
          visible()
            .map((m) => `${m.n} ${size(m)}\r\n`)
            .join(''),
        );
      case 'UIDL':
        if (args[0] !== undefined) return one ? `+OK ${one.n} ${one.message.uidl}\r\n` : missing;
        return multiLine(
          visible()
            .map((m) => `${m.n} ${m.message.uidl}\r\n`)
            .join(''),
        );
      case 'RETR':
        if (!one) return missing;
        session.retrieved.add(one.id);
        return multiLine(this.served(one.message));
      case 'TOP': {
        const lines = args[1];
        if (!one || lines === undefined || !/^\d+$/.test(lines)) return missing;
        return multiLine(topOf(this.served(one.message), Number(lines)));
      }
      case 'DELE':
        if (!one) return missing;
        session.marked.add(one.id);
        return `+OK message ${one.n} deleted\r\n`;
      case 'RSET':
        session.marked.clear();
        return '+OK\r\n';
      default:
        return undefined;
    }
  }

  private quit(session: Session): Reply {
    this.quitCount += 1;
    if (session.loggedIn) {
      const gone = this.options.expireZero ? [...session.retrieved, ...session.marked] : [...session.marked];
      for (const id of gone) this.live.delete(id);
      session.loggedIn = false;
      session.marked.clear();
      session.retrieved.clear();
    }
    // A graceful close, as a real server ends the session: the reply is flushed before the FIN.
    return (ctx) => {
      ctx.write('+OK bye\r\n');
      ctx.socket.end();
    };
  }
}

/** A mailbox served on 127.0.0.1 (a free port), with the server options given (certificate, TLS). */
export async function startFakeMailbox(
  options: FakeMailboxOptions,
  serverOptions: FakeServerOptions = {},
): Promise<{ readonly mailbox: FakeMailbox; readonly server: FakeServer }> {
  const mailbox = new FakeMailbox(options);
  return { mailbox, server: await startFakeServer(mailbox.script, serverOptions) };
}
