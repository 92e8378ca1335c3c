import { isPop3Error, Pop3Client, type Pop3ClientOptions, type Pop3Timeouts, type TlsMode } from '../pop3';
import type { AccountConfig, AccountSecret } from './account';
import { PollError } from './errors';
import { Pop3MailboxSession } from './pop3-mailbox';
import type { CredentialSource, Mailbox, MailboxSession } from './ports';
import { isKeepOnlyLogin, providerPreset, type ProviderPreset } from './providers';

/**
 * Opening a logged-in POP3 session for an account: where to connect (the secret, the account and
 * the provider preset combined), with which client options, and the one token refresh on a
 * rejected access token. Shared by the poll workflow and `check`, so that a check logs in exactly
 * as a poll would. The session is handed out as the mailbox port (ports.ts), over the POP3 client.
 */

/** Where and how to connect, once the secret, the account and the provider preset are combined. */
export interface Connection {
  readonly host: string;
  readonly port: number | undefined;
  readonly tls: TlsMode;
  readonly username: string;
  readonly preset: ProviderPreset | undefined;
  /**
   * The login may never delete (Gmail `recent:`): the account runs in keep mode whatever its
   * `mode` says, and a `mode: "delete"` or `deleteAfterDays` is refused as a configuration error.
   */
  readonly keepOnly: boolean;
}

export interface SessionDependencies {
  readonly credentials: CredentialSource;
  /** How to open a logged-in session; defaults to `Pop3Client.connect`. */
  readonly connect?: (options: Pop3ClientOptions) => Promise<Pop3Client>;
}

export interface SessionOptions {
  readonly timeouts?: Partial<Pop3Timeouts>;
  readonly maxMessageBytes?: number;
  readonly signal?: AbortSignal;
}

export interface OpenSession {
  readonly session: MailboxSession;
  readonly connection: Connection;
}

/** The mailbox port for a poll of `account`: each `open` is one `openSession`. */
export function pop3Mailbox(
  account: AccountConfig,
  deps: SessionDependencies,
  options: SessionOptions = {},
): Mailbox {
  return {
    open: async ({ signal } = {}) => {
      const cut =
        signal && options.signal ? AbortSignal.any([options.signal, signal]) : (signal ?? options.signal);
      const { session, connection } = await openSession(account, deps, {
        ...options,
        ...(cut ? { signal: cut } : {}),
      });
      return { session, preset: connection.preset, keepOnly: connection.keepOnly };
    },
  };
}

/**
 * Opens a logged-in session. When the server rejects a refreshable access token (expired early,
 * revoked, or rotated at the provider), the credential source is asked once for a fresh one and
 * the login is tried once more; a second rejection is the caller's EAUTH. Nothing loops.
 */
export async function openSession(
  account: AccountConfig,
  deps: SessionDependencies,
  options: SessionOptions = {},
  /** Told where each attempt connects, before it does (a failed login can still say where). */
  onConnection?: (connection: Connection) => void,
): Promise<OpenSession> {
  const connect = deps.connect ?? ((o: Pop3ClientOptions) => Pop3Client.connect(o));
  const attempt = async (secret: AccountSecret): Promise<OpenSession> => {
    const connection = resolveConnection(account, secret);
    onConnection?.(connection);
    const client = await connect(clientOptions(account, secret, connection, options));
    return { session: new Pop3MailboxSession(client, options.maxMessageBytes), connection };
  };
  const secret = await deps.credentials.credentials(account);
  try {
    return await attempt(secret);
  } catch (error) {
    const rejectedToken = secret.refreshable ? secret.accessToken : undefined;
    if (rejectedToken === undefined || !isPop3Error(error) || error.code !== 'EAUTH') throw error;
    const fresh = await deps.credentials.credentials(account, { rejectedAccessToken: rejectedToken });
    return attempt(fresh);
  }
}

/**
 * Where to connect: the secret's settings, then the account's, then the provider preset's
 * (the secret's `provider` wins over the account's; a known provider host selects its preset).
 */
export function resolveConnection(account: AccountConfig, secret: AccountSecret): Connection {
  const id = account.id;
  const explicitHost = secret.host ?? account.host;
  const preset = providerPreset(secret.provider ?? account.provider, explicitHost);
  const host = explicitHost ?? preset?.host;
  const username = secret.username ?? account.username;
  if (!host) throw new PollError('ECONFIG', `account "${id}" has no host`);
  if (!username) throw new PollError('ECONFIG', `account "${id}" has no username`);
  const keepOnly = isKeepOnlyLogin(preset, username);
  if (keepOnly) {
    // Gmail `recent:` lists the last 30 days whatever was downloaded before: a DELE there would
    // act on mail another client (or a normal login) may not have seen yet.
    const why = `account "${id}" logs in with "${preset!.keepOnlyPrefix}", where messages must never be deleted:`;
    if (account.mode === 'delete')
      throw new PollError('ECONFIG', `${why} set mode "keep" or leave mode unset`);
    if (account.deleteAfterDays !== undefined)
      throw new PollError('ECONFIG', `${why} remove deleteAfterDays`);
  }
  return {
    host,
    port: secret.port ?? account.port ?? preset?.port,
    tls: secret.tls ?? account.tls ?? preset?.tls ?? 'implicit',
    username,
    preset,
    keepOnly,
  };
}

function clientOptions(
  account: AccountConfig,
  secret: AccountSecret,
  { host, port, tls, username }: Connection,
  options: SessionOptions,
): Pop3ClientOptions {
  return {
    host,
    ...(port !== undefined ? { port } : {}),
    tls,
    tlsOptions: {
      ...(account.caPem ? { ca: account.caPem } : {}),
      ...(account.certificateSha256 ? { certificateSha256: account.certificateSha256 } : {}),
    },
    allowPlaintextAuth: account.allowPlaintextAuth ?? false,
    auth: {
      username,
      ...(secret.password !== undefined ? { password: secret.password } : {}),
      ...(secret.accessToken !== undefined ? { accessToken: secret.accessToken } : {}),
      method: account.authMethod ?? 'auto',
    },
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
}
