import * as v from 'valibot';
import { ACCOUNT_ID_PATTERN } from '../poller/account';
import { isKeepOnlyLogin, PROVIDER_NAMES, providerPreset, type ProviderName } from '../poller/providers';

/**
 * A mailbox of the deployed fleet, as the registry (a DynamoDB table the stack creates) holds it:
 * where to connect and how to treat its mail — never a password or token. Its login secret lives in
 * Secrets Manager under `secretId`: either a document of its own (docs/deploy.md, "The account
 * secret") or an entry of a shared secret (`{"mailboxes": {"<key>": {…}}}`, see
 * functions/adapters/shared-secret.ts), where the entry's key is `secretKey`, or the mailbox id.
 *
 * The same rules as the CLI config's accounts (functions/cli/config.ts) and the construct's
 * accounts (infra/validation.ts): the CLI validates every record before it writes one, and the
 * dispatcher validates what it reads, so a hand-edited item is reported, not polled blindly.
 */
export interface MailboxRecord {
  /** `[A-Za-z0-9._-]{1,64}`: archive keys, events and logs use it. */
  readonly id: string;
  readonly provider?: ProviderName;
  readonly host?: string;
  readonly port?: number;
  readonly tls?: 'implicit' | 'starttls' | 'none';
  readonly username: string;
  /** Secrets Manager secret name or ARN. */
  readonly secretId: string;
  /** The entry of a shared secret's `mailboxes` map. @default the mailbox id */
  readonly secretKey?: string;
  readonly mode?: 'delete' | 'keep';
  readonly deleteAfterDays?: number;
  readonly authMethod?: 'auto' | 'USER' | 'APOP' | 'PLAIN' | 'LOGIN' | 'CRAM-MD5' | 'XOAUTH2' | 'OAUTHBEARER';
  readonly certificateSha256?: string;
  readonly maxMessages?: number;
  readonly maxBytes?: number;
  /** A schedule group of the stack (`scheduleGroups`). @default the stack's default group */
  readonly schedule?: string;
  /** `false` keeps the mailbox registered but unpolled. @default true */
  readonly enabled?: boolean;
}

/**
 * The last poll of a mailbox, kept beside its record so that an operator can answer "when was it
 * last polled, and why did it fail?" without per-poll logs or events. The worker writes it only
 * when the outcome changes (status or error code), when mail was archived, or when the stored one
 * is older than a day — so an empty, healthy mailbox costs one write a day, not one per poll.
 */
export interface LastPoll {
  /** ISO time the poll ended. */
  readonly at: string;
  readonly status: 'ok' | 'partial' | 'failed' | 'skipped';
  readonly code?: string;
  readonly message?: string;
  /** Messages archived by that poll. */
  readonly archived?: number;
  /** ISO time mail was last archived, carried over from earlier records. */
  readonly lastArchivedAt?: string;
}

export const TLS_MODES = ['implicit', 'starttls', 'none'] as const;
export const AUTH_METHODS = [
  'auto',
  'USER',
  'APOP',
  'PLAIN',
  'LOGIN',
  'CRAM-MD5',
  'XOAUTH2',
  'OAUTHBEARER',
] as const;
/** Schedule group names, as infra/validation.ts accepts them. */
export const SCHEDULE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const positiveInt = v.pipe(
  v.number('must be a number'),
  v.integer('must be an integer ≥ 1'),
  v.minValue(1, 'must be an integer ≥ 1'),
);
const nonEmpty = v.pipe(v.string('must be a string'), v.nonEmpty('must not be empty'));

