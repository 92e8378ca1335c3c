import { AccountRun } from '../../../functions/poller/account-run';
import type { MessageArchivedDetail } from '../../../functions/poller/events';
import type { AccountResult, PollOptions } from '../../../functions/poller/poll-account';
import { MemoryMailbox } from '../../support/memory-mailbox';
import { MemoryArchive, MemoryEventSink } from '../../support/memory-ports';
import { makeMessages } from '../../support/poll-fixtures';

/**
 * The run over the mailbox port alone (an in-memory mailbox, no socket): what reaches the server
 * and in which order, against what was stored and announced. `log` interleaves the mailbox's
 * commands with each successful archive put (`PUT n`) and published event (`EVENT n`).
 */
function world(count: number, options: Partial<PollOptions> = {}) {
  const messages = makeMessages(count, { batch: 'account-run' });
  const log: string[] = [];
  const mailbox = new MemoryMailbox(messages, log);
  const archive = new MemoryArchive();
  const events = new MemoryEventSink();
  const number = (uidl: string | null | undefined) => Number(String(uidl).replace('uid-', ''));
  let failPut: (n: number) => Error | undefined = () => undefined;
  let failEvent: (n: number) => boolean = () => false;
  archive.failWhen = (item) => {
    const failure = failPut(number(item.uidl));
    if (!failure) log.push(`PUT ${number(item.uidl)}`);
    return failure;
  };
  events.failWhen = (event) => {
    const n = number((event.detail as MessageArchivedDetail).uidl);
    if (failEvent(n)) return true;
    log.push(`EVENT ${n}`);
    return false;
  };
  const run = (): Promise<AccountResult> =>
    new AccountRun({ id: 'acct' }, { mailbox, archive, events }, { runId: 'r', ...options }).run();
  return {
    messages,
    log,
    mailbox,
    archive,
    run,
    failPut: (f: typeof failPut) => (failPut = f),
    failEvent: (f: typeof failEvent) => (failEvent = f),
  };
}

/** Every DELE follows its message's RETR, archive and event, and precedes the QUIT. */
function expectDeleOnlyAfterArchiveAndEvent(log: readonly string[]): void {
  const quit = log.indexOf('QUIT');
  for (const entry of log.filter((e) => e.startsWith('DELE '))) {
    const n = entry.slice(5);
    const at = log.indexOf(entry);
    expect(log.indexOf(`RETR ${n}`)).toBeGreaterThanOrEqual(0);
    expect(log.indexOf(`RETR ${n}`)).toBeLessThan(log.indexOf(`PUT ${n}`));
    expect(log.indexOf(`PUT ${n}`)).toBeLessThan(log.indexOf(`EVENT ${n}`));
    expect(log.indexOf(`EVENT ${n}`)).toBeLessThan(at);
    if (quit >= 0) expect(at).toBeLessThan(quit);
  }
}

/** Every message is archived byte-exact, still on the server, or both. */
function expectNothingLost(w: ReturnType<typeof world>): void {
  const found = new Set(
    [...w.archive.contents(), ...w.mailbox.live.values()].map((b) => b.toString('base64')),
  );
  expect([...found].sort()).toEqual(w.messages.map((b) => b.toString('base64')).sort());
}

