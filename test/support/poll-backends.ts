import { startFakeMailbox } from '../../functions/fake-pop3/mailbox';
import type { AccountConfig } from '../../functions/poller/account';
import type { Pop3ClientOptions } from '../../functions/pop3';
import { makeTestCertificates } from './certs';
import { DovecotServer } from './dovecot';
import { dovecotAccount } from './poll-fixtures';
import { dovecotTestsRun } from './with-dovecot';

/**
 * The POP3 servers the workflow's core suite runs against, behind one shape: a real Dovecot where
 * it can run (root and the binary; always under `REQUIRE_DOVECOT=1`, as in CI), and the fake
 * mailbox (functions/fake-pop3/mailbox.ts) everywhere, so every machine runs the suite.
 *
 * The fake is set up to look like Dovecot where the workflow looks: implicit TLS with the run's
 * certificate, Dovecot's capabilities (without SASL, which the fake does not speak, so the client
 * logs in with USER/PASS), CAPA again after login, message numbers fixed per session, DELE
 * committed only by QUIT, bare LFs served (and counted) as CRLF.
 */

export interface PollBackend {
  readonly name: string;
  readonly user: string;
  readonly password: string;
  /** An account for this server over implicit TLS, trusting the run's CA. */
  account(id: string, overrides?: Partial<AccountConfig>): AccountConfig;
  /** Options for a separate session (Pop3Client.connect), logged in as `user`. */
  clientOptions(): Pop3ClientOptions;
  /** Puts messages in the mailbox, after those already there. */
  deliver(messages: readonly Buffer[]): void;
  /** The messages in the mailbox, as delivered. */
  mailboxFiles(): Buffer[];
  mailboxCount(): number;
  /** Removes every message (between tests). */
  empty(): void;
  stop(): Promise<void>;
}

export interface PollBackendKind {
  readonly name: string;
  start(): Promise<PollBackend>;
}

const USER = 'alice';
const PASSWORD = 'alice-secret';

export const dovecotBackend: PollBackendKind = {
  name: 'a real Dovecot',
  async start() {
    const server = await DovecotServer.start({ users: [{ name: USER, password: PASSWORD }] });
    return {
      name: this.name,
      user: USER,
      password: PASSWORD,
      account: (id, overrides) => dovecotAccount(server, id, overrides),
      clientOptions: () => ({
        host: server.host,
        port: server.tlsPort,
        tls: 'implicit',
        tlsOptions: { ca: server.certs.caPem },
        auth: { username: USER, password: PASSWORD },
      }),
      deliver: (messages) => void server.deliver(messages),
      mailboxFiles: () => server.mailboxFiles(),
      mailboxCount: () => server.mailboxCount(),
      empty: () => server.empty(),
      stop: () => server.stop(),
    };
  },
};

/** Dovecot 2.3's CAPA on its implicit-TLS port, less the SASL line. */
const DOVECOT_CAPABILITIES = ['TOP', 'UIDL', 'RESP-CODES', 'PIPELINING', 'AUTH-RESP-CODE', 'USER'];

export const fakeMailboxBackend: PollBackendKind = {
  name: 'the fake mailbox',
  async start() {
    const certs = makeTestCertificates();
    const { mailbox, server } = await startFakeMailbox(
      {
        username: USER,
        password: PASSWORD,
        greeting: '+OK Dovecot ready.\r\n',
        capabilities: DOVECOT_CAPABILITIES,
        crlf: true,
      },
      { certificate: certs, implicitTls: true },
    );
    const account = (id: string, overrides: Partial<AccountConfig> = {}): AccountConfig => ({
      id,
      host: '127.0.0.1',
      port: server.port,
      tls: 'implicit',
      username: USER,
      caPem: certs.caPem,
      ...overrides,
    });
    return {
      name: this.name,
      user: USER,
      password: PASSWORD,
      account,
      clientOptions: () => ({
        host: '127.0.0.1',
        port: server.port,
        tls: 'implicit',
        tlsOptions: { ca: certs.caPem },
        auth: { username: USER, password: PASSWORD },
      }),
      deliver: (messages) => messages.forEach((bytes) => mailbox.add(bytes)),
      mailboxFiles: () => [...mailbox.live.values()].map((m) => m.bytes),
      mailboxCount: () => mailbox.live.size,
      empty: () => mailbox.live.clear(),
      stop: () => server.close(),
    };
  },
};

/** The fake mailbox always; Dovecot too where it can run, or where it is required. */
export function pollBackends(): PollBackendKind[] {
  return dovecotTestsRun ? [dovecotBackend, fakeMailboxBackend] : [fakeMailboxBackend];
}
