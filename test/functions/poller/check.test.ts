import { inspect } from 'node:util';
import { checkAccount, checkAccounts } from '../../../functions/poller/check';
import { pollAccount } from '../../../functions/poller/poll-account';
import type { CredentialSource } from '../../../functions/poller/ports';
import { DovecotServer } from '../../support/dovecot';
import {
  MemoryArchive,
  MemoryEventSink,
  MemorySeenStore,
  StaticCredentials,
} from '../../support/memory-ports';
import { dovecotAccount, makeMessages } from '../../support/poll-fixtures';
import { describeWithDovecot } from '../../support/with-dovecot';

/**
 * `check` against a real Dovecot: it logs in as a poll would, reports what is waiting, and leaves
 * the mailbox exactly as it was.
 */

const PASSWORD = 'Ch3ck-S3cret-pa55';

/** The mailbox's messages, whatever order and Maildir folder (new/, cur/) Dovecot keeps them in. */
const contents = (server: DovecotServer): Buffer[] => server.mailboxFiles().sort(Buffer.compare);
const WRONG_PASSWORD = 'Wr0ng-Ch3ck-pa55-91d2';

describeWithDovecot('checkAccount (against Dovecot)', () => {
  let server: DovecotServer;
  const credentials = (password = PASSWORD): CredentialSource =>
    new StaticCredentials({ inbox: { password }, other: { password } });

  beforeAll(async () => {
    server = await DovecotServer.start({ users: [{ name: 'alice', password: PASSWORD }] });
  });
  afterAll(() => server?.stop());
  beforeEach(() => server.empty());

  it('reports the server, the login method and what is waiting, and changes nothing', async () => {
    const mail = makeMessages(3, { bodyBytes: 2000 });
    server.deliver(mail);
    const before = contents(server);

    const result = await checkAccount(dovecotAccount(server, 'inbox'), { credentials: credentials() });

    expect(result).toEqual({
      accountId: 'inbox',
      status: 'ok',
      server: { host: server.host, port: server.tlsPort, tls: 'implicit', tlsProtocol: 'TLSv1.3' },
      // Dovecot offers SASL PLAIN over TLS: the client prefers it to USER/PASS.
      loginMethod: 'PLAIN',
      mode: 'delete',
      messages: 3,
      octets: mail.reduce((sum, m) => sum + m.length, 0),
      capabilities: expect.arrayContaining(['PIPELINING', 'UIDL', 'TOP']),
      durationMs: expect.any(Number),
    });
    expect(contents(server)).toEqual(before);
  });

  it('over STLS, and in keep mode, counts what a poll would fetch: what it has not archived', async () => {
    const account = dovecotAccount(server, 'inbox', {
      tls: 'starttls',
      port: server.plainPort,
      mode: 'keep',
    });
    const seen = new MemorySeenStore();
    server.deliver(makeMessages(3, { batch: 'first' }));
    const poll = await pollAccount(
      account,
      { credentials: credentials(), archive: new MemoryArchive(), events: new MemoryEventSink(), seen },
      { runId: 'run' },
    );
    expect(poll).toEqual(expect.objectContaining({ status: 'ok', archived: 3, deleted: 0 }));
    server.deliver(makeMessages(2, { batch: 'second' }));
    const before = contents(server);

    const result = await checkAccount(account, { credentials: credentials(), seen });

    expect(result).toEqual(
      expect.objectContaining({
        status: 'ok',
        server: { host: server.host, port: server.plainPort, tls: 'starttls', tlsProtocol: 'TLSv1.3' },
        mode: 'keep',
        messages: 5,
        newMessages: 2,
      }),
    );
    expect(contents(server)).toEqual(before);
  });

  it('in keep mode without a seen-UIDL store, says what is missing', async () => {
    const result = await checkAccount(dovecotAccount(server, 'inbox', { mode: 'keep' }), {
      credentials: credentials(),
    });
    expect(result).toEqual(
      expect.objectContaining({
        status: 'failed',
        messages: 0,
        error: expect.objectContaining({ code: 'ECONFIG', message: 'keep mode needs a seen-UIDL store' }),
      }),
    );
  });

  it('reports a rejected password as EAUTH needing attention, without the password', async () => {
    server.deliver(makeMessages(1));

    const result = await checkAccount(dovecotAccount(server, 'inbox'), {
      credentials: credentials(WRONG_PASSWORD),
    });

    expect(result).toEqual(
      expect.objectContaining({
        accountId: 'inbox',
        status: 'failed',
        // Where it tried is known; what the session would have told is not.
        server: { host: server.host, port: server.tlsPort, tls: 'implicit' },
        error: expect.objectContaining({ code: 'EAUTH', retryable: false, needsAttention: true }),
      }),
    );
    expect(result.messages).toBeUndefined();
    expect(inspect(result, { depth: 10 })).not.toContain(WRONG_PASSWORD);
    expect(server.mailboxCount()).toBe(1);
  });

  it('reports an untrusted certificate as ETLS, and a missing host as ECONFIG', async () => {
    const [untrusted, noHost] = await checkAccounts(
      [
        dovecotAccount(server, 'inbox', { caPem: undefined }),
        dovecotAccount(server, 'other', { host: undefined }),
      ],
      { credentials: credentials() },
    );

    expect(untrusted).toEqual(
      expect.objectContaining({ status: 'failed', error: expect.objectContaining({ code: 'ETLS' }) }),
    );
    expect(noHost).toEqual(
      expect.objectContaining({
        accountId: 'other',
        status: 'failed',
        error: expect.objectContaining({ code: 'ECONFIG', message: 'account "other" has no host' }),
      }),
    );
  });
});
