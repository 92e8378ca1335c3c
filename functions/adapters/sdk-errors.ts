/**
 * Reading AWS SDK v3 errors without depending on one client's exception classes: every service
 * exception has `name` (the service's error code) and `$metadata.httpStatusCode`; errors raised
 * before a response arrives (DNS, connection reset, timeout) have no status.
 */

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
]);

export function errorName(error: unknown): string {
  const name = (error as { name?: unknown } | null | undefined)?.name;
  return typeof name === 'string' && name !== '' ? name : 'Error';
}

export function httpStatus(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null | undefined)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Whether trying the same request again later can succeed: throttling, 5xx, or no response at all. */
export function isTransient(error: unknown): boolean {
  if ((error as { $retryable?: unknown } | null | undefined)?.$retryable) return true;
  if (THROTTLING.has(errorName(error))) return true;
  const status = httpStatus(error);
  if (status === undefined) return true;
  return status === 429 || status >= 500;
}

/** `Name: message`, for wrapping. SDK messages describe the request, never the payload. */
export function describeSdkError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const name = errorName(error);
  return message && message !== name ? `${name}: ${message}` : name;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Exponential backoff, jittered between half and all of the step so that retrying pollers do not synchronise. */
export function backoffMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  return Math.round(baseMs * 2 ** (attempt - 1) * (0.5 + random() / 2));
}
