/**
 * The one catalogue of POP3 client failures.
 *
 * Every error the client raises is a `Pop3Error` whose `code` is one of the keys below. The code is
 * stable (callers switch on it); the message is for humans. `retryable` tells whether trying the
 * same thing again later can help, which is what a poller needs to decide between "back off" and
 * "alert a human".
 *
 * Secrets never reach an error: commands are recorded by verb only (see `Pop3Error.command`), and
 * server replies are kept only for commands that carry no credentials.
 */
export const ERROR_CODES = {
  /** TCP connection refused, reset or closed by the server unexpectedly. */
  ECONNECTION: { retryable: true, summary: 'connection failed or was lost' },
  /** A named timeout fired (connect, greeting or idle). */
  ETIMEDOUT: { retryable: true, summary: 'timed out' },
  /** TLS handshake failed, certificate not trusted, pin mismatch, or STLS unavailable. */
  ETLS: { retryable: false, summary: 'TLS failure' },
  /** The server broke the protocol (malformed reply, missing terminator, injected data). */
  EPROTOCOL: { retryable: true, summary: 'protocol violation' },
  /** Authentication was rejected (RFC 3206 [AUTH], or a plain -ERR to a login command). */
  EAUTH: { retryable: false, summary: 'authentication failed' },
  /** RFC 2449 [IN-USE]: the maildrop is locked by another session. */
  EIN_USE: { retryable: true, summary: 'mailbox in use' },
  /** RFC 2449 [LOGIN-DELAY]: logged in again too soon. */
  ELOGIN_DELAY: { retryable: true, summary: 'login delay not yet elapsed' },
  /** RFC 3206 [SYS/TEMP]: transient server-side failure. */
  ESYS_TEMP: { retryable: true, summary: 'temporary server failure' },
  /** RFC 3206 [SYS/PERM]: permanent server-side failure; needs a human. */
  ESYS_PERM: { retryable: false, summary: 'permanent server failure' },
  /** The server answered -ERR to a command, with no response code that says more. */
  ECOMMAND: { retryable: false, summary: 'command rejected' },
  /** A configured limit was exceeded (status line length, message size). */
  ELIMIT: { retryable: false, summary: 'limit exceeded' },
  /** The operation was aborted through an AbortSignal. */
  EABORTED: { retryable: true, summary: 'aborted' },
  /** The client was asked for something it refuses to do (bad argument, cleartext password). */
  ECONFIG: { retryable: false, summary: 'invalid request or configuration' },
  /** A command was issued on a session that is closed or closing. */
  ECLOSED: { retryable: true, summary: 'session closed' },
} as const;

export type Pop3ErrorCode = keyof typeof ERROR_CODES;

export interface Pop3ErrorDetails {
  /** The command verb that failed (never its arguments), e.g. `RETR` or `PASS`. */
  command?: string;
  /** The server's status line, when it is safe to keep (never for credential commands). */
  response?: string;
  /** Seconds to wait before trying again, when the server said so (LOGIN-DELAY). */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class Pop3Error extends Error {
  override readonly name = 'Pop3Error';
  readonly code: Pop3ErrorCode;
  readonly retryable: boolean;
  readonly command?: string;
  readonly response?: string;
  readonly retryAfterSeconds?: number;

  constructor(code: Pop3ErrorCode, message: string, details: Pop3ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.retryable = ERROR_CODES[code].retryable;
    if (details.command !== undefined) this.command = details.command;
    if (details.response !== undefined) this.response = details.response;
    if (details.retryAfterSeconds !== undefined) this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/** Maps an RFC 2449 / RFC 3206 response code to the error code that says the same. */
export function errorCodeForResponseCode(respCode: string | undefined): Pop3ErrorCode | undefined {
  switch (respCode?.toUpperCase()) {
    case 'IN-USE':
      return 'EIN_USE';
    case 'LOGIN-DELAY':
      return 'ELOGIN_DELAY';
    case 'SYS/TEMP':
      return 'ESYS_TEMP';
    case 'SYS/PERM':
      return 'ESYS_PERM';
    case 'AUTH':
      return 'EAUTH';
    default:
      return undefined;
  }
}

export function isPop3Error(value: unknown): value is Pop3Error {
  return value instanceof Pop3Error;
}
