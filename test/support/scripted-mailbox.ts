import type { AccountConfig } from '../../functions/poller/account';
import {
  startFakeMailbox,
  type FakeMailboxOptions,
  type MailboxMessage,
} from '../../functions/fake-pop3/mailbox';
import type { FakeServer } from '../../functions/fake-pop3/server';
import { loopbackAccount } from './poll-fixtures';
import { whenDone } from './temp';

/**
 * The fake mailbox (functions/fake-pop3/mailbox.ts) set up for tests of server-side rules Dovecot
 * has no setting for: plaintext on loopback, any user with SCRIPTED_PASSWORD, CAPA `USER UIDL`
 * (no PIPELINING). Messages have ids (1, 2, … in the order added) and a UIDL each, which a test may
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
  /**
   * Sees every line first, as the fake mailbox's own option does: return a reply to answer it, or
   * `undefined` to answer as the mailbox would (e.g. to change the client's disk before a RETR).
   */
  readonly override?: FakeMailboxOptions['override'];
}

export type ScriptedMessage = MailboxMessage;

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

export async function startScriptedMailbox(
  messages: readonly Buffer[] = [],
  options: ScriptedMailboxOptions = {},
): Promise<ScriptedMailbox> {
  const { mailbox, server } = await startFakeMailbox({
    password: SCRIPTED_PASSWORD,
    messages,
    capabilities: ['USER', 'UIDL'],
    capabilitiesAfterLogin: ['USER', 'UIDL', ...(options.capabilitiesAfterLogin ?? [])],
    ...(options.expireZero ? { expireZero: true } : {}),
    ...(options.listSize ? { listSize: options.listSize } : {}),
    ...(options.override ? { override: options.override } : {}),
  });
  open.add(server);
  return {
    server,
    live: mailbox.live,
    add: (bytes, uidl) => mailbox.add(bytes, uidl),
    quits: () => mailbox.quits(),
    account: (id, overrides = {}) => loopbackAccount(id, server.port, { authMethod: 'USER', ...overrides }),
    close: () => {
      open.delete(server);
      return server.close();
    },
  };
}
