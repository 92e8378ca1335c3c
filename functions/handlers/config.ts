import * as v from 'valibot';
import { ACCOUNT_ID_PATTERN } from '../poller/account';
import { ENV } from './contract';
import { describeIssues } from './jobs';

/**
 * The handlers' settings, from the environment variables the construct sets (names in
 * contract.ts). Each handler reads them once, on its first invocation, and a bad value fails
 * that invocation with a message naming every variable at fault, e.g.
 * `invalid configuration (environment variables): ARCHIVE_BUCKET is required;
 * DEADLINE_MARGIN_SECONDS must be an integer from 0 to 899`.
 * Values are never echoed (EXTRA_CA_PEM is long, and no variable should ever hold a secret).
 */

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Where a handler archives messages and publishes their events (archive-ports.ts). */
export interface ArchiveTarget {
  readonly archiveBucket: string;
  /** @default '' */
  readonly archivePrefix: string;
  readonly archiveKmsKeyId: string | undefined;
  readonly eventBusName: string;
}

export interface WorkerConfig extends ArchiveTarget {
  /** @default 'state/' */
  readonly statePrefix: string;
  readonly jobQueueUrl: string;
  /** @default 30 */
  readonly deadlineMarginSeconds: number;
  /** @default 20 */
  readonly maxFollowUps: number;
  readonly extraCaPem: string | undefined;
  /** Unset: no last-poll records are written. */
  readonly registryTable: string | undefined;
  /** @default 32 */
  readonly shards: number;
  /** @default 50 */
  readonly mailboxConcurrency: number;
  /** @default 'changes' */
  readonly summaryEvents: SummaryEvents;
  /** @default 900 */
  readonly secretCacheSeconds: number;
}

/** When the worker publishes a "Poll Completed" / "Poll Failed" summary event for a mailbox. */
export type SummaryEvents = 'changes' | 'all' | 'none';

export interface DispatcherConfig {
  readonly jobQueueUrl: string;
  /** Unset: only the schedule's configured accounts are polled. */
  readonly registryTable: string | undefined;
  /** @default 32 */
  readonly shards: number;
  /** @default 50 */
  readonly batchSize: number;
  /** The stack's schedule group names; unset (an older stack): orphaned records are not counted. */
  readonly scheduleGroups: ReadonlySet<string> | undefined;
}

/** The SES inbound handler's settings (functions/handlers/ses-inbound.ts). */
export interface SesInboundConfig extends ArchiveTarget {
  /** The bucket SES writes to. */
  readonly sesBucket: string;
  /** @default '' */
  readonly sesPrefix: string;
  /** @default 'ses' */
  readonly eventSource: string;
  /** Lower-case address or `@domain` → account id. @default none */
  readonly recipients: ReadonlyMap<string, string>;
  /** @default 'address' */
  readonly unmapped: 'address' | 'skip';
  /** Lower-case domains. @default none */
  readonly domains: ReadonlySet<string>;
  /** @default 41943040 (40 MiB, SES's own limit) */
  readonly maxMessageBytes: number;
}

/** Powertools' own variables, with this project's defaults. */
export interface ObservabilitySettings {
  /** POWERTOOLS_SERVICE_NAME. @default 'pop3-poller' */
  readonly serviceName: string;
  /** POWERTOOLS_METRICS_NAMESPACE. @default 'Pop3Poller' */
  readonly namespace: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const required = v.pipe(v.string('is not set'), v.nonEmpty('is empty'));

/** Optional; an empty value counts as unset. */
const optional = v.optional(
  v.pipe(
    v.string(),
    v.transform((s) => (s === '' ? undefined : s)),
  ),
);

const integerInRange = (min: number, max: number, fallback: number) =>
  v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,6}$/, `must be an integer from ${min} to ${max}`),
      v.transform(Number),
      v.minValue(min, `must be an integer from ${min} to ${max}`),
      v.maxValue(max, `must be an integer from ${min} to ${max}`),
    ),
    String(fallback),
  );

const fifoQueueUrl = v.pipe(
  required,
  v.url('must be a queue URL'),
  v.endsWith('.fifo', 'must be the URL of a FIFO queue (ending in .fifo)'),
);

