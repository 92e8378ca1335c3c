import { defaultPort, type AuthMethod, type TlsMode } from '../pop3';
import type { AccountConfig } from './account';
import { mapBounded } from './bounded';
import { describeFailure, type FailureReport } from './errors';
import { listMailbox, splitKeepMode } from './mailbox';
import { systemClock, type Clock, type SeenUidlStore } from './ports';
import { openSession, type SessionDependencies, type SessionOptions } from './session';

/**
 * A check of an account, for setting one up: log in exactly as a poll would (same secret, TLS
 * settings, login method choice, token refresh), ask STAT what is waiting (in keep mode also LIST
 * and UIDL, against the seen-UIDL store, for what a poll would fetch), read the capabilities and
 * QUIT. Nothing is retrieved and nothing is marked deleted, so the QUIT removes nothing
 * (RFC 1939 §6). The one side effect a check can have is a poll's too: a refresh token rotated by
 * the token endpoint is written back to its secret.
 */

export interface CheckResult {
  readonly accountId: string;
  readonly status: 'ok' | 'failed';
  /** Where the check connected, once the account's settings resolved. */
  readonly server?: {
    readonly host: string;
    readonly port: number;
    readonly tls: TlsMode;
    /** The TLS version negotiated, when the session was encrypted. */
    readonly tlsProtocol?: string;
  };
  /** How the session logged in: `USER`, `APOP` or a SASL mechanism. */
  readonly loginMethod?: AuthMethod;
  /** The mode a poll would run in (a Gmail `recent:` login is always `keep`). */
  readonly mode?: 'delete' | 'keep';
  /** Messages in the mailbox and their total size, from STAT. */
  readonly messages?: number;
  readonly octets?: number;
  /** Keep mode: the messages a poll would fetch, those whose UIDL it has not archived before. */
  readonly newMessages?: number;
  /** Capability tags the server listed after login (RFC 2449). */
  readonly capabilities?: readonly string[];
  /** RFC 2449 §6.5: seconds the server wants between logins. */
  readonly loginDelaySeconds?: number;
  readonly durationMs: number;
  readonly error?: FailureReport;
}

export interface CheckOptions extends SessionOptions {
  /** Accounts checked at once. Default 4. */
  readonly accountConcurrency?: number;
  readonly clock?: Clock;
}

export interface CheckDependencies extends SessionDependencies {
  /** Where keep mode remembers archived UIDLs; needed to count a keep-mode account's new mail. */
  readonly seen?: SeenUidlStore;
}

export async function checkAccount(
  account: AccountConfig,
  deps: CheckDependencies,
  options: CheckOptions = {},
): Promise<CheckResult> {
  const clock = options.clock ?? systemClock;
  const started = clock.now().getTime();
  let found: Omit<CheckResult, 'accountId' | 'status' | 'durationMs' | 'error'> = {};
  try {
    const { session } = await openSession(account, deps, options, (connection) => {
      found = {
        server: {
          host: connection.host,
          port: connection.port ?? defaultPort(connection.tls),
          tls: connection.tls,
        },
        mode: connection.keepOnly ? 'keep' : (account.mode ?? 'delete'),
      };
    });
    try {
      found = {
        ...found,
        server: { ...found.server!, ...(session.tlsProtocol ? { tlsProtocol: session.tlsProtocol } : {}) },
        ...(session.loginMethod ? { loginMethod: session.loginMethod } : {}),
        capabilities: session.capabilityTags,
        ...(session.loginDelaySeconds !== undefined ? { loginDelaySeconds: session.loginDelaySeconds } : {}),
      };
      const { count, size } = await session.stat();
      found = { ...found, messages: count, octets: size };
      if (found.mode === 'keep') {
        const listing = await listMailbox(session);
        const { fresh } = await splitKeepMode(account, listing, deps.seen, clock.now());
        found = { ...found, newMessages: fresh.length };
      }
      await session.quit();
    } finally {
      session.abort();
    }
    return { accountId: account.id, status: 'ok', ...found, durationMs: clock.now().getTime() - started };
  } catch (error) {
    return {
      accountId: account.id,
      status: 'failed',
      ...found,
      durationMs: clock.now().getTime() - started,
      error: describeFailure(error),
    };
  }
}

/** Checks every account, a bounded number at a time; one account's failure never stops another. */
export function checkAccounts(
  accounts: readonly AccountConfig[],
  deps: CheckDependencies,
  options: CheckOptions = {},
): Promise<CheckResult[]> {
  return mapBounded(accounts, options.accountConcurrency ?? 4, (account) =>
    checkAccount(account, deps, options),
  );
}
