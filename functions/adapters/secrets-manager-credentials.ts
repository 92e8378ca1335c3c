import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CredentialError } from './errors';
import { SecretDocumentCredentials, type SecretDocumentOptions } from './secret-document';
import { describeSdkError, errorName, isTransient } from './sdk-errors';
import { lookupAccount } from './per-account';
import type { SecretTextCache } from './secret-cache';

export { parseSecret, type ResolvedSecret, type StoredSecret } from './secret-document';

/**
 * Reads each account's login secret from AWS Secrets Manager. The secret's `SecretString` is the
 * JSON document described in secret-document.ts:
 *
 * ```json
 * { "host": "pop.example.com", "port": 995, "tls": "implicit",
 *   "username": "support@example.com", "password": "…" }
 * ```
 *
 * or, for OAuth 2.0 (docs/oauth2.md), an `oauth2` block instead of the password. When the token
 * endpoint rotates a refresh token, the new one is written back with `PutSecretValue` (the same
 * JSON with only `oauth2.refreshToken` changed), which needs `secretsmanager:PutSecretValue`.
 *
 * Each secret is fetched once per instance (create one per run): concurrent and later calls for
 * the same secret share the answer. A failed fetch is not kept, so a later call tries again. With
 * a `textCache` (secret-cache.ts), texts also outlive the instance for the cache's TTL. A shared
 * secret (shared-secret.ts) is read once for all of its mailboxes; each takes its own entry.
 *
 * Errors are `CredentialError`s naming the secret id and, for bad content, the field — never a
 * value: not the secret string, not a field, not the JSON parser's message (which quotes input).
 */

export type SecretIdResolver =
  | ((accountId: string) => string | undefined)
  | Readonly<Record<string, string>>
  | ReadonlyMap<string, string>;

export interface SecretsManagerCredentialsOptions extends SecretDocumentOptions {
  /** Account id → its entry in a shared secret (shared-secret.ts). @default the account id */
  readonly entryKeys?: (accountId: string) => string | undefined;
  /** Texts kept across instances (a warm Lambda environment), for the cache's TTL. */
  readonly textCache?: SecretTextCache;
  /** Told about each GetSecretValue call (a secret id), for counting. */
  readonly onRead?: (secretId: string) => void;
}

export class SecretsManagerCredentials extends SecretDocumentCredentials {
  private readonly entryKeys: ((accountId: string) => string | undefined) | undefined;
  private readonly textCache: SecretTextCache | undefined;
  private readonly onRead: ((secretId: string) => void) | undefined;

  constructor(
    private readonly client: SecretsManagerClient,
    /** Account id → secret name or ARN. */
    private readonly secretIds: SecretIdResolver,
    options: SecretsManagerCredentialsOptions = {},
  ) {
    super(options);
    this.entryKeys = options.entryKeys;
    this.textCache = options.textCache;
    this.onRead = options.onRead;
  }

  protected override entryKeyFor(accountId: string): string {
    return this.entryKeys?.(accountId) ?? accountId;
  }

  protected secretIdFor(accountId: string): string {
    const resolver = this.secretIds;
    const id = typeof resolver === 'function' ? resolver(accountId) : lookupAccount(resolver, accountId);
    if (!id) throw new CredentialError('not-found', `no secret is configured for account "${accountId}"`);
    return id;
  }

  protected async read(secretId: string, options: { fresh?: boolean } = {}): Promise<string> {
    if (!options.fresh) {
      const cached = this.textCache?.get(secretId);
      if (cached !== undefined) return cached;
    }
    this.onRead?.(secretId);
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
    this.textCache?.set(secretId, secretString);
    return secretString;
  }

  protected async write(secretId: string, text: string): Promise<void> {
    try {
      await this.client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: text }));
      this.textCache?.set(secretId, text);
    } catch (error) {
      // SDK messages describe the request, never its payload.
      throw new Error(`PutSecretValue failed: ${describeSdkError(error)}`);
    }
  }
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
