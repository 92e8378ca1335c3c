/**
 * The replay's error codes, one catalogue for the layer (docs/errors.md, "Replay"). Each error
 * has a stable `code` and says whether running the same replay again later (resuming it) can
 * succeed without a person (`retryable`). Messages name keys, paths and services, never a secret.
 */
export const REPLAY_ERROR_CODES = {
  /** A bad option or range: nothing was read. */
  EUSAGE: { retryable: false },
  /** An archived object's bytes do not hash to the SHA-256 its key names: reported, skipped, never "fixed". */
  EINTEGRITY: { retryable: false },
  /** The archive could not be listed or read (service, permission, file system). */
  EARCHIVE: { retryable: true },
  /** Events could not be published (the sink said which); the run stops before them. */
  EEVENTS: { retryable: true },
  /** The state file (the checkpoint) could not be read or written. */
  ESTATE: { retryable: false },
  /** Stopped by SIGINT or SIGTERM; resumable. */
  ESTOPPED: { retryable: true },
} as const;

export type ReplayErrorCode = keyof typeof REPLAY_ERROR_CODES;

export class ReplayError extends Error {
  override readonly name = 'ReplayError';
  readonly retryable: boolean;

  constructor(
    readonly code: ReplayErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; key?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? REPLAY_ERROR_CODES[code].retryable;
    if (options.key !== undefined) this.key = options.key;
  }

  /** The archive key concerned, when there is one. */
  key?: string;
}

/** A failure as a ReplayError: those with a code and `retryable` (ArchiveError, LocalPathError) keep them. */
export function asReplayError(error: unknown, fallback: ReplayErrorCode, context: string): ReplayError {
  if (error instanceof ReplayError) return error;
  const e = error as { code?: unknown; retryable?: unknown; message?: unknown } | undefined;
  const retryable = typeof e?.retryable === 'boolean' ? e.retryable : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  return new ReplayError(fallback, `${context}: ${message}`, {
    cause: error,
    ...(retryable !== undefined ? { retryable } : {}),
  });
}
