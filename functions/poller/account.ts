import type { AuthMethod, TlsMode } from '../pop3';
import type { ProviderName } from './providers';

/** What is polled: one POP3 mailbox and how to treat its messages. */
export interface AccountConfig {
  /** Stable identifier used in archive keys, events and logs: `[A-Za-z0-9._-]{1,64}`. */
  readonly id: string;
  /**
   * A mail provider whose known settings and behaviours apply (functions/poller/providers.ts):
   * host, port 995 and implicit TLS unless given, Gmail's per-session listing and `recent:` mode.
   * May instead come from the account's secret.
   */
  readonly provider?: ProviderName;
  /** Server host; may instead come from the account's secret or the provider. */
  readonly host?: string;
  readonly port?: number;
  /** Default `implicit` (port 995). */
  readonly tls?: TlsMode;
  readonly username?: string;
  /**
   * `delete` (default): DELE once archived. `keep`: leave on the server, archive only new UIDLs.
   * Gmail `recent:` logins are always polled in `keep` mode; `delete` is refused for them.
   */
  readonly mode?: 'delete' | 'keep';
  /** In `keep` mode, DELE messages archived at least this many days ago. */
  readonly deleteAfterDays?: number;
  /** PEM CA certificate(s) to trust for this server instead of the system store. */
  readonly caPem?: string;
  /** SHA-256 fingerprint of the server certificate to pin. */
  readonly certificateSha256?: string;
  /** Allow a password over an unencrypted connection (only with `tls: "none"`). */
  readonly allowPlaintextAuth?: boolean;
  readonly authMethod?: AuthMethod | 'auto';
  /** Per-run bound on messages fetched for this account. */
  readonly maxMessages?: number;
  /** Per-run bound on bytes fetched for this account (by the server's LIST sizes). */
  readonly maxBytes?: number;
}

/**
 * What a credential source returns: the login secret, and possibly connection settings kept in
 * the same secret (host, port, tls, username), which take precedence over the account config.
 */
export interface AccountSecret {
  readonly host?: string;
  readonly port?: number;
  readonly tls?: TlsMode;
  readonly username?: string;
  readonly password?: string;
  readonly accessToken?: string;
  /** Overrides the account configuration's provider. */
  readonly provider?: ProviderName;
  /**
   * The access token was issued by a token provider that can issue a fresh one: when the server
   * rejects it, the workflow asks again once with `rejectedAccessToken` (ports.ts) and retries the
   * login once. A static token is not refreshable, and a rejection is reported at once.
   */
  readonly refreshable?: boolean;
}

export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
