import * as v from 'valibot';
import { ACCOUNT_ID_PATTERN } from '../poller/account';
import { AUTH_METHODS, SCHEDULE_NAME_PATTERN, TLS_MODES } from '../registry/record';
import type { LastPoll } from '../registry/record';
import type { BatchJob, DispatchInput, PollJob } from './contract';
import { parseJsonBody } from './json-body';

/**
 * Validation of what flows Scheduler → dispatcher → SQS → worker (the shapes are in contract.ts).
 * Messages name the field and the rule, never echo a value, and read like
 * `jobs[3].accountId must be 1-64 characters of A-Z a-z 0-9 . _ -`.
 */

const integer = (min: number, rule: string) =>
  v.pipe(v.number(rule), v.integer(rule), v.minValue(min, rule), v.maxValue(Number.MAX_SAFE_INTEGER, rule));

const PollJobSchema = v.pipe(
  v.strictObject(
    {
      accountId: v.pipe(
        v.string('must be a string'),
        v.regex(ACCOUNT_ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 . _ -'),
      ),
      secretId: v.pipe(
        v.string('must be a string'),
        v.nonEmpty('must not be empty'),
        v.maxLength(2048, 'must be at most 2048 characters'),
      ),
      provider: v.optional(v.picklist(['gmail', 'outlook'], 'must be "gmail" or "outlook"')),
      mode: v.optional(v.picklist(['delete', 'keep'], 'must be "delete" or "keep"')),
      deleteAfterDays: v.optional(integer(0, 'must be an integer ≥ 0')),
      maxMessages: v.optional(integer(1, 'must be an integer ≥ 1')),
      maxBytes: v.optional(integer(1, 'must be an integer ≥ 1')),
      followUp: v.optional(integer(0, 'must be an integer ≥ 0')),
      host: v.optional(
        v.pipe(
          v.string('must be a string'),
          v.nonEmpty('must not be empty'),
          v.maxLength(253, 'must be at most 253 characters'),
        ),
      ),
      port: v.optional(
        v.pipe(
          integer(1, 'must be an integer from 1 to 65535'),
          v.maxValue(65535, 'must be an integer from 1 to 65535'),
        ),
      ),
      tls: v.optional(v.picklist(TLS_MODES, 'must be one of implicit, starttls, none')),
      username: v.optional(
        v.pipe(
          v.string('must be a string'),
          v.nonEmpty('must not be empty'),
          v.maxLength(320, 'must be at most 320 characters'),
        ),
      ),
      secretKey: v.optional(
        v.pipe(
          v.string('must be a string'),
          v.nonEmpty('must not be empty'),
          v.maxLength(256, 'must be at most 256 characters'),
        ),
      ),
      authMethod: v.optional(v.picklist(AUTH_METHODS, `must be one of ${AUTH_METHODS.join(', ')}`)),
      certificateSha256: v.optional(
        v.pipe(
          v.string('must be a string'),
          v.regex(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 fingerprint'),
        ),
      ),
      last: v.optional(
        v.object(
          {
            status: v.pipe(v.string('must be a string'), v.maxLength(32, 'must be at most 32 characters')),
            code: v.optional(
              v.pipe(v.string('must be a string'), v.maxLength(64, 'must be at most 64 characters')),
            ),
            at: v.pipe(v.string('must be a string'), v.maxLength(40, 'must be at most 40 characters')),
            lastArchivedAt: v.optional(
              v.pipe(v.string('must be a string'), v.maxLength(40, 'must be at most 40 characters')),
            ),
          },
          'must be an object',
        ),
      ),
    },
    'must be a JSON object',
  ),
  // In delete mode every archived message is deleted at once: a deleteAfterDays there would
  // suggest a grace period that does not exist.
  v.check(
    (job) => job.deleteAfterDays === undefined || job.mode === 'keep',
    'has deleteAfterDays, which needs mode "keep" (delete mode deletes each message once archived)',
  ),
);

const DispatchInputSchema = v.pipe(
  v.strictObject(
    {
      jobs: v.array(PollJobSchema, 'must be an array of jobs'),
      registryGroup: v.optional(
        v.pipe(v.string('must be a string'), v.regex(SCHEDULE_NAME_PATTERN, 'must be a schedule group name')),
      ),
      defaultGroup: v.optional(v.boolean('must be true or false')),
      scheduledTime: v.optional(
        v.pipe(
          v.string('must be an ISO 8601 time'),
          v.isoTimestamp('must be an ISO 8601 time, e.g. 2025-03-04T10:05:00Z'),
        ),
      ),
    },
    'must be a JSON object',
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const first = new Map<string, number>();
    dataset.value.jobs.forEach((job, i) => {
      const earlier = first.get(job.accountId);
      if (earlier === undefined) first.set(job.accountId, i);
      // One job per account per schedule: a second would be dropped by SQS de-duplication anyway.
      else addIssue({ message: `jobs[${i}].accountId repeats jobs[${earlier}].accountId` });
    });
    dataset.value.jobs.forEach((job, i) => {
      if (job.followUp !== undefined && job.followUp !== 0) {
        addIssue({ message: `jobs[${i}].followUp is set by the worker, not by a schedule` });
      }
    });
  }),
);

/** Most mailboxes in one job; SQS's 256 KB message limit allows far more, the worker's memory does not. */
export const MAX_BATCH_MAILBOXES = 100;

const BatchJobSchema = v.pipe(
  v.strictObject(
    {
      v: v.literal(2, 'must be 2'),
      shard: integer(0, 'must be an integer ≥ 0'),
      mailboxes: v.pipe(
        v.array(PollJobSchema, 'must be an array of jobs'),
        v.minLength(1, 'must not be empty'),
        v.maxLength(MAX_BATCH_MAILBOXES, `must hold at most ${MAX_BATCH_MAILBOXES} mailboxes`),
      ),
    },
    'must be a JSON object',
  ),
  v.check(
    (job) => new Set(job.mailboxes.map((m) => m.accountId)).size === job.mailboxes.length,
    'mailboxes must not repeat an accountId',
  ),
);

// Compile-time guard: the schemas produce exactly the contract's shapes.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _pollJobMatchesContract: Same<v.InferOutput<typeof PollJobSchema>, PollJob> = true;
const _batchJobMatchesContract: Same<
  Omit<v.InferOutput<typeof BatchJobSchema>, 'mailboxes'>,
  Omit<BatchJob, 'mailboxes'>
> = true;
const _dispatchInputMatchesContract: Same<
  Omit<v.InferOutput<typeof DispatchInputSchema>, 'jobs'>,
  Omit<DispatchInput, 'jobs'>
> = true;

export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

/** A job from an SQS message body (JSON text). */
export function parsePollJob(body: string): Parsed<PollJob> {
  const parsed = parseJsonBody(body);
  if (!parsed.ok) return parsed;
  const result = v.safeParse(PollJobSchema, parsed.json);
  return result.success
    ? { ok: true, value: result.output }
    : { ok: false, problem: describeIssues(result.issues, 'job') };
}

/**
 * A batch job from an SQS message body. A body in the earlier one-job format (a bare PollJob, as
 * a queue may still hold right after an upgrade) is taken as a batch of that one mailbox.
 */
export function parseBatchJob(body: string, shardOf: (accountId: string) => number): Parsed<BatchJob> {
  const parsed = parseJsonBody(body);
  if (!parsed.ok) return parsed;
  const { json } = parsed;
  if (json !== null && typeof json === 'object' && !Array.isArray(json) && !('v' in json)) {
    const single = v.safeParse(PollJobSchema, json);
    return single.success
      ? { ok: true, value: { v: 2, shard: shardOf(single.output.accountId), mailboxes: [single.output] } }
      : { ok: false, problem: describeIssues(single.issues, 'job') };
  }
  const result = v.safeParse(BatchJobSchema, json);
  return result.success
    ? { ok: true, value: result.output }
    : { ok: false, problem: describeIssues(result.issues, 'job') };
}

/** The dispatcher's input, as Lambda hands it over (already parsed JSON). */
export function parseDispatchInput(input: unknown): Parsed<DispatchInput> {
  const result = v.safeParse(DispatchInputSchema, input);
  return result.success
    ? { ok: true, value: result.output }
    : { ok: false, problem: describeIssues(result.issues) };
}

/** `path rule; path rule` for humans, without the values; `root` names the whole input. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[], root = ''): string {
  return issues
    .map((issue) => {
      const path = pathOf(issue, root);
      if ((issue.type === 'object' || issue.type === 'strict_object') && path) {
        if (issue.expected === 'never') return `${path} is not a known field`;
        if (issue.received === 'undefined' && issue.expected?.startsWith('"')) return `${path} is required`;
      }
      return path ? `${path} ${issue.message}` : issue.message;
    })
    .join('; ');
}

function pathOf(issue: v.BaseIssue<unknown>, root: string): string {
  let out = root;
  for (const item of issue.path ?? []) {
    const key = item.key;
    out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key);
  }
  return out;
}

/**
 * A registry `lastPoll` record as a job's `last`: what the worker compares a poll with (poll-batch.ts)
 * and carries into the next record it writes, `lastArchivedAt` included, so that a record written
 * without archiving keeps when mail was last archived.
 */
export function jobLastPoll(lastPoll: LastPoll): NonNullable<PollJob['last']> {
  return {
    status: lastPoll.status,
    at: lastPoll.at,
    ...(lastPoll.code !== undefined ? { code: lastPoll.code } : {}),
    ...(lastPoll.lastArchivedAt !== undefined ? { lastArchivedAt: lastPoll.lastArchivedAt } : {}),
  };
}
