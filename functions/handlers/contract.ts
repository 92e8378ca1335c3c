/**
 * The contract between the CDK construct (infra/) and the Lambda handlers: environment variable
 * names and the shape of the jobs that flow Scheduler → dispatcher → SQS FIFO → worker.
 * Both sides import this file; change it in one place.
 */

/** Environment variables the construct sets on the Lambdas. */
export const ENV = {
  /** Archive bucket name. */
  ARCHIVE_BUCKET: 'ARCHIVE_BUCKET',
  /** Key prefix for archived messages, e.g. `mail/` (may be empty). */
  ARCHIVE_PREFIX: 'ARCHIVE_PREFIX',
  /** KMS key id/ARN for SSE-KMS on archived objects; unset means the bucket default. */
  ARCHIVE_KMS_KEY_ID: 'ARCHIVE_KMS_KEY_ID',
  /** Key prefix for keep-mode state objects (archived UIDLs per account), e.g. `state/`. */
  STATE_PREFIX: 'STATE_PREFIX',
  /** EventBridge bus name or ARN (`default` for the account's default bus). */
  EVENT_BUS_NAME: 'EVENT_BUS_NAME',
  /** URL of the FIFO job queue (the dispatcher sends to it; the worker sends follow-ups). */
  JOB_QUEUE_URL: 'JOB_QUEUE_URL',
  /** Seconds of the invocation kept back from polling, for QUIT and reporting. Default 30. */
  DEADLINE_MARGIN_SECONDS: 'DEADLINE_MARGIN_SECONDS',
  /** Follow-up jobs allowed in a row for one account before waiting for the next tick. Default 20. */
  MAX_FOLLOW_UPS: 'MAX_FOLLOW_UPS',
} as const;

/** One account to poll: what the dispatcher enqueues and the worker consumes (JSON in the SQS body). */
export interface PollJob {
  readonly accountId: string;
  /** Secrets Manager secret name or ARN holding the account's JSON secret. */
  readonly secretId: string;
  readonly mode?: 'delete' | 'keep';
  readonly deleteAfterDays?: number;
  /** Per-invocation bounds. */
  readonly maxMessages?: number;
  readonly maxBytes?: number;
  /** How many follow-ups preceded this job (0 for a scheduled one). */
  readonly followUp?: number;
}

/** What EventBridge Scheduler passes to the dispatcher (the schedule's input). */
export interface DispatchInput {
  readonly jobs: readonly PollJob[];
}