describe('Class: AccountRun', () => {
  it('drains through the port: RETR → archive → event → DELE for each message, then QUIT', async () => {
    const { messages, log, mailbox, archive, run } = world(40, { storeConcurrency: 8, retrieveAhead: 8 });

    const result = await run();

    expect(result).toMatchObject({ status: 'ok', listed: 40, fetched: 40, archived: 40, deleted: 40 });
    expect(archive.contents()).toEqual(messages.slice().sort(Buffer.compare));
    expect(mailbox.live.size).toBe(0);
    expect(log.filter((e) => e.startsWith('DELE'))).toHaveLength(40);
    expect(log.at(-1)).toBe('QUIT');
    expectDeleOnlyAfterArchiveAndEvent(log);
  });

  it('never DELEs a message its archive refused, and QUITs to commit the others', async () => {
    const w = world(5, { storeConcurrency: 1, retrieveAhead: 1 });
    w.failPut((n) => (n === 3 ? new Error('disk full') : undefined));

    const result = await w.run();

    // Messages already in flight when the failure came are still archived and DELE'd.
    expect(result).toMatchObject({ status: 'failed', error: { code: 'EARCHIVE' }, stoppedBy: 'error' });
    expect(w.log).not.toContain('DELE 3');
    expect(w.log.at(-1)).toBe('QUIT');
    expect(w.mailbox.live.has(3)).toBe(true);
    expect(result.deleted).toBe(5 - w.mailbox.live.size);
    expectDeleOnlyAfterArchiveAndEvent(w.log);
    expectNothingLost(w);
  });

  it('never DELEs a message whose event was not published', async () => {
    const w = world(3, { storeConcurrency: 1, retrieveAhead: 1 });
    w.failEvent((n) => n === 1);

    const result = await w.run();

    expect(result).toMatchObject({ status: 'failed', error: { code: 'EEVENTS' } });
    expect(w.log).toContain('PUT 1');
    expect(w.log).not.toContain('DELE 1');
    expect(w.mailbox.live.has(1)).toBe(true);
    expect(result.deleted).toBe(3 - w.mailbox.live.size);
    expectDeleOnlyAfterArchiveAndEvent(w.log);
    expectNothingLost(w);
  });

  it('at EXPIRE 0, a retrieved but unarchived message keeps the session from QUIT', async () => {
    const w = world(4, { storeConcurrency: 1, retrieveAhead: 1 });
    w.mailbox.expireDays = 0;
    w.failPut((n) => (n === 2 ? new Error('disk full') : undefined));

    const result = await w.run();

    expect(result.messageErrors.map((e) => e.code)).toEqual(['EARCHIVE', 'EUNCOMMITTED']);
    expect(result.deleted).toBe(0);
    expect(w.log).not.toContain('QUIT');
    expect(w.log.at(-1)).toBe('ABORT');
    expect(w.mailbox.live.size).toBe(4);
  });

  it('reports a refused DELE and leaves that message for the next run, which lands on the same key', async () => {
    const w = world(3);
    w.mailbox.failDele = (n) => (n === 2 ? new Error('-ERR refused') : undefined);

    const first = await w.run();

    expect(first).toMatchObject({ status: 'ok', archived: 3, deleted: 2, remaining: 1 });
    expect(first.messageErrors).toEqual([expect.objectContaining({ message: '-ERR refused' })]);
    expect([...w.mailbox.live.keys()]).toEqual([2]);

    w.mailbox.failDele = () => undefined;
    const second = await w.run();

    expect(second).toMatchObject({ status: 'ok', archived: 1, alreadyArchived: 1, deleted: 1 });
    expect(w.archive.objects.size).toBe(3);
    expect(w.mailbox.live.size).toBe(0);
  });

  it("the hard stop cuts a session through the port's abort(): nothing deleted, EDEADLINE", async () => {
    const w = world(5, { deadline: new Date(Date.now() + 100), hardStopGraceMs: 100, retrieveAhead: 1 });
    const open = w.mailbox.open.bind(w.mailbox);
    w.mailbox.open = async () => {
      const login = await open();
      const session = login.session;
      // Message 3 never ends (a server streaming it for ever) until the connection is cut.
      let cut!: (error: Error) => void;
      const aborted = new Promise<never>((_, reject) => (cut = reject));
      aborted.catch(() => undefined);
      const abort = session.abort.bind(session);
      session.abort = () => {
        cut(new Error('connection cut'));
        abort();
      };
      const retr = session.retr.bind(session);
      session.retr = async (n) => {
        if (n !== 3) return retr(n);
        w.log.push(`RETR ${n}`);
        return (async function* () {
          yield Buffer.from('Subject: endless\r\n');
          await aborted;
        })();
      };
      return login;
    };

    const started = Date.now();
    const result = await w.run();

    expect(Date.now() - started).toBeLessThan(200 + 2000);
    expect(result).toMatchObject({
      status: 'failed',
      archived: 2,
      deleted: 0,
      stoppedBy: 'deadline',
      error: { code: 'EDEADLINE', retryable: true },
    });
    expect(w.log).toContain('ABORT');
    expect(w.log).not.toContain('QUIT');
    expect(w.mailbox.live.size).toBe(5);
    expectDeleOnlyAfterArchiveAndEvent(w.log);
    expectNothingLost(w);
  });
});
