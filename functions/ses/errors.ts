/**
 * Why an object SES wrote was not turned into archived messages. One catalogue for the SES inbound
 * layer (functions/ses/), in the shape the other layers use: a stable `code`, a `retryable` flag,
 * and a message that names the object (bucket and key) and the reason, never its content.
 *
 * Codes that are not retryable are final for that object: the handler reports them (a log line
 * and a metric) and lets the notification go, leaving the object where SES wrote it. The others
 * make the notification come back (SQS), and end in the dead-letter queue if they never clear.
 */
export const SES_INBOUND_ERROR_CODES = {
  /** Not a valid message: empty, over the size limit, or no header section (docs/ses-inbound.md). */
  EINVALID: { retryable: false, summary: 'not a valid message' },
  /** No recipient of the message maps to an account under the configured rules. */
  EUNROUTABLE: { retryable: false, summary: 'no recipient maps to an account' },
  /** The object is no longer there (deleted or overwritten before it was read). */
  EGONE: { retryable: false, summary: 'object not found' },
  /** Reading the object failed (S3 error, throttling, permission). */
  EREAD: { retryable: true, summary: 'object could not be read' },
  /** The archive reports other bytes than those read from the object. */
  EINTEGRITY: { retryable: true, summary: 'archived bytes differ from the object' },
  /** A "Message Archived" event was not published. */
  EEVENTS: { retryable: true, summary: 'event publishing failed' },
} as const;

export type SesInboundErrorCode = keyof typeof SES_INBOUND_ERROR_CODES;

export class SesInboundError extends Error {
  override readonly name = 'SesInboundError';
  readonly retryable: boolean;

  constructor(
    readonly code: SesInboundErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? SES_INBOUND_ERROR_CODES[code].retryable;
  }
}

export function isSesInboundError(error: unknown): error is SesInboundError {
  return error instanceof SesInboundError;
}
