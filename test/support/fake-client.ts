import { Pop3Client } from '../../functions/pop3/client';
import { Pop3Error } from '../../functions/pop3/errors';
import type { Pop3ClientOptions } from '../../functions/pop3/options';
import {
  mailboxScript,
  startFakeServer,
  type FakeScript,
  type FakeServer,
  type FakeServerOptions,
  type MailboxScriptOptions,
} from './fake-pop3-server';

/**
 * The fixture of the POP3 client's tests against the fake server: servers and clients a test
 * starts are closed after it (an `afterEach` registered by `fakeClientHarness`), and the client
 * logs in as USERNAME over plaintext loopback with short timeouts, so a hang fails fast.
 */

export const USERNAME = 'alice';
export const PASSWORD = 'correct-horse-battery';

export interface FakeClientHarness {
  /** Starts a fake server with this script, closed after the test. */
  serve(script: FakeScript, options?: FakeServerOptions): Promise<FakeServer>;
  /** A fake mailbox holding USERNAME / PASSWORD's mail. */
  mailbox(options?: MailboxScriptOptions): Promise<FakeServer>;
  /** Client options for `server`: plaintext loopback, USER/PASS allowed, short timeouts. */
  optionsFor(server: FakeServer, overrides?: Partial<Pop3ClientOptions>): Pop3ClientOptions;
  /** A logged-in client, destroyed after the test. */
  connect(server: FakeServer, overrides?: Partial<Pop3ClientOptions>): Promise<Pop3Client>;
}

/** Call at the top of a test file; `idleMs` is the client's idle timeout in its options. */
export function fakeClientHarness(timeouts: { readonly idleMs: number }): FakeClientHarness {
  const servers: FakeServer[] = [];
  const clients: Pop3Client[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  const serve = async (script: FakeScript, options?: FakeServerOptions) => {
    const server = await startFakeServer(script, options);
    servers.push(server);
    return server;
  };
  const optionsFor = (server: FakeServer, overrides: Partial<Pop3ClientOptions> = {}): Pop3ClientOptions => ({
    host: '127.0.0.1',
    port: server.port,
    tls: 'none',
    allowPlaintextAuth: true,
    auth: { username: USERNAME, password: PASSWORD },
    timeouts: { connectMs: 1000, greetingMs: 1000, idleMs: timeouts.idleMs },
    ...overrides,
  });
  return {
    serve,
    mailbox: (options = {}) => serve(mailboxScript({ username: USERNAME, password: PASSWORD, ...options })),
    optionsFor,
    connect: async (server, overrides = {}) => {
      const client = await Pop3Client.connect(optionsFor(server, overrides));
      clients.push(client);
      return client;
    },
  };
}

/** The Pop3Error `promise` rejects with; fails the test if it resolves or rejects otherwise. */
export async function expectPop3Error(promise: Promise<unknown>): Promise<Pop3Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Pop3Error)) {
    throw new Error(`expected a Pop3Error, got ${outcome === undefined ? 'success' : String(outcome)}`);
  }
  return outcome;
}
