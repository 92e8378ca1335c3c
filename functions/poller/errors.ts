import { isPop3Error } from '../pop3';

/**
 * Failures of the poll workflow itself. Together with the POP3 client's catalogue
 * (functions/pop3/errors.ts) and the adapters' (functions/adapters/errors.ts: EPATH, ESTATE,
 * EREGISTRY) these are all the codes a poll reports.
 */
export const POLL_ERROR_CODES = {
  /** The archive did not store the message (service error, disk full, permission). */
  EARCHIVE: { retryable: true, summary: 'archiving failed' },
  /** What the archive stored does not hash to what was received. */
  EINTEGRITY: { retryable: true, summary: 'archived bytes differ from received bytes' },
  /** The event for a message could not be published. */
  EEVENTS: { retryable: true, summary: 'event publishing failed' },
  /** The account's credentials could not be obtained (missing, denied, malformed secret). */
  ECREDENTIALS: { retryable: false, summary: 'credentials unavailable' },
  /** The account or run configuration cannot work (e.g. keep mode on a server without UIDL). */
  ECONFIG: { retryable: false, summary: 'invalid configuration' },
  /**
   * The session ended without QUIT although messages were archived: the server deletes what was
   * retrieved (EXPIRE 0), and a retrieved message was not archived, so QUIT would have lost it.
   * Nothing was committed; the next run fetches the archived ones again (same keys, same ids).
   */
  EUNCOMMITTED: { retryable: true, summary: 'session left without QUIT to keep an unarchived message' },
  /**
   * The deadline (PollOptions.deadline) passed by its grace period (`hardStopGraceMs`) with the
   * session still running, e.g. a server streaming one endless reply fast enough to pass the idle
   * watchdog: the connection was dropped without QUIT, so nothing was deleted in that session
   * (RFC 1939 §6). What was archived stays archived; the next run fetches it again onto the same
   * keys and event ids.
   */
  EDEADLINE: { retryable: true, summary: 'deadline passed: session dropped without QUIT' },
  /** The run was asked to stop (PollOptions.stop) before this account began: it was not polled. */
  ESTOPPED: { retryable: true, summary: 'stopped before the account began' },
} as const;

export type PollErrorCode = keyof typeof POLL_ERROR_CODES;

export class PollError extends Error {
  override readonly name = 'PollError';
  readonly retryable: boolean;

  constructor(
    readonly code: PollErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? POLL_ERROR_CODES[code].retryable;
  }
}

/** How a failure is reported: a stable code, whether a later run can help, whether a human must act. */
export interface FailureReport {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly needsAttention: boolean;
}

/**
 * Codes that always mean a human has to fix something (credentials, certificates, the server).
 * Beyond these, any failure that a retry cannot fix needs attention; a throttled secret fetch
 * (ECREDENTIALS, retryable) does not.
 */
const NEEDS_ATTENTION = new Set(['EAUTH', 'ESYS_PERM', 'ETLS', 'ECONFIG']);

export function describeFailure(error: unknown): FailureReport {
  if (isPop3Error(error) || error instanceof PollError) {
    return {
      code: error.code,
      message: error.message,
      retryable: error.retryable,
      needsAttention: NEEDS_ATTENTION.has(error.code) || !error.retryable,
    };
  }
  // Adapter errors carry `code` and `retryable` in the same way without importing this module.
  const e = error as { code?: unknown; retryable?: unknown; message?: unknown } | undefined;
  if (e && typeof e.code === 'string' && typeof e.retryable === 'boolean') {
    return {
      code: e.code,
      message: String(e.message),
      retryable: e.retryable,
      needsAttention: NEEDS_ATTENTION.has(e.code) || !e.retryable,
    };
  }
  return {
    code: 'EUNEXPECTED',
    message: error instanceof Error ? error.message : String(error),
    retryable: true,
    needsAttention: true,
  };
}
