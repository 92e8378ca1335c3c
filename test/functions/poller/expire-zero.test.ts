import { pollAccount, type AccountResult } from '../../../functions/poller/poll-account';
import { MemoryArchive, MemoryEventSink, StaticCredentials } from '../../support/memory-ports';
import { makeMessage, makeMessages } from '../../support/poll-fixtures';
import { SCRIPTED_PASSWORD, startScriptedMailbox } from '../../support/scripted-mailbox';

/**
 * A server that keeps nothing it has sent (RFC 2449 §6.7, EXPIRE 0; Gmail advertises it too): the
 * QUIT that ends a session removes every message retrieved in it, DELE'd or not. The workflow must
 * never let a QUIT take a message that was retrieved but not archived.
 */

async function world(messages: Buffer[], listSize?: (id: number, size: number) => number) {
  const mailbox = await startScriptedMailbox(messages, {
    expireZero: true,
    ...(listSize ? { listSize } : {}),
  });
  const archive = new MemoryArchive();
  const events = new MemoryEventSink();
  const run = (options: { maxMessageBytes?: number } = {}): Promise<AccountResult> =>
    pollAccount(
      mailbox.account('expire'),
      { credentials: new StaticCredentials({ expire: { password: SCRIPTED_PASSWORD } }), archive, events },
      { runId: 'run', ...options },
    );
  /** Every message is archived, still on the server, or both; none is anywhere else or missing. */
  const expectNothingLost = () => {
    const onServer = [...mailbox.live.values()].map((m) => m.bytes);
    const found = new Set([...archive.contents(), ...onServer].map((b) => b.toString('base64')));
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
