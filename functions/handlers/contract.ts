/**
 * The contract between the CDK construct (infra/) and the Lambda handlers: environment variable
 * names and the shape of the jobs that flow Scheduler → dispatcher → SQS FIFO → worker (declared
 * in functions/jobs/job.ts beside the job-queue port, and re-exported here). Both sides import
 * this file; change it in one place.
 */

import type { PollJob } from '../jobs/job';

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
  /** Name of the mailbox registry table (DynamoDB); the dispatcher reads it, the worker writes `lastPoll`. */
  REGISTRY_TABLE: 'REGISTRY_TABLE',
  /**
   * Number of shards (FIFO message groups) mailboxes are spread over, by a stable hash of their id
   * (functions/handlers/shards.ts). Fixed for the life of a deployment: it is what keeps two
   * sessions of one mailbox from running at once. Default 32.
   */
  SHARDS: 'SHARDS',
  /**
   * The stack's schedule group names, comma-separated (`default,business-hours`). The dispatcher's
   * default-group run counts the registry records whose `schedule` names none of them (they are
   * never polled) and reports them. Unset (an older stack): not counted.
   */
  SCHEDULE_GROUPS: 'SCHEDULE_GROUPS',
  /** Most mailboxes in one batch job (one SQS message, one worker invocation). Default 25. */
  BATCH_SIZE: 'BATCH_SIZE',
  /** Mailboxes one worker invocation polls at once. Default 25. */
  MAILBOX_CONCURRENCY: 'MAILBOX_CONCURRENCY',
  /** `changes` (default): a summary event only when mail was archived, a poll failed, or its outcome changed; `all`; `none`. */
  SUMMARY_EVENTS: 'SUMMARY_EVENTS',
  /** Seconds a secret read from Secrets Manager is reused by a warm worker. Default 300; 0 turns the cache off. */
  SECRET_CACHE_SECONDS: 'SECRET_CACHE_SECONDS',
  /** SES inbound: the bucket the receipt rule's S3 action writes to. */
  SES_BUCKET: 'SES_BUCKET',
  /** SES inbound: the S3 action's object key prefix (may be empty). */
  SES_PREFIX: 'SES_PREFIX',
  /** SES inbound: the `source` of its events and the archive's `event-source`. Default `ses`. */
  SES_EVENT_SOURCE: 'SES_EVENT_SOURCE',
  /** SES inbound: JSON object, lower-case address or `@domain` → account id. Default `{}`. */
  SES_RECIPIENTS: 'SES_RECIPIENTS',
  /** SES inbound: `address` (default) or `skip`, for recipients no entry maps (functions/ses/recipients.ts). */
  SES_UNMAPPED: 'SES_UNMAPPED',
  /** SES inbound: comma-separated lower-case domains whose To/Cc addresses are yours. Default none. */
  SES_DOMAINS: 'SES_DOMAINS',
  /** SES inbound: objects larger than this many bytes are not valid messages. Default 41943040 (40 MiB). */
  SES_MAX_MESSAGE_BYTES: 'SES_MAX_MESSAGE_BYTES',
} as const;

export type { BatchJob, PollJob } from '../jobs/job';

/** What EventBridge Scheduler passes to the dispatcher (the schedule's input). */
export interface DispatchInput {
  /** Accounts configured in infra/config.ts for this schedule. */
  readonly jobs: readonly PollJob[];
  /**
   * The schedule group whose registry mailboxes this run polls too (registry records whose
   * `schedule` is this name, or that name none when this is the default group). Unset: none.
   */
  readonly registryGroup?: string;
  /** True on the default group's schedule: registry records without a `schedule` belong to it. */
  readonly defaultGroup?: boolean;
  /**
   * The schedule's own time, for de-duplicating enqueues: set it to Scheduler's
   * `<aws.scheduler.scheduled-time>` context attribute (CDK: `ContextAttribute.scheduledTime`), so
   * a retried invocation enqueues nothing twice. Unset: the invocation time, floored to the minute.
   */
  readonly scheduledTime?: string;
}