const SHARDS = integerInRange(1, 1024, 32);

/** The variables of an ArchiveTarget (the worker's and the SES inbound handler's). */
const ArchiveTargetEnvSchema = v.object({
  [ENV.ARCHIVE_BUCKET]: required,
  [ENV.ARCHIVE_PREFIX]: v.optional(v.string(), ''),
  [ENV.ARCHIVE_KMS_KEY_ID]: optional,
  [ENV.EVENT_BUS_NAME]: required,
});

function archiveTarget(e: v.InferOutput<typeof ArchiveTargetEnvSchema>): ArchiveTarget {
  return {
    archiveBucket: e.ARCHIVE_BUCKET,
    archivePrefix: e.ARCHIVE_PREFIX,
    archiveKmsKeyId: e.ARCHIVE_KMS_KEY_ID,
    eventBusName: e.EVENT_BUS_NAME,
  };
}

const WorkerEnvSchema = v.object({
  [ENV.REGISTRY_TABLE]: optional,
  [ENV.SHARDS]: SHARDS,
  [ENV.MAILBOX_CONCURRENCY]: integerInRange(1, 100, 50),
  [ENV.SUMMARY_EVENTS]: v.optional(
    v.picklist(['changes', 'all', 'none'], 'must be changes, all or none'),
    'changes',
  ),
  [ENV.SECRET_CACHE_SECONDS]: integerInRange(0, 3600, 900),
  ...ArchiveTargetEnvSchema.entries,
  [ENV.STATE_PREFIX]: v.optional(v.string(), 'state/'),
  [ENV.JOB_QUEUE_URL]: fifoQueueUrl,
  // Lambda's longest timeout is 900 s.
  [ENV.DEADLINE_MARGIN_SECONDS]: integerInRange(0, 899, 30),
  [ENV.MAX_FOLLOW_UPS]: integerInRange(0, 1000, 20),
  [ENV.EXTRA_CA_PEM]: v.optional(
    v.pipe(
      v.string(),
      v.transform((s) => (s.trim() === '' ? undefined : s)),
      v.check(
        (s) => s === undefined || s.includes('-----BEGIN CERTIFICATE-----'),
        'must hold PEM certificate(s) (-----BEGIN CERTIFICATE-----)',
      ),
    ),
  ),
});

const DispatcherEnvSchema = v.object({
  [ENV.JOB_QUEUE_URL]: fifoQueueUrl,
  [ENV.REGISTRY_TABLE]: optional,
  [ENV.SHARDS]: SHARDS,
  [ENV.BATCH_SIZE]: integerInRange(1, 100, 50),
  [ENV.SCHEDULE_GROUPS]: v.optional(
    v.pipe(
      v.string(),
      v.transform((s) =>
        s
          .split(',')
          .map((g) => g.trim())
          .filter((g) => g !== ''),
      ),
      v.check(
        (list) => list.every((g) => /^[A-Za-z0-9_-]{1,40}$/.test(g)),
        'must be comma-separated schedule group names ([A-Za-z0-9_-]{1,40})',
      ),
      // Empty counts as unset: no list, nothing counted (never "every record is orphaned").
      v.transform((list): ReadonlySet<string> | undefined => (list.length > 0 ? new Set(list) : undefined)),
    ),
  ),
});

/** An EventBridge source: what PutEvents accepts, and not AWS's own `aws.` prefix. */
const EVENT_SOURCE_PATTERN = /^(?!aws\.)[A-Za-z0-9._/-]{1,256}$/;

