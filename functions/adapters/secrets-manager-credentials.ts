import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as v from 'valibot';
import type { AccountConfig, AccountSecret } from '../poller/account';
import type { CredentialSource } from '../poller/ports';
import { CredentialError } from './errors';
import { describeSdkError, errorName, isTransient } from './sdk-errors';

/**
 * Reads each account's login secret from AWS Secrets Manager.
 *
 * The secret's `SecretString` is a JSON object:
 *
 * ```json
 * { "host": "pop.example.com", "port": 995, "tls": "implicit",
 *   "username": "support@example.com", "password": "…" }
 * ```
 *
 * - `password` or `accessToken` (OAuth 2.0 bearer token) is required, or both.
 * - `host`, `port`, `tls` (`implicit` | `starttls` | `none`) and `username` are optional and take
 *   precedence over the account configuration; `username` must be in one of the two.
 * - `port` may be a number or a string of digits, since the console's key/value editor stores
 *   every value as a string.
 * - Other fields are ignored, so a secret can carry more (an `oauth2` block for token refresh
 *   later, a note for operators).
 *
 * Each secret is fetched once per instance (create one per run): concurrent and later calls for
 * the same secret share the answer. A failed fetch is not kept, so a later call tries again.
 *
 * Errors are `CredentialError`s naming the secret id and, for bad content, the field — never a
 * value: not the secret string, not a field, not the JSON parser's message (which quotes input).
 */

export type SecretIdResolver =
  | ((accountId: string) => string | undefined)
  | Readonly<Record<string, string>>
  | ReadonlyMap<string, string>;

/** What the workflow gets: connection settings from the secret, and the login secret itself. */
export type ResolvedSecret = AccountSecret & { readonly username: string };

/** What each field must be; also the text of its error message, so no value can leak into one. */
const RULES = {
  host: 'must be a non-empty string',
  port: 'must be an integer 1-65535',
  tls: 'must be one of "implicit", "starttls", "none"',
  username: 'must be a non-empty string',
  password: 'must be a non-empty string',
  accessToken: 'must be a non-empty string',
} as const;

const nonEmptyString = (message: string) => v.pipe(v.string(message), v.nonEmpty(message));

const SecretSchema = v.object(
  {
    host: v.optional(nonEmptyString(RULES.host)),
    port: v.optional(
      v.union(
        [
          v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)),
          v.pipe(v.string(), v.regex(/^\d{1,5}$/), v.transform(Number), v.minValue(1), v.maxValue(65535)),
        ],
        RULES.port,
      ),
    ),
    tls: v.optional(v.picklist(['implicit', 'starttls', 'none'], RULES.tls)),
    username: v.optional(nonEmptyString(RULES.username)),
    password: v.optional(nonEmptyString(RULES.password)),
    accessToken: v.optional(nonEmptyString(RULES.accessToken)),
  },
  'must be a JSON object',
);

export class SecretsManagerCredentials implements CredentialSource {
  private readonly cache = new Map<string, Promise<AccountSecret>>();

  constructor(
    private readonly client: SecretsManagerClient,
    /** Account id → secret name or ARN. */
    private readonly secretIds: SecretIdResolver,
  ) {}

  async credentials(account: AccountConfig): Promise<ResolvedSecret> {
    const secretId = this.secretIdFor(account.id);
    let pending = this.cache.get(secretId);
    if (pending === undefined) {
      pending = this.fetch(secretId);
      this.cache.set(secretId, pending);
      pending.catch(() => this.cache.delete(secretId));
    }
    const secret = await pending;
    const username = secret.username ?? account.username;
    if (username === undefined) {
      throw new CredentialError(
        'invalid',
        `secret "${secretId}": field "username" is required (account "${account.id}" configures none)`,
      );
    }
    return { ...secret, username };
  }

  private secretIdFor(accountId: string): string {
    const resolver = this.secretIds;
    const id =
      typeof resolver === 'function'
        ? resolver(accountId)
        : resolver instanceof Map
          ? resolver.get(accountId)
          : Object.hasOwn(resolver, accountId)
            ? (resolver as Readonly<Record<string, string>>)[accountId]
            : undefined;
    if (!id) throw new CredentialError('not-found', `no secret is configured for account "${accountId}"`);
    return id;
  }

  private async fetch(secretId: string): Promise<AccountSecret> {
    let secretString: string | undefined;
    try {
      const output = await this.client.send(new GetSecretValueCommand({ SecretId: secretId }));
      secretString = output.SecretString;
    } catch (error) {
      throw fetchError(secretId, error);
    }
    if (secretString === undefined) {
      throw new CredentialError(
        'invalid',
        `secret "${secretId}" has no SecretString (binary secrets are not supported)`,
      );
    }
    return parseSecret(secretId, secretString);
  }
}

/** Validates a secret's JSON; exported for the CLI's own secret files. */
export function parseSecret(secretId: string, secretString: string): AccountSecret {
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    // The parser's message quotes the input around the error: leave it out, and the cause too.
    throw new CredentialError('invalid', `secret "${secretId}": SecretString is not valid JSON`);
  }
  // valibot's object schema takes arrays too.
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new CredentialError('invalid', `secret "${secretId}": SecretString must be a JSON object`);
  }
  const result = v.safeParse(SecretSchema, json, { abortEarly: true });
  if (!result.success) {
    const key = result.issues[0]?.path?.[0]?.key;
    const message =
      typeof key === 'string' && Object.hasOwn(RULES, key)
        ? `field "${key}" ${RULES[key as keyof typeof RULES]}`
        : 'SecretString must be a JSON object';
    throw new CredentialError('invalid', `secret "${secretId}": ${message}`);
  }
  const secret = result.output;
  if (secret.password === undefined && secret.accessToken === undefined) {
    throw new CredentialError(
      'invalid',
      `secret "${secretId}": field "password" or "accessToken" is required`,
    );
  }
  return {
    ...(secret.host !== undefined ? { host: secret.host } : {}),
    ...(secret.port !== undefined ? { port: secret.port } : {}),
    ...(secret.tls !== undefined ? { tls: secret.tls } : {}),
    ...(secret.username !== undefined ? { username: secret.username } : {}),
    ...(secret.password !== undefined ? { password: secret.password } : {}),
    ...(secret.accessToken !== undefined ? { accessToken: secret.accessToken } : {}),
  };
}

function fetchError(secretId: string, error: unknown): CredentialError {
  const name = errorName(error);
  switch (name) {
    case 'ResourceNotFoundException':
      return new CredentialError('not-found', `secret "${secretId}" not found`, { cause: error });
    case 'AccessDeniedException':
      return new CredentialError(
        'access-denied',
        `access denied to secret "${secretId}": ${describeSdkError(error)}`,
        {
          cause: error,
        },
      );
    case 'DecryptionFailure':
      // Usually the caller may not use the secret's KMS key.
      return new CredentialError(
        'access-denied',
        `secret "${secretId}" cannot be decrypted: ${describeSdkError(error)}`,
        {
          cause: error,
        },
      );
  }
  if (isTransient(error)) {
    return new CredentialError(
      'unavailable',
      `reading secret "${secretId}" failed: ${describeSdkError(error)}`,
      {
        cause: error,
      },
    );
  }
  // InvalidRequestException (e.g. scheduled for deletion), InvalidParameterException and the like.
  return new CredentialError('invalid', `secret "${secretId}" cannot be read: ${describeSdkError(error)}`, {
    cause: error,
  });
}