const MailboxRecordSchema = v.pipe(
  v.strictObject(
    {
      id: v.pipe(
        v.string('must be a string'),
        v.regex(ACCOUNT_ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 . _ -'),
      ),
      provider: v.optional(v.picklist(PROVIDER_NAMES, `must be one of ${PROVIDER_NAMES.join(', ')}`)),
      host: v.optional(v.pipe(nonEmpty, v.maxLength(253, 'must be at most 253 characters'))),
      port: v.optional(
        v.pipe(
          v.number('must be a number'),
          v.integer('must be an integer from 1 to 65535'),
          v.minValue(1, 'must be an integer from 1 to 65535'),
          v.maxValue(65535, 'must be an integer from 1 to 65535'),
        ),
      ),
      tls: v.optional(v.picklist(TLS_MODES, 'must be one of implicit, starttls, none')),
      username: v.pipe(nonEmpty, v.maxLength(320, 'must be at most 320 characters')),
      secretId: v.pipe(nonEmpty, v.maxLength(2048, 'must be at most 2048 characters')),
      secretKey: v.optional(v.pipe(nonEmpty, v.maxLength(256, 'must be at most 256 characters'))),
      mode: v.optional(v.picklist(['delete', 'keep'], 'must be delete or keep')),
      deleteAfterDays: v.optional(
        v.pipe(
          v.number('must be a number'),
          v.integer('must be an integer ≥ 0'),
          v.minValue(0, 'must be an integer ≥ 0'),
        ),
      ),
      authMethod: v.optional(v.picklist(AUTH_METHODS, `must be one of ${AUTH_METHODS.join(', ')}`)),
      certificateSha256: v.optional(
        v.pipe(
          v.string('must be a string'),
          v.regex(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 fingerprint (64 hex digits)'),
        ),
      ),
      maxMessages: v.optional(positiveInt),
      maxBytes: v.optional(positiveInt),
      schedule: v.optional(
        v.pipe(
          v.string('must be a string'),
          v.regex(SCHEDULE_NAME_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ -'),
        ),
      ),
      enabled: v.optional(v.boolean('must be true or false')),
    },
    'must be an object',
  ),
  v.check((r) => r.host !== undefined || r.provider !== undefined, 'needs "host" (or "provider")'),
  v.check(
    (r) =>
      !(r.username && isKeepOnlyLogin(providerPreset(r.provider, r.host), r.username) && r.mode === 'delete'),
    'Gmail "recent:" logins are never deleted from: set "mode" to "keep" or leave it unset',
  ),
  v.check(
    (r) => r.deleteAfterDays === undefined || r.mode === 'keep',
    '"deleteAfterDays" applies only to mode "keep"',
  ),
);

export type Checked<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: readonly string[] };

/** Validates a record; problems read `port must be an integer from 1 to 65535`, never echoing a value. */
export function checkMailboxRecord(input: unknown): Checked<MailboxRecord> {
  const result = v.safeParse(MailboxRecordSchema, input);
  if (result.success) return { ok: true, value: result.output };
  return { ok: false, problems: result.issues.map(describe) };
}

function describe(issue: v.BaseIssue<unknown>): string {
  const key = issue.path?.map((p) => String((p as { key: unknown }).key)).join('.') ?? '';
  if (issue.type === 'strict_object' && issue.expected === 'never') return `"${key}" is not a mailbox field`;
  if (issue.type === 'strict_object' && issue.received === 'undefined' && key) return `"${key}" is required`;
  return key ? `${key} ${issue.message}` : issue.message;
}

/** The record's keys, in the order a CSV export writes its columns. */
export const RECORD_KEYS = [
  'id',
  'provider',
  'host',
  'port',
  'tls',
  'username',
  'secretId',
  'secretKey',
  'mode',
  'deleteAfterDays',
  'authMethod',
  'certificateSha256',
  'maxMessages',
  'maxBytes',
  'schedule',
  'enabled',
] as const satisfies readonly (keyof MailboxRecord)[];

/**
 * How a registry item is laid out in DynamoDB. Values are JSON text rather than DynamoDB maps: one
 * string attribute reads the same in the console, the CLI and the handlers, needs no marshalling
 * library in the Lambda bundle, and is validated with the schema above on every read.
 *
 * - `id` (S, partition key): the mailbox id.
 * - `record` (S): the MailboxRecord without `id`. Absent on an item that only holds `lastPoll` for
 *   a mailbox configured in infra/config.ts (such mailboxes are polled from the schedule's input).
 * - `lastPoll` (S): the LastPoll, written by the worker.
 * - `updatedAt` (S): ISO time `record` was last written (by the CLI).
 */
export const REGISTRY_ITEM = {
  partitionKey: 'id',
  record: 'record',
  lastPoll: 'lastPoll',
  updatedAt: 'updatedAt',
} as const;

/** The record's JSON text for the `record` attribute: every key but `id`, in RECORD_KEYS order. */
export function encodeRecord(record: MailboxRecord): string {
  const out: Record<string, unknown> = {};
  for (const key of RECORD_KEYS) {
    if (key !== 'id' && record[key] !== undefined) out[key] = record[key];
  }
  return JSON.stringify(out);
}

/** A record from its item's `id` and `record` attributes; a bad item is reported, never guessed at. */
export function decodeRecord(id: string, text: string): Checked<MailboxRecord> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problems: ['the "record" attribute is not JSON'] };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { ok: false, problems: ['the "record" attribute is not a JSON object'] };
  }
  return checkMailboxRecord({ ...json, id });
}
