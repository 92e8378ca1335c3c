import type { AccountConfig } from '../../../functions/poller/account';
import { pollAccount, type AccountResult } from '../../../functions/poller/poll-account';
import { capaReply, multiLine, startFakeServer, type FakeServer } from '../../support/fake-pop3-server';
import { MemoryArchive, MemoryEventSink, StaticCredentials } from '../../support/memory-ports';
import { makeMessage, makeMessages } from '../../support/poll-fixtures';

/**
 * A server that keeps nothing it has sent (RFC 2449 §6.7, EXPIRE 0; Gmail advertises it too): the
 * QUIT that ends a session removes every message retrieved in it, DELE'd or not. Dovecot has no
 * such mode, so this mailbox is scripted. The workflow must never let a QUIT take a message that
 * was retrieved but not archived.
 */

const PASSWORD = 'expire-zero-pw-3b1d';

interface Session {
  loggedIn: boolean;
  /** Message number → message id, fixed at login (RFC 1939 §5). */
  numbers: number[];
  retrieved: Set<number>;
  deleted: Set<number>;
}

/** `listSize` lets a test make the server understate a message's size in LIST. */
function expireZeroMailbox(messages: Buffer[], listSize = (_id: number, size: number) => size) {
  const live = new Map(messages.map((m, i) => [i + 1, m]));
  const sessions = new Map<number, Session>();
  let quits = 0;
  const script = {
    handle(line: string, ctx: { connection: number }) {
      const session = sessions.get(ctx.connection) ?? {
        loggedIn: false,
        numbers: [],
        retrieved: new Set<number>(),
        deleted: new Set<number>(),
      };
      sessions.set(ctx.connection, session);
      const [verb = '', arg] = line.split(' ');
      const id = session.numbers[Number(arg) - 1];
      switch (verb.toUpperCase()) {
        case 'CAPA':
          return session.loggedIn ? capaReply('USER', 'UIDL', 'EXPIRE 0') : capaReply('USER', 'UIDL');
        case 'USER':
          return '+OK\r\n';
        case 'PASS':
          if (arg !== PASSWORD) return '-ERR [AUTH] invalid login\r\n';
          session.loggedIn = true;
          session.numbers = [...live.keys()];
          return '+OK logged in\r\n';
        case 'LIST':
          return multiLine(
            session.numbers.map((m, i) => `${i + 1} ${listSize(m, live.get(m)!.length)}\r\n`).join(''),
          );
        case 'UIDL':
          return multiLine(session.numbers.map((m, i) => `${i + 1} uid-${m}\r\n`).join(''));
        case 'RETR':
          if (id === undefined) return '-ERR no such message\r\n';
          session.retrieved.add(id);
          return multiLine(live.get(id)!);
        case 'DELE':
          if (id === undefined) return '-ERR no such message\r\n';
          session.deleted.add(id);
          return '+OK deleted\r\n';
        case 'QUIT':
          quits += 1;
          for (const gone of [...session.retrieved, ...session.deleted]) live.delete(gone);
          return ['+OK bye\r\n', 'close'] as const;
        default:
          return undefined;
      }
    },
  };
  return { script, live, quits: () => quits };
}

const servers: FakeServer[] = [];
afterAll(() => Promise.all(servers.map((s) => s.close())));

async function world(messages: Buffer[], listSize?: (id: number, size: number) => number) {
  const mailbox = expireZeroMailbox(messages, listSize);
  const server = await startFakeServer(mailbox.script);
  servers.push(server);
  const account: AccountConfig = {
    id: 'expire',
    host: '127.0.0.1',
    port: server.port,
    tls: 'none',
    allowPlaintextAuth: true,
    username: 'alice',
    authMethod: 'USER',
  };
  const archive = new MemoryArchive();
  const events = new MemoryEventSink();
  const run = (options: { maxMessageBytes?: number } = {}): Promise<AccountResult> =>
    pollAccount(
      account,
      { credentials: new StaticCredentials({ expire: { password: PASSWORD } }), archive, events },
      { runId: 'run', ...options },
    );
  /** Every message is archived, still on the server, or both; none is anywhere else or missing. */
  const expectNothingLost = () => {
    const found = new Set([...archive.contents(), ...mailbox.live.values()].map((b) => b.toString('base64')));
    expect([...found].sort()).toEqual(messages.map((b) => b.toString('base64')).sort());
  };
  return { mailbox, archive, run, expectNothingLost };
}

describe('at a server that keeps nothing it sent (EXPIRE 0)', () => {
  it('a message retrieved but not archived keeps the session from QUIT; the next run commits all', async () => {
    const messages = makeMessages(5, { batch: 'expire-a' });
    const { mailbox, archive, run, expectNothingLost } = await world(messages);
    archive.failWhen = (_item, bytes) => (bytes.equals(messages[2]!) ? new Error('disk full') : undefined);

    const first = await run();

    expect(first).toMatchObject({ status: 'failed', error: { code: 'EARCHIVE' }, deleted: 0 });
    expect(first.messageErrors).toEqual(
      expect.arrayContaining([expect.objectContaining({ code: 'EUNCOMMITTED', retryable: true })]),
    );
    expect(mailbox.quits()).toBe(0);
    expect(mailbox.live.size).toBe(5); // QUIT would have taken message 3 with the others
    expectNothingLost();

    archive.failWhen = () => undefined;
    const second = await run();

    expect(second).toMatchObject({ status: 'ok', archived: 5, alreadyArchived: 4, deleted: 5 });
    expect(mailbox.quits()).toBe(1);
    expect(mailbox.live.size).toBe(0);
    expect(archive.contents()).toEqual(messages.slice().sort(Buffer.compare));
  });

  it('when every retrieved message was archived, the session QUITs as usual', async () => {
    const messages = makeMessages(3, { batch: 'expire-b' });
    const { mailbox, run, expectNothingLost } = await world(messages);

    expect(await run()).toMatchObject({ status: 'ok', archived: 3, deleted: 3, messageErrors: [] });
    expect(mailbox.quits()).toBe(1);
    expect(mailbox.live.size).toBe(0);
    expectNothingLost();
  });

  it('a message over maxMessageBytes by its LIST size is never retrieved, so the session still QUITs', async () => {
    const messages = [makeMessage(1), makeMessage(2, { bodyBytes: 40_000 }), makeMessage(3)];
    const { mailbox, run, expectNothingLost } = await world(messages);

    const result = await run({ maxMessageBytes: 16 * 1024 });

    expect(result).toMatchObject({
      status: 'partial',
      archived: 2,
      deleted: 2,
      failedMessages: 1,
      remaining: 1,
    });
    expect(result.messageErrors).toEqual([expect.objectContaining({ code: 'ELIMIT' })]);
    expect(mailbox.quits()).toBe(1);
    expect([...mailbox.live.keys()]).toEqual([2]);
    expectNothingLost();
  });

  it('a LIST size that understates lets the message arrive and overflow: no QUIT, nothing lost', async () => {
    const messages = [makeMessage(1), makeMessage(2, { bodyBytes: 40_000 }), makeMessage(3)];
    const { mailbox, run, expectNothingLost } = await world(messages, (id, size) => (id === 2 ? 900 : size));

    const result = await run({ maxMessageBytes: 16 * 1024 });

    expect(result).toMatchObject({ status: 'partial', archived: 2, deleted: 0, failedMessages: 1 });
    expect(result.messageErrors.map((e) => e.code)).toEqual(['ELIMIT', 'EUNCOMMITTED']);
    expect(mailbox.quits()).toBe(0);
    expect(mailbox.live.size).toBe(3);
    expectNothingLost();
  });
});
