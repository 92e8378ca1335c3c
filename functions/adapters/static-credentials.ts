import type { AccountConfig } from '../poller/account';
import type { CredentialSource } from '../poller/ports';
import { CredentialError } from './errors';
import type { ResolvedSecret } from './secret-document';
import { lookupAccount } from './per-account';

/**
 * Credentials for the CLI, from its configuration: a password (or OAuth 2.0 access token) given
 * inline, or — better, so it stays out of config files and shell history — the name of an
 * environment variable that holds it.
 *
 * ```json
 * { "support": { "username": "support@example.com", "passwordEnv": "SUPPORT_POP3_PASSWORD" } }
 * ```
 *
 * The variable is read when the account's credentials are asked for. An unset or empty variable is
 * a `CredentialError` (reason `missing-env`) that names the variable, never a value.
 */

export interface StaticAccountCredentials {
  /** Falls back to the account configuration's `username`. */
  readonly username?: string;
  readonly password?: string;
  /** Name of the environment variable holding the password. */
  readonly passwordEnv?: string;
  readonly accessToken?: string;
  /** Name of the environment variable holding the access token. */
  readonly accessTokenEnv?: string;
}

export interface StaticCredentialsOptions {
  /** Where `…Env` names are looked up. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export class StaticCredentials implements CredentialSource {
  private readonly env: Readonly<Record<string, string | undefined>>;

  constructor(
    /** Account id → its credentials. */
    private readonly accounts:
      Readonly<Record<string, StaticAccountCredentials>> | ReadonlyMap<string, StaticAccountCredentials>,
    options: StaticCredentialsOptions = {},
  ) {
    this.env = options.env ?? process.env;
  }

  async credentials(account: AccountConfig): Promise<ResolvedSecret> {
    const entry = this.entryFor(account.id);
    const where = `account "${account.id}"`;
    const password = this.pick(where, 'password', entry.password, entry.passwordEnv);
    const accessToken = this.pick(where, 'accessToken', entry.accessToken, entry.accessTokenEnv);
    if (password === undefined && accessToken === undefined) {
      throw new CredentialError(
        'invalid',
        `${where}: a password, passwordEnv, accessToken or accessTokenEnv is required`,
      );
    }
    const username = entry.username || account.username;
    if (!username) throw new CredentialError('invalid', `${where}: a username is required`);
    return {
      username,
      ...(password !== undefined ? { password } : {}),
      ...(accessToken !== undefined ? { accessToken } : {}),
    };
  }

  private entryFor(accountId: string): StaticAccountCredentials {
    const entry = lookupAccount(this.accounts, accountId);
    if (!entry)
      throw new CredentialError('not-found', `no credentials are configured for account "${accountId}"`);
    return entry;
  }

  /** The inline value or the named variable's; both at once is ambiguous and refused. */
  private pick(
    where: string,
    field: string,
    inline: string | undefined,
    envName: string | undefined,
  ): string | undefined {
    if (inline !== undefined && envName !== undefined) {
      throw new CredentialError('invalid', `${where}: give either "${field}" or "${field}Env", not both`);
    }
    if (envName === undefined) {
      if (inline === '') throw new CredentialError('invalid', `${where}: "${field}" is empty`);
      return inline;
    }
    const value = this.env[envName];
    if (value === undefined || value === '') {
      throw new CredentialError(
        'missing-env',
        `${where}: environment variable "${envName}" (${field}Env) is ${value === undefined ? 'not set' : 'empty'}`,
      );
    }
    return value;
  }
}
