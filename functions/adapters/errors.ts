/**
 * Errors the adapters raise on purpose. Each carries a stable `code` and a `retryable` flag in the
 * same shape as the POP3 client's and the workflow's errors (functions/poller/errors.ts reads any
 * error with a string `code` and a boolean `retryable`), without the adapters importing the
 * workflow. Messages name what failed (a key, a secret id, a field, an environment variable) and
 * never carry a secret's value. Every error class of functions/adapters/ is declared here.
 */

/**
 * Every code an adapter raises. `EARCHIVE`, `EINTEGRITY` and `ECREDENTIALS` are workflow codes
 * (POLL_ERROR_CODES), raised here so that the workflow reports them unchanged; the others belong to
 * this layer: a local path that cannot be written, the keep-mode state, the mailbox registry.
 */
export const ADAPTER_ERROR_CODES = [
  'EARCHIVE',
  'EINTEGRITY',
  'ECREDENTIALS',
  'EPATH',
  'ESTATE',
  'EREGISTRY',
] as const;

export type AdapterErrorCode = (typeof ADAPTER_ERROR_CODES)[number];

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

/**
 * The keep-mode state (archived UIDLs per account) in S3 could not be read or written
 * (s3-seen-store.ts). `retryable` when the S3 failure is transient; a state object that is not
 * what the store writes is not (a human has to look). The directory state store raises
 * LocalPathError with the same code.
 */
export class SeenStoreError extends Error {
  override readonly name = 'SeenStoreError';
  readonly code = 'ESTATE';
  readonly retryable: boolean;

  constructor(message: string, options: { cause?: unknown; retryable: boolean }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable;
  }
}

/**
 * Some mailbox registry items were not written (dynamodb-registry.ts), after the SDK's retries and
 * the adapter's re-sends of unprocessed items; `ids` names them (never a value). Retryable: a
 * later write of the same records is harmless.
 */
export class RegistryWriteError extends Error {
  override readonly name = 'RegistryWriteError';
  readonly code = 'EREGISTRY';
  readonly retryable = true;

  constructor(
    readonly ids: readonly string[],
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * An S3 object could not be read (s3-object-reader.ts): the request failed, or the body broke off
 * or came short. It has no code of its own: its one caller, the SES inbound handler, reports it
 * as its own `EREAD` (functions/ses/errors.ts), retryable.
 */
export class ObjectReadError extends Error {
  override readonly name = 'ObjectReadError';
}

export function isArchiveError(value: unknown): value is ArchiveError {
  return value instanceof ArchiveError;
}

export function isCredentialError(value: unknown): value is CredentialError {
  return value instanceof CredentialError;
}

/**
 * OS error codes of local file systems that a later attempt can get past without a person: a full
 * disk or quota, too many open files, a busy or interrupted call. Every other code (EACCES, EPERM,
 * EROFS, ENOENT, ENOTDIR, EISDIR, ELOOP, ENAMETOOLONG, EIO, …) stays until someone changes the path,
 * its permissions or the mount.
 */
const TEMPORARY_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'EINTR']);

/** What each common code means, in the words a user reads after the path. */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
};

/**
 * A local path (archive directory, events file, keep-mode state, spool, secret file) that could not
 * be created, written or synced. The message is one line: what the path is for, the path, the OS
 * error code and its meaning, and the path the call failed on when that is another one (a parent
 * directory, a temporary file). `retryable` for a full disk and the like (see TEMPORARY_ERRNOS).
 * Its `code` is `EPATH`, except where the path holds something with a code of its own: `ESTATE`
 * for the keep-mode state (as the S3 state store reports it).
 */
export class LocalPathError extends Error {
  override readonly name = 'LocalPathError';
  readonly code: 'EPATH' | 'ESTATE';
  readonly retryable: boolean;

  constructor(
    /** What the path is for, e.g. `archive directory`. */
    readonly what: string,
    readonly path: string,
    /** The OS error code, e.g. `EACCES`; `EUNKNOWN` when the cause carried none. */
    readonly errno: string,
    message: string,
    options: { cause?: unknown; code?: 'EPATH' | 'ESTATE' } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? 'EPATH';
    this.retryable = TEMPORARY_ERRNOS.has(errno);
  }
}

/**
 * Wraps a file-system failure at `path` (used for `what`) in a LocalPathError; one already made is
 * returned as it is. `error.detail`, when set (see make-directory.ts), replaces the code's usual
 * meaning; the path the call failed on is named when it differs from `path`.
 */
export function localPathError(
  what: string,
  path: string,
  error: unknown,
  code: 'EPATH' | 'ESTATE' = 'EPATH',
): LocalPathError {
  if (error instanceof LocalPathError) return error;
  const e = (error ?? {}) as {
    code?: unknown;
    path?: unknown;
    detail?: unknown;
    message?: unknown;
  };
  const errno = typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) ? e.code : 'EUNKNOWN';
  const meaning =
    typeof e.detail === 'string'
      ? e.detail
      : (ERRNO_TEXT[errno] ?? (typeof e.message === 'string' ? e.message.split('\n')[0] : 'failed'));
  const at =
    typeof e.detail !== 'string' && typeof e.path === 'string' && e.path !== path ? ` (at ${e.path})` : '';
  return new LocalPathError(what, path, errno, `${what} ${path}: ${errno}, ${meaning}${at}`, {
    cause: error,
    code,
  });
}
