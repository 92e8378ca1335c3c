import { isPop3Error, Pop3Client, type Pop3ClientOptions, type UidlEntry } from '../../functions/pop3';
import type { Pop3Settings } from './settings';

/**
 * The test mailbox seen from here, with the project's own POP3 client: before the run (to fail
 * fast on bad credentials and to know what the worker should archive) and after it (delete mode
 * leaves it empty). Read-only: STAT and UIDL, never RETR (some providers stop offering a message
 * to POP3 once it was downloaded) and never DELE.
 */

export interface MailboxSnapshot {
  readonly count: number;
  readonly size: number;
  /** `undefined` when the server does not support UIDL. */
  readonly uidls: UidlEntry[] | undefined;
}

export function clientOptions(pop3: Pop3Settings): Pop3ClientOptions {
  return {
    host: pop3.host,
    port: pop3.port,
    tls: pop3.tls,
    ...(pop3.caPem !== undefined ? { tlsOptions: { ca: pop3.caPem } } : {}),
    auth: { username: pop3.username, password: pop3.password },
    timeouts: { connectMs: 20_000, greetingMs: 20_000, idleMs: 60_000 },
  };
}

export async function inspectMailbox(
  pop3: Pop3Settings,
  options: { readonly withUidls?: boolean } = {},
): Promise<MailboxSnapshot> {
  const client = await Pop3Client.connect(clientOptions(pop3));
  try {
    const stat = await client.stat();
    let uidls: UidlEntry[] | undefined;
    if (options.withUidls ?? true) {
      try {
        uidls = await client.uidl();
      } catch (error) {
        // `-ERR`: no UIDL support, which the worker copes with too. Anything else is fatal.
        if (!isPop3Error(error) || error.code !== 'ECOMMAND') throw error;
      }
    }
    await client.quit();
    return { count: stat.count, size: stat.size, uidls };
  } finally {
    client.destroy();
  }
}

/**
 * STAT until the mailbox is empty or `timeoutMs` passes: the worker publishes a message's event
 * before its DELE, and the server removes messages at the worker's QUIT, moments later (until
 * then a login may also be refused as [IN-USE]). Returns the last count seen, or throws the last
 * error when no STAT succeeded.
 */
export async function waitForEmptyMailbox(
  pop3: Pop3Settings,
  options: {
    readonly timeoutMs: number;
    readonly intervalMs?: number;
    readonly clock?: { now(): number; sleep(ms: number): Promise<void> };
    readonly inspect?: (pop3: Pop3Settings) => Promise<MailboxSnapshot>;
  },
): Promise<number> {
  const clock = options.clock ?? {
    now: () => Date.now(),
    sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
  };
  const inspect = options.inspect ?? ((p: Pop3Settings) => inspectMailbox(p, { withUidls: false }));
  const started = clock.now();
  let last: number | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = (await inspect(pop3)).count;
      if (last === 0) return 0;
    } catch (error) {
      // IN-USE, LOGIN-DELAY and the like pass; a wrong password does not.
      if (!isPop3Error(error) || !error.retryable) throw error;
      lastError = error;
    }
    if (clock.now() - started >= options.timeoutMs) {
      if (last !== undefined) return last;
      throw lastError;
    }
    await clock.sleep(options.intervalMs ?? 5000);
  }
}
