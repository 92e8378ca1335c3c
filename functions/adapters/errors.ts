/**
 * Errors the adapters raise on purpose. Each carries a stable `code` and a `retryable` flag in the
 * same shape as the POP3 client's and the workflow's errors (functions/poller/errors.ts reads any
 * error with a string `code` and a boolean `retryable`), without the adapters importing the
 * workflow. Messages name what failed (a key, a secret id, a field, an environment variable) and
 * never carry a secret's value.
 */

/** Why an archive write was refused. */
export type ArchiveFailure =
  /** A different object already exists at the key; the store never overwrites it. */
  | 'conflict'
  /** The bytes read from the item do not hash to (or are not as long as) what the item claims. */
  | 'integrity'
  /** The service or file system failed, or kept failing after retries. */
  | 'unavailable';

const ARCHIVE_CODES = { conflict: 'EINTEGRITY', integrity: 'EINTEGRITY', unavailable: 'EARCHIVE' } as const;

export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
  /** `EINTEGRITY` for conflicts and hash mismatches, `EARCHIVE` for a store that is failing. */
  readonly code: (typeof ARCHIVE_CODES)[ArchiveFailure];
  readonly retryable: boolean;

  constructor(
    readonly reason: ArchiveFailure,
    /** The archive key (relative to the store's root) that was being written. */
    readonly key: string,
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = ARCHIVE_CODES[reason];
    // A conflict needs a human (the key is content-addressed, so a different object there means
    // corruption or a foreign writer); a hash mismatch can clear on a fresh retrieval.
    this.retryable = options.retryable ?? reason !== 'conflict';
  }
}

/** Why credentials could not be obtained. */
export type CredentialFailure =
  /** The secret does not exist (or no secret is configured for the account). */
  | 'not-found'
  /** The caller may not read the secret (or decrypt it). */
  | 'access-denied'
  /** The secret exists but its content is not usable; the message names the field. */
  | 'invalid'
  /** An environment variable named in the configuration is not set. */
  | 'missing-env'
  /**
   * The OAuth 2.0 token endpoint refused the grant or the client (`invalid_grant`: refresh token
   * expired or revoked; `invalid_client`: wrong or expired client secret; …): a person must act.
   */
  | 'token-rejected'
  /** Throttling, a service-side error or the network: a later attempt can succeed. */
  | 'unavailable';

export class CredentialError extends Error {
  override readonly name = 'CredentialError';
  readonly code = 'ECREDENTIALS';
  readonly retryable: boolean;

  constructor(
    readonly reason: CredentialFailure,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = reason === 'unavailable';
  }
}

export function isArchiveError(value: unknown): value is ArchiveError {
  return value instanceof ArchiveError;
}

export function isCredentialError(value: unknown): value is CredentialError {
  return value instanceof CredentialError;
}