const SesInboundEnvSchema = v.object({
  ...ArchiveTargetEnvSchema.entries,
  [ENV.SES_BUCKET]: required,
  [ENV.SES_PREFIX]: v.optional(v.string(), ''),
  [ENV.SES_EVENT_SOURCE]: v.optional(
    v.pipe(v.string(), v.regex(EVENT_SOURCE_PATTERN, 'must be an event source ([A-Za-z0-9._/-], not aws.*)')),
    'ses',
  ),
  [ENV.SES_RECIPIENTS]: v.optional(
    v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(dataset.value === '' ? '{}' : dataset.value);
        } catch {
          addIssue({ message: 'must be a JSON object' });
          return NEVER;
        }
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          addIssue({ message: 'must be a JSON object' });
          return NEVER;
        }
        const map = new Map<string, string>();
        for (const [recipient, account] of Object.entries(parsed)) {
          if (
            !/^[^@\s]*@[^@\s]+$/.test(recipient) ||
            typeof account !== 'string' ||
            !ACCOUNT_ID_PATTERN.test(account)
          ) {
            addIssue({ message: 'must map addresses or @domains to account ids ([A-Za-z0-9._-]{1,64})' });
            return NEVER;
          }
          map.set(recipient.toLowerCase(), account);
        }
        return map;
      }),
    ),
    '{}',
  ),
  [ENV.SES_UNMAPPED]: v.optional(v.picklist(['address', 'skip'], 'must be address or skip'), 'address'),
  [ENV.SES_DOMAINS]: v.optional(
    v.pipe(
      v.string(),
      v.transform((s) =>
        s
          .split(',')
          .map((d) => d.trim().toLowerCase())
          .filter((d) => d !== ''),
      ),
      v.check((list) => list.every((d) => /^[a-z0-9.-]+$/.test(d)), 'must be comma-separated domain names'),
      v.transform((list) => new Set(list)),
    ),
    '',
  ),
  // SES bounces mail over 40 MB; the handler holds one message in memory at a time.
  [ENV.SES_MAX_MESSAGE_BYTES]: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,10}$/, 'must be an integer from 1024 to 104857600'),
      v.transform(Number),
      v.minValue(1024, 'must be an integer from 1024 to 104857600'),
      v.maxValue(104_857_600, 'must be an integer from 1024 to 104857600'),
    ),
    String(40 * 1024 * 1024),
  ),
});

export function readWorkerConfig(env: Env = process.env): WorkerConfig {
  const e = parseEnv(WorkerEnvSchema, env);
  return {
    ...archiveTarget(e),
    statePrefix: e.STATE_PREFIX,
    jobQueueUrl: e.JOB_QUEUE_URL,
    deadlineMarginSeconds: e.DEADLINE_MARGIN_SECONDS,
    maxFollowUps: e.MAX_FOLLOW_UPS,
    extraCaPem: e.EXTRA_CA_PEM,
    registryTable: e.REGISTRY_TABLE,
    shards: e.SHARDS,
    mailboxConcurrency: e.MAILBOX_CONCURRENCY,
    summaryEvents: e.SUMMARY_EVENTS,
    secretCacheSeconds: e.SECRET_CACHE_SECONDS,
  };
}

export function readDispatcherConfig(env: Env = process.env): DispatcherConfig {
  const e = parseEnv(DispatcherEnvSchema, env);
  return {
    jobQueueUrl: e.JOB_QUEUE_URL,
    registryTable: e.REGISTRY_TABLE,
    shards: e.SHARDS,
    batchSize: e.BATCH_SIZE,
    scheduleGroups: e.SCHEDULE_GROUPS,
  };
}

export function readSesInboundConfig(env: Env = process.env): SesInboundConfig {
  const e = parseEnv(SesInboundEnvSchema, env);
  return {
    ...archiveTarget(e),
    sesBucket: e.SES_BUCKET,
    sesPrefix: e.SES_PREFIX,
    eventSource: e.SES_EVENT_SOURCE,
    recipients: e.SES_RECIPIENTS,
    unmapped: e.SES_UNMAPPED,
    domains: e.SES_DOMAINS,
    maxMessageBytes: e.SES_MAX_MESSAGE_BYTES,
  };
}

export function readObservabilitySettings(env: Env = process.env): ObservabilitySettings {
  return {
    serviceName: env.POWERTOOLS_SERVICE_NAME || 'pop3-poller',
    namespace: env.POWERTOOLS_METRICS_NAMESPACE || 'Pop3Poller',
  };
}

function parseEnv<S extends v.GenericSchema>(schema: S, env: Env): v.InferOutput<S> {
  // Only the schema's own keys: the rest of the environment is none of its business.
  const result = v.safeParse(schema, { ...env });
  if (!result.success)
    throw new ConfigError(`invalid configuration (environment variables): ${describeIssues(result.issues)}`);
  return result.output;
}
