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
  /**
   * Key prefix, in the archive bucket, for keep-mode state objects (archived UIDLs per account,
   * `<STATE_PREFIX><accountId>.json`). Default `state/`.
   */
  STATE_PREFIX: 'STATE_PREFIX',
  /** EventBridge bus name or ARN (`default` for the account's default bus). */
  EVENT_BUS_NAME: 'EVENT_BUS_NAME',
  /** URL of the FIFO job queue (the dispatcher sends to it; the worker sends follow-ups). */
  JOB_QUEUE_URL: 'JOB_QUEUE_URL',
  /** Seconds of the invocation kept back from polling, for QUIT and reporting. Default 30. */
  DEADLINE_MARGIN_SECONDS: 'DEADLINE_MARGIN_SECONDS',
  /** Follow-up jobs allowed in a row for one account before waiting for the next tick. Default 20. */
  MAX_FOLLOW_UPS: 'MAX_FOLLOW_UPS',
  /**
   * Optional PEM certificate(s) of a private CA that signs mail servers' certificates, trusted by
   * the worker in addition to Node's bundled public roots. Not a secret. Unset: public roots only.
   */
  EXTRA_CA_PEM: 'EXTRA_CA_PEM',
} as const;

/** One account to poll: what the dispatcher enqueues and the worker consumes (JSON in the SQS body). */
export interface PollJob {
  readonly accountId: string;
  /** Secrets Manager secret name or ARN holding the account's JSON secret. */
  readonly secretId: string;
  /**
   * A mail provider preset (`gmail`, `outlook`): host, port 995 and implicit TLS unless the secret
   * says otherwise, and the provider's known behaviours (functions/poller/providers.ts). The
   * secret's own `provider` takes precedence.
   */
  readonly provider?: 'gmail' | 'outlook';
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
  /**
   * The schedule's own time, for de-duplicating enqueues: set it to Scheduler's
   * `<aws.scheduler.scheduled-time>` context attribute (CDK: `ContextAttribute.scheduledTime`), so
   * a retried invocation enqueues nothing twice. Unset: the invocation time, floored to the minute.
   */
  readonly scheduledTime?: string;
}
