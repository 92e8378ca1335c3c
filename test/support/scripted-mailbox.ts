import type { AccountConfig } from '../../functions/poller/account';
import { capaReply, multiLine, startFakeServer, type FakeScript, type FakeServer } from './fake-pop3-server';
import { loopbackAccount } from './poll-fixtures';
import { whenDone } from './temp';

/**
 * A POP3 mailbox whose server-side rules a test sets, on the fake server: behaviours Dovecot has
 * no setting for. Messages have ids (1, 2, … in the order added) and a UIDL each, which a test may
 * choose, reuse included. Per session (RFC 1939 §5): message numbers are fixed at login; a QUIT
 * removes what was DELE'd — and, with `expireZero` (RFC 2449 §6.7, `EXPIRE 0` in CAPA after login),
 * whatever was retrieved too; a session that ends without QUIT removes nothing.
 */

export const SCRIPTED_PASSWORD = 'scripted-pw-3b1d';

/** Mailboxes started and not closed: closed when the test file is done. */
const open = new Set<FakeServer>();
whenDone(() => Promise.all([...open].map((server) => server.close())).then(() => undefined));

export interface ScriptedMailboxOptions {
  readonly expireZero?: boolean;
  /** The size LIST gives for a message (default: its real size); a server may understate it. */
  readonly listSize?: (id: number, size: number) => number;
  /** More capabilities to list after login, e.g. `LOGIN-DELAY 300`. */
  readonly capabilitiesAfterLogin?: readonly string[];
}

export interface ScriptedMessage {
  readonly bytes: Buffer;
  readonly uidl: string;
}

export interface ScriptedMailbox {
  readonly server: FakeServer;
  /** The messages on the server, by id. */
  readonly live: Map<number, ScriptedMessage>;
  /** Adds a message (UIDL `uid-<id>` unless given); returns its id. */
  add(bytes: Buffer, uidl?: string): number;
  /** QUITs the server has answered so far. */
  quits(): number;
  /** An account for this server: plaintext on loopback, USER/PASS (loopbackAccount). */
  account(id: string, overrides?: Partial<AccountConfig>): AccountConfig;
  /** Closes the server now (else it is closed when the test file is done). */
  close(): Promise<void>;
}

interface Session {
  loggedIn: boolean;
  numbers: number[];
  retrieved: Set<number>;
  deleted: Set<number>;
}

export async function startScriptedMailbox(
  messages: readonly Buffer[] = [],
  options: ScriptedMailboxOptions = {},
): Promise<ScriptedMailbox> {
  const live = new Map<number, ScriptedMessage>();
  let nextId = 1;
  let quits = 0;
  const add = (bytes: Buffer, uidl?: string) => {
    const id = nextId++;
    live.set(id, { bytes, uidl: uidl ?? `uid-${id}` });
    return id;
  };
  for (const m of messages) add(m);
  const listSize = options.listSize ?? ((_id: number, size: number) => size);
  const sessions = new Map<number, Session>();

  const script: FakeScript = {
    handle(line, ctx) {
      let session = sessions.get(ctx.connection);
      if (!session) {
        session = { loggedIn: false, numbers: [], retrieved: new Set(), deleted: new Set() };
        sessions.set(ctx.connection, session);
      }
      const [verb = '', arg] = line.split(' ');
      const id = session.numbers[Number(arg) - 1];
      const message = id === undefined ? undefined : live.get(id);
      switch (verb.toUpperCase()) {
        case 'CAPA':
          return capaReply(
            'USER',
            'UIDL',
            ...(session.loggedIn && options.expireZero ? ['EXPIRE 0'] : []),
            ...(session.loggedIn ? (options.capabilitiesAfterLogin ?? []) : []),
          );
        case 'USER':
          return '+OK\r\n';
        case 'PASS':
          if (arg !== SCRIPTED_PASSWORD) return '-ERR [AUTH] invalid login\r\n';
          session.loggedIn = true;
          session.numbers = [...live.keys()];
          return '+OK logged in\r\n';
        case 'STAT': {
          const all = session.numbers.map((n) => live.get(n)!.bytes.length);
          return `+OK ${all.length} ${all.reduce((a, b) => a + b, 0)}\r\n`;
        }
        case 'LIST':
          return multiLine(
            session.numbers.map((n, i) => `${i + 1} ${listSize(n, live.get(n)!.bytes.length)}\r\n`).join(''),
          );
        case 'UIDL':
          return multiLine(session.numbers.map((n, i) => `${i + 1} ${live.get(n)!.uidl}\r\n`).join(''));
        case 'RETR':
          if (!message) return '-ERR no such message\r\n';
          session.retrieved.add(id!);
          return multiLine(message.bytes);
        case 'DELE':
          if (!message) return '-ERR no such message\r\n';
          session.deleted.add(id!);
          return '+OK deleted\r\n';
        case 'QUIT': {
          quits += 1;
          const gone = options.expireZero ? [...session.retrieved, ...session.deleted] : [...session.deleted];
          for (const n of gone) live.delete(n);
          return ['+OK bye\r\n', 'close'];
        }
        default:
          return undefined;
      }
    },
  };
  const server = await startFakeServer(script);
  open.add(server);
  return {
    server,
    live,
    add,
    quits: () => quits,
    account: (id, overrides = {}) => loopbackAccount(id, server.port, { authMethod: 'USER', ...overrides }),
    close: () => {
      open.delete(server);
      return server.close();
    },
  };
}
