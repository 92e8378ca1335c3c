import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { capaReply, multiLine, startFakeServer, type FakeContext, type FakeServer } from './fake-pop3-server';
import type { Expectation } from './recording-sink';

/**
 * A hostile POP3 mailbox on the scriptable fake server (fake-pop3-server.ts): a mailbox whose
 * listings may lie (wrong counts and sizes, duplicate or missing UIDs) and whose replies may be
 * cut at any byte, never sent, dripped a byte at a time, or have their bytes mutated.
 *
 * It knows the truth: every byte it wrote on each connection and every command it received, so
 * the meaning of the stream (which bytes are the reply to `RETR n`, as RFC 1939 framing and the
 * client's FIFO of commands assign them) can be worked out afterwards by a reference decoder; and
 * it calls `onDele` the moment a `DELE` arrives, so a test can check, then and there, that the
 * message was archived and announced first.
 */

export type HostileVerb =
  'greeting' | 'CAPA' | 'USER' | 'PASS' | 'AUTH' | 'STAT' | 'LIST' | 'UIDL' | 'RETR' | 'DELE' | 'QUIT';

/** What the server does wrong with the `nth` (0-based, per connection) reply to `verb`. */
export type Fault =
  /**
   * Writes the first octets of the reply, then closes: `atByte` of them, or `floor(at × (length + 1))`
   * (`at` a fraction in [0, 1], so that the cut can fall at any byte of a reply whose length the
   * caller does not know); never more than the reply.
   */
  | {
      readonly kind: 'close';
      readonly verb: HostileVerb;
      readonly nth: number;
      readonly at?: number;
      readonly atByte?: number;
    }
  /** Never answers this or anything after it; the connection stays open. */
  | { readonly kind: 'silent'; readonly verb: HostileVerb; readonly nth: number }
  /** Writes the reply one octet at a time, `delayMs` apart (and goes on with later replies). */
  | { readonly kind: 'drip'; readonly verb: HostileVerb; readonly nth: number; readonly delayMs: number }
  /**
   * Never ends: a multi-line reply whose body goes on for as long as the client reads, a status
   * line without a line ending, or (AUTH) a SASL challenge in answer to every line from then on.
   */
  | { readonly kind: 'endless'; readonly verb: HostileVerb; readonly nth: number }
  /**
   * Never ends, slowly: a multi-line reply (`+OK` and body lines) of which `octets` arrive every
   * `everyMs`, for as long as the connection lasts (just above the progress watchdog's rate, it
   * never counts as stalled: functions/pop3/progress-watchdog.ts).
   */
  | {
      readonly kind: 'trickle';
      readonly verb: HostileVerb;
      readonly nth: number;
      readonly octets: number;
      readonly everyMs: number;
    }
  /** Writes other bytes instead of the reply. */
  | {
      readonly kind: 'mutate';
      readonly verb: HostileVerb;
      readonly nth: number;
      readonly mutate: (wire: Buffer) => Buffer;
      /** For reports. */
      readonly label: string;
    };

export interface HostileMailboxOptions {
  /** Message n is `messages[n - 1]`. */
  readonly messages: readonly Buffer[];
  /** UIDL of each message (default `uid-<n>`); an `undefined` entry is left out of the UIDL list. */
  readonly uidls?: ReadonlyArray<string | undefined>;
  /** Lines of the LIST body (default: the truth); lets a test list wrong numbers, sizes, counts. */
  readonly listLines?: readonly string[];
  /** Extra lines at the end of the UIDL body (wrong counts, numbers that do not exist). */
  readonly extraUidlLines?: readonly string[];
  /** Capabilities after login; before login the server lists USER and UIDL. */
  readonly capabilities?: readonly string[];
  /** Offer SASL PLAIN (RFC 4616) before login. */
  readonly saslPlain?: boolean;
  readonly password: string;
  readonly greeting?: Buffer;
  /** The APOP timestamp the server means by its greeting: APOP is accepted with it (RFC 1939 §7). */
  readonly apopTimestamp?: string;
  readonly faults?: readonly Fault[];
  /** Called when a DELE arrives, before it is answered. */
  readonly onDele?: (dele: { connection: number; messageNumber: number }) => void;
}

