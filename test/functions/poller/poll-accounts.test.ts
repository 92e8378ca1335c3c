import type { AccountConfig } from '../../../functions/poller/account';
import { stableEventId, type PollEvent, type PollSummaryDetail } from '../../../functions/poller/events';
import { pollAccounts } from '../../../functions/poller/poll-accounts';
import type { PublishOutcome } from '../../../functions/poller/ports';
import { DovecotServer } from '../../support/dovecot';
import { FaultyConnector } from '../../support/faulty-connect';
import { MemoryArchive, MemoryEventSink, StaticCredentials } from '../../support/memory-ports';
import {
  archivedEvents,
  dovecotAccount,
  expectNothingLost,
  makeMessages,
  ManualClock,
  onServer,
} from '../../support/poll-fixtures';
import { describeWithDovecot } from '../../support/with-dovecot';

const RUN_ID = 'run-2025-03-04T12:00';
const summaries = (sink: MemoryEventSink) =>
  sink.events.filter((e) => e.detailType !== 'Message Archived') as Array<PollEvent<PollSummaryDetail>>;

describeWithDovecot('Function: pollAccounts (against a real Dovecot)', () => {
  let server: DovecotServer;

  beforeAll(async () => {
    server = await DovecotServer.start({
      users: [
        { name: 'alice', password: 'alice-secret' },
        { name: 'bob', password: 'bob-secret' },
        { name: 'carol', password: 'carol-secret' },
      ],
    });
  });

  afterAll(async () => {
    await server?.stop();
  });

  beforeEach(() => {
    for (const user of ['alice', 'bob', 'carol']) server.empty(user);
  });

  it('publishes a "Poll Completed" summary with the run\'s counters after a clean drain', async () => {
    const delivered = makeMessages(3);
    server.deliver(delivered);
    const archive = new MemoryArchive();
    const events = new MemoryEventSink();
    const clock = new ManualClock('2025-03-04T12:00:00Z');

    const [result, ...rest] = await pollAccounts(
      [dovecotAccount(server, 'alice-box')],
      {
        credentials: new StaticCredentials({ 'alice-box': { password: 'alice-secret' } }),
        archive,
        events,
        clock,
      },
      { runId: RUN_ID },
    );

    expect(rest).toEqual([]);
    expect(result).toMatchObject({ accountId: 'alice-box', status: 'ok', deleted: 3, remaining: 0 });
    expect(server.mailboxCount('alice')).toBe(0);
    expect(summaries(events)).toStrictEqual([
      {
        id: stableEventId('summary', RUN_ID, 'alice-box'),
        source: 'pop3-poller',
        detailType: 'Poll Completed',
        time: '2025-03-04T12:00:00.000Z',
        detail: {
          accountId: 'alice-box',
          runId: RUN_ID,
          status: 'ok',
          listed: 3,
          fetched: 3,
          archived: 3,
          deleted: 3,
          bytes: delivered.reduce((sum, m) => sum + m.length, 0),
          durationMs: 0, // the clock stood still
          remaining: 0,
        },
      },
    ]);
    // The summary comes after the messages' events.
    expect(events.events.at(-1)!.detailType).toBe('Poll Completed');
    expectNothingLost({ server, archive, events, accountId: 'alice-box', user: 'alice' }, delivered);
  });

  it('isolates failing accounts: a wrong password and a missing secret do not stop the healthy one', async () => {
    const aliceMail = makeMessages(4, { batch: 'alice' });
    const bobMail = makeMessages(2, { batch: 'bob' });
    server.deliver(aliceMail, 'alice');
    server.deliver(bobMail, 'bob');
    const archive = new MemoryArchive();
    const events = new MemoryEventSink();
    const accounts: AccountConfig[] = [
      dovecotAccount(server, 'bob-box', { username: 'bob' }),
      dovecotAccount(server, 'carol-box', { username: 'carol' }),
      dovecotAccount(server, 'alice-box', { username: 'alice' }),
    ];
    // Dovecot holds every login from an address that just failed one for seconds (auth penalty):
    // the wrong password goes out from its own loopback address, so the healthy account is not
    // slowed down by it. The failed login itself still takes Dovecot's ~0.5 s.
    const connector = new FaultyConnector({
      options: (o) => (o.auth.username === 'bob' ? { localAddress: '127.0.0.10' } : {}),
    });

    const results = await pollAccounts(
      accounts,
      {
        credentials: new StaticCredentials({
          'bob-box': { password: 'not-bobs-password' },
          'alice-box': { password: 'alice-secret' },
          // carol-box has no secret at all
        }),
        archive,
        events,
        connect: connector.connect,
      },
      { runId: RUN_ID },
    );

    // Results in input order, whatever order the accounts finished in.
    expect(results.map((r) => r.accountId)).toEqual(['bob-box', 'carol-box', 'alice-box']);
    const [bob, carol, alice] = results;
    expect(bob).toMatchObject({
      status: 'failed',
      listed: 0,
      fetched: 0,
      deleted: 0,
      error: { code: 'EAUTH', retryable: false, needsAttention: true },
    });
    expect(bob!.error!.message).not.toContain('not-bobs-password');
    expect(carol).toMatchObject({
      status: 'failed',
      fetched: 0,
      error: { code: 'ECREDENTIALS', retryable: false, needsAttention: true },
    });
    expect(alice).toMatchObject({ status: 'ok', listed: 4, archived: 4, deleted: 4, remaining: 0 });
    expect(alice!.error).toBeUndefined();

    // The healthy mailbox is drained; the failed ones are untouched.
    expect(server.mailboxCount('alice')).toBe(0);
    expect(onServer({ server, archive, events, accountId: 'bob-box', user: 'bob' }, bobMail)).toEqual([1, 2]);
    expectNothingLost({ server, archive, events, accountId: 'alice-box', user: 'alice' }, aliceMail);
    expect(archivedEvents(events).every((e) => e.detail.accountId === 'alice-box')).toBe(true);
    expect([...archive.objects.keys()].every((k) => k.startsWith('alice-box/'))).toBe(true);

    // One summary per account: failures as "Poll Failed" with the code and whether a human must act.
    const byAccount = new Map(summaries(events).map((e) => [e.detail.accountId, e]));
    expect(summaries(events)).toHaveLength(3);
    expect(byAccount.get('bob-box')).toMatchObject({
      detailType: 'Poll Failed',
      detail: { status: 'failed', errorCode: 'EAUTH', retryable: false, needsAttention: true, remaining: 0 },
    });
    expect(byAccount.get('carol-box')).toMatchObject({
      detailType: 'Poll Failed',
      detail: { status: 'failed', errorCode: 'ECREDENTIALS', needsAttention: true },
    });
    expect(byAccount.get('alice-box')).toMatchObject({
      detailType: 'Poll Completed',
      detail: { status: 'ok', archived: 4, deleted: 4 },
    });
    expect(byAccount.get('alice-box')!.detail).not.toHaveProperty('errorCode');
    // The missing secret never reached the server; the wrong password was refused at login.
    expect(connector.logins).toEqual([
      { username: 'alice', ok: true },
      { username: 'bob', ok: false },
    ]);
    // The accounts finished out of input order (no secret at once, the refused login last).
    expect(summaries(events).map((e) => e.detail.accountId)).toEqual(['carol-box', 'alice-box', 'bob-box']);
  });

  it('polls accounts one at a time with accountConcurrency 1, each against its own mailbox', async () => {
    const mail = { alice: makeMessages(2, { batch: 'a' }), carol: makeMessages(3, { batch: 'c' }) };
    server.deliver(mail.alice, 'alice');
    server.deliver(mail.carol, 'carol');
    const archive = new MemoryArchive();
    const events = new MemoryEventSink();
    const order: string[] = [];
    const credentials = new StaticCredentials({
      'alice-box': { password: 'alice-secret' },
      'carol-box': { password: 'carol-secret' },
    });

    const results = await pollAccounts(
      [dovecotAccount(server, 'carol-box', { username: 'carol' }), dovecotAccount(server, 'alice-box')],
      {
        credentials: {
          credentials: (account) => {
            order.push(`start ${account.id}`);
            return credentials.credentials(account);
          },
        },
        archive,
        events: {
          publish: (batch) => {
            for (const e of batch)
              if (e.detailType !== 'Message Archived') order.push(`end ${e.detail.accountId}`);
            return events.publish(batch);
          },
        },
      },
      { runId: RUN_ID, accountConcurrency: 1 },
    );

    expect(order).toEqual(['start carol-box', 'end carol-box', 'start alice-box', 'end alice-box']);
    expect(results.map((r) => [r.accountId, r.status, r.deleted])).toEqual([
      ['carol-box', 'ok', 3],
      ['alice-box', 'ok', 2],
    ]);
    expectNothingLost({ server, archive, events, accountId: 'alice-box', user: 'alice' }, mail.alice);
    expectNothingLost({ server, archive, events, accountId: 'carol-box', user: 'carol' }, mail.carol);
    expect(server.mailboxCount('alice') + server.mailboxCount('carol')).toBe(0);
  });

  it('does not fail the run when the summary cannot be published, and sends none when asked not to', async () => {
    const delivered = makeMessages(2);
    server.deliver(delivered);
    const archive = new MemoryArchive();
    const events = new MemoryEventSink();
    // A sink that takes message events but refuses summaries.
    const picky = {
      publish: async (batch: readonly PollEvent[]): Promise<PublishOutcome> => {
        if (batch.some((e) => e.detailType !== 'Message Archived')) throw new Error('summary bus is down');
        return events.publish(batch);
      },
    };
    const deps = {
      credentials: new StaticCredentials({ 'alice-box': { password: 'alice-secret' } }),
      archive,
      events: picky,
    };

    const [result] = await pollAccounts([dovecotAccount(server, 'alice-box')], deps, { runId: RUN_ID });
    expect(result).toMatchObject({ status: 'ok', deleted: 2 });
    expect(summaries(events)).toEqual([]);
    expectNothingLost({ server, archive, events, accountId: 'alice-box' }, delivered);

    const quiet = new MemoryEventSink();
    const [empty] = await pollAccounts(
      [dovecotAccount(server, 'alice-box')],
      { ...deps, events: quiet },
      { runId: RUN_ID, summaryEvents: false },
    );
    expect(empty).toMatchObject({ status: 'ok', listed: 0 });
    expect(quiet.events).toEqual([]);
  });

  it('returns an empty list for no accounts', async () => {
    const events = new MemoryEventSink();
    const results = await pollAccounts(
      [],
      { credentials: new StaticCredentials({}), archive: new MemoryArchive(), events },
      { runId: RUN_ID },
    );
    expect(results).toEqual([]);
    expect(events.events).toEqual([]);
  });
});
