import { Pop3Error } from '../../functions/pop3';
import { inspectMailbox, waitForEmptyMailbox, type MailboxSnapshot } from '../../scripts/e2e/mailbox';
import type { Pop3Settings } from '../../scripts/e2e/settings';
import { expectedEventUidls } from '../../scripts/e2e/verify';
import { makeTestCertificates } from '../support/certs';
import {
  mailboxScript,
  startFakeServer,
  type FakeServer,
  type MailboxScriptOptions,
} from '../support/fake-pop3-server';

/**
 * The test mailbox as scripts/aws-e2e.ts reads it, before and after the run: through the
 * project's own POP3 client, over TLS, read-only (STAT and UIDL; never RETR or DELE).
 */

const USERNAME = 'e2e@example.com';
const PASSWORD = 'pw-DO-NOT-ECHO-7f3a';
const certs = makeTestCertificates();
const servers: FakeServer[] = [];

async function serve(override?: MailboxScriptOptions['override']): Promise<FakeServer> {
  const server = await startFakeServer(
    mailboxScript({
      username: USERNAME,
      password: PASSWORD,
      messages: ['Subject: one\r\n\r\n1\r\n', 'Subject: two\r\n\r\nsecond\r\n'],
      ...(override ? { override } : {}),
    }),
    { certificate: certs, implicitTls: true },
  );
  servers.push(server);
  return server;
}

function settings(server: FakeServer, password = PASSWORD): Pop3Settings {
  return {
    host: 'localhost',
    port: server.port,
    tls: 'implicit',
    username: USERNAME,
    password,
    caPem: certs.caPem,
  };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('scripts/aws-e2e.ts mailbox', () => {
  describe('inspectMailbox', () => {
    it('reads STAT and UIDL over TLS with the given CA, and QUITs without touching a message', async () => {
      const server = await serve();

      const snapshot = await inspectMailbox(settings(server));

      expect(snapshot).toEqual({
        count: 2,
        size: 43,
        uidls: [
          { messageNumber: 1, uid: 'uid-1' },
          { messageNumber: 2, uid: 'uid-2' },
        ],
      });
      expect(expectedEventUidls(snapshot.uidls!)).toEqual(['uid-1', 'uid-2']);
      const verbs = server.received.texts().map((line) => line.split(' ')[0]);
      expect(verbs).toEqual(['CAPA', 'USER', 'PASS', 'CAPA', 'STAT', 'UIDL', 'QUIT']);
      expect(server.received.lines.every((l) => l.tls)).toBe(true);
    });

    it('copes with a server without UIDL', async () => {
      const server = await serve((line) => (line === 'UIDL' ? '-ERR not supported\r\n' : undefined));
      await expect(inspectMailbox(settings(server))).resolves.toEqual({
        count: 2,
        size: 43,
        uidls: undefined,
      });
    });

    it('leaves UIDL out when asked', async () => {
      const server = await serve();
      await expect(inspectMailbox(settings(server), { withUidls: false })).resolves.toEqual({
        count: 2,
        size: 43,
        uidls: undefined,
      });
      expect(server.received.texts()).not.toContain('UIDL');
    });

    it('fails on a wrong password with EAUTH, and the password appears nowhere in the error', async () => {
      const server = await serve();
      const error = (await inspectMailbox(settings(server, 'wrong-pw-9c1d')).catch(
        (e: unknown) => e,
      )) as Pop3Error;
      expect(error).toBeInstanceOf(Pop3Error);
      expect(error.code).toBe('EAUTH');
      expect(`${error.message} ${JSON.stringify(error)}`).not.toContain('wrong-pw-9c1d');
    });

    it('refuses a server whose certificate the CA did not sign', async () => {
      const server = await serve();
      await expect(inspectMailbox({ ...settings(server), caPem: certs.otherCaPem })).rejects.toMatchObject({
        code: 'ETLS',
      });
    });
  });

  describe('waitForEmptyMailbox', () => {
    const clock = () => {
      let now = 0;
      return { now: () => now, sleep: async (ms: number) => void (now += ms) };
    };
    const pop3 = { host: 'h', port: 995, tls: 'implicit', username: 'u', password: 'p' } as const;
    const snapshots = (...steps: Array<number | Error>) => {
      const calls: number[] = [];
      const inspect = async (): Promise<MailboxSnapshot> => {
        const step = steps[Math.min(calls.length, steps.length - 1)]!;
        calls.push(calls.length);
        if (step instanceof Error) throw step;
        return { count: step, size: 0, uidls: undefined };
      };
      return { inspect, calls };
    };

    it('STATs until the worker has QUIT and its deletions are done', async () => {
      const { inspect, calls } = snapshots(new Pop3Error('EIN_USE', 'mailbox in use'), 2, 0);
      await expect(waitForEmptyMailbox(pop3, { timeoutMs: 60_000, clock: clock(), inspect })).resolves.toBe(
        0,
      );
      expect(calls).toHaveLength(3);
    });

    it('returns the last count at the timeout', async () => {
      const { inspect, calls } = snapshots(1);
      await expect(
        waitForEmptyMailbox(pop3, { timeoutMs: 20_000, intervalMs: 5000, clock: clock(), inspect }),
      ).resolves.toBe(1);
      expect(calls).toHaveLength(5);
    });

    it('checks once with no time to wait', async () => {
      const { inspect, calls } = snapshots(3);
      await expect(waitForEmptyMailbox(pop3, { timeoutMs: 0, clock: clock(), inspect })).resolves.toBe(3);
      expect(calls).toHaveLength(1);
    });

    it('fails at once on an error retrying cannot fix, and with the last error if no STAT worked', async () => {
      const auth = snapshots(new Pop3Error('EAUTH', 'authentication failed'));
      await expect(
        waitForEmptyMailbox(pop3, { timeoutMs: 60_000, clock: clock(), inspect: auth.inspect }),
      ).rejects.toMatchObject({
        code: 'EAUTH',
      });
      expect(auth.calls).toHaveLength(1);
      const busy = snapshots(new Pop3Error('EIN_USE', 'mailbox in use'));
      await expect(
        waitForEmptyMailbox(pop3, { timeoutMs: 10_000, clock: clock(), inspect: busy.inspect }),
      ).rejects.toMatchObject({
        code: 'EIN_USE',
      });
    });
  });
});