export interface HostileMailbox {
  readonly server: FakeServer;
  readonly port: number;
  /** Everything written per connection, in order. */
  written(connection: number): Buffer;
  /** What each connection's client expected of each reply, greeting first (multi/single). */
  script(connection: number): Expectation[];
  /** Command lines per connection, in order (PASS arguments included: the server may see them). */
  commands(connection: number): string[];
  /** Connections whose QUIT was answered: their DELEs were committed. */
  committed(): number[];
  connections(): number;
  close(): Promise<void>;
}

/** Verbs whose reply to the client's form of the command is multi-line (RFC 1939, RFC 2449). */
const MULTI = new Set(['CAPA', 'LIST', 'UIDL', 'RETR', 'TOP']);

/** Writes for as long as the connection lasts, as fast as the client reads. */
async function endless(ctx: FakeContext, multiLine: boolean): Promise<void> {
  const socket = ctx.socket;
  socket.write(multiLine ? '+OK here it comes\r\n' : '+OK ');
  const chunk = Buffer.from(multiLine ? '1 1000 and so on and so forth\r\n'.repeat(2048) : 'x'.repeat(65536));
  while (!socket.destroyed && socket.writable) {
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    }
  }
}

/** Writes `octets` of an endless multi-line reply every `everyMs`, for as long as the connection lasts. */
async function trickle(ctx: FakeContext, octets: number, everyMs: number): Promise<void> {
  const line = 'trickling along, never ending\r\n';
  const chunk = Buffer.from(line.repeat(Math.ceil(octets / line.length))).subarray(0, octets);
  ctx.socket.write('+OK here it comes, slowly\r\n');
  while (!ctx.socket.destroyed && ctx.socket.writable) {
    ctx.socket.write(chunk);
    await sleep(everyMs);
  }
}

export async function startHostileMailbox(options: HostileMailboxOptions): Promise<HostileMailbox> {
  const messages = options.messages;
  const uidls = options.uidls ?? messages.map((_, i) => `uid-${i + 1}`);
  const streams = new Map<number, Buffer[]>();
  const commandLines = new Map<number, string[]>();
  const counts = new Map<string, number>();
  const muted = new Set<number>();
  /** Connections answering every line with a SASL challenge (an endless AUTH). */
  const challenging = new Set<number>();
  const loggedIn = new Set<number>();
  const committed: number[] = [];

  const record = (ctx: FakeContext, data: Buffer) => {
    if (ctx.socket.destroyed) return;
    const list = streams.get(ctx.connection) ?? [];
    list.push(data);
    streams.set(ctx.connection, list);
    ctx.write(data);
  };

  /** Sends `wire` as the reply to this connection's next `verb`, with that reply's fault if any. */
  const reply = (verb: HostileVerb, wire: Buffer, after?: () => void) => async (ctx: FakeContext) => {
    const key = `${ctx.connection}:${verb}`;
    const nth = counts.get(key) ?? 0;
    counts.set(key, nth + 1);
    if (muted.has(ctx.connection)) return;
    const fault = options.faults?.find((f) => f.verb === verb && f.nth === nth);
    if (!fault) {
      record(ctx, wire);
      after?.();
      return;
    }
    switch (fault.kind) {
      case 'close':
        record(
          ctx,
          wire.subarray(
            0,
            Math.min(fault.atByte ?? Math.floor((fault.at ?? 0) * (wire.length + 1)), wire.length),
          ),
        );
        // Let the bytes leave before the close, as a server that crashes mid-write would.
        await new Promise((resolve) => setImmediate(resolve));
        ctx.close();
        return;
      case 'silent':
        muted.add(ctx.connection);
        return;
      case 'drip':
        for (let i = 0; i < wire.length; i++) {
          if (ctx.socket.destroyed) return;
          record(ctx, wire.subarray(i, i + 1));
          await sleep(fault.delayMs);
        }
        after?.();
        return;
      case 'mutate':
        record(ctx, fault.mutate(wire));
        after?.();
        return;
      case 'endless':
        if (verb === 'AUTH') {
          challenging.add(ctx.connection);
          record(ctx, Buffer.from('+ \r\n'));
          return;
        }
        await endless(ctx, MULTI.has(verb));
        return;
      case 'trickle':
        await trickle(ctx, fault.octets, fault.everyMs);
        return;
    }
  };

  const message = (arg: string | undefined): number | undefined => {
    if (arg === undefined || !/^[0-9]+$/.test(arg)) return undefined;
    const n = Number(arg);
    return n >= 1 && n <= messages.length ? n : undefined;
  };
  const text = (s: string) => Buffer.from(s, 'latin1');

  const server = await startFakeServer({
    greeting: (ctx) => reply('greeting', options.greeting ?? text('+OK hostile POP3 ready\r\n'))(ctx),
    handle(line, ctx) {
      const lines = commandLines.get(ctx.connection) ?? [];
      lines.push(line);
      commandLines.set(ctx.connection, lines);
      if (challenging.has(ctx.connection)) return (c: FakeContext) => record(c, text('+ \r\n'));
      const [rawVerb = '', arg] = line.split(' ');
      const verb = rawVerb.toUpperCase();
      const session = ctx.connection;
      switch (verb) {
        case 'CAPA':
          return reply(
            'CAPA',
            capaReply(
              'USER',
              'UIDL',
              ...(loggedIn.has(session)
                ? (options.capabilities ?? [])
                : options.saslPlain
                  ? ['SASL PLAIN']
                  : []),
            ),
          );
        case 'USER':
          return reply('USER', text('+OK\r\n'));
        case 'PASS':
          if (arg !== options.password) return reply('PASS', text('-ERR [AUTH] invalid login\r\n'));
          loggedIn.add(session);
          return reply('PASS', text('+OK logged in\r\n'));
        case 'AUTH': {
          // RFC 4616 in one line (RFC 5034 §4 initial response): authzid NUL user NUL password.
          const fields = Buffer.from(line.split(' ')[2] ?? '', 'base64')
            .toString('utf8')
            .split('\0');
          if (!options.saslPlain || fields[2] !== options.password)
            return reply('AUTH', text('-ERR [AUTH] invalid login\r\n'));
          loggedIn.add(session);
          return reply('AUTH', text('+OK logged in\r\n'));
        }
        case 'APOP': {
          const digest = options.apopTimestamp
            ? createHash('md5').update(`${options.apopTimestamp}${options.password}`).digest('hex')
            : undefined;
          if (digest === undefined || line.split(' ')[2] !== digest)
            return reply('PASS', text('-ERR [AUTH] invalid login\r\n'));
          loggedIn.add(session);
          return reply('PASS', text('+OK logged in\r\n'));
        }
        case 'QUIT':
          // RFC 1939 §6: the QUIT itself enters UPDATE; whether its reply arrives does not matter.
          if (!muted.has(session) && loggedIn.has(session)) committed.push(session);
          return async (ctx: FakeContext) => {
            await reply('QUIT', text('+OK bye\r\n'))(ctx);
            if (!muted.has(session)) ctx.close();
          };
      }
      if (!loggedIn.has(session)) return reply(verb as HostileVerb, text('-ERR not logged in\r\n'));
      const n = message(arg);
      switch (verb) {
        case 'STAT':
          return reply(
            'STAT',
            text(`+OK ${messages.length} ${messages.reduce((sum, m) => sum + m.length, 0)}\r\n`),
          );
        case 'LIST':
          return reply(
            'LIST',
            multiLine(
              (options.listLines ?? messages.map((m, i) => `${i + 1} ${m.length}`))
                .map((l) => `${l}\r\n`)
                .join(''),
            ),
          );
        case 'UIDL':
          return reply(
            'UIDL',
            multiLine(
              [
                ...uidls.flatMap((u, i) => (u === undefined ? [] : [`${i + 1} ${u}`])),
                ...(options.extraUidlLines ?? []),
              ]
                .map((l) => `${l}\r\n`)
                .join(''),
            ),
          );
        case 'RETR':
          return reply('RETR', n ? multiLine(messages[n - 1]!) : text('-ERR no such message\r\n'));
        case 'DELE':
          if (n) options.onDele?.({ connection: session, messageNumber: n });
          return reply('DELE', text(n ? '+OK deleted\r\n' : '-ERR no such message\r\n'));
        default:
          return text('-ERR unknown command\r\n');
      }
    },
  });

  return {
    server,
    port: server.port,
    written: (connection) => Buffer.concat(streams.get(connection) ?? []),
    script: (connection) => [
      'single',
      ...(commandLines.get(connection) ?? []).map((line): Expectation => {
        const [verb = '', ...args] = line.split(' ');
        return MULTI.has(verb.toUpperCase()) &&
          (verb.toUpperCase() === 'RETR' || verb.toUpperCase() === 'TOP' || args.length === 0)
          ? 'multi'
          : 'single';
      }),
    ],
    commands: (connection) => [...(commandLines.get(connection) ?? [])],
    committed: () => [...committed],
    connections: () => server.connections(),
    close: () => server.close(),
  };
}
