import { ACCOUNT_ID_PATTERN } from '../functions/poller/account';
import type { PollJob } from '../functions/handlers/contract';
import type {
  FleetProps,
  NetworkProps,
  PollerAccountProps,
  Pop3PollerProps,
  ScheduleSpec,
  SesInboundProps,
  WorkerProps,
} from './props';

/**
 * Defaults and synth-time checks for `Pop3PollerProps`, kept in one place and free of CDK
 * constructs so they can be tested directly. `resolveConfig` returns every setting with its
 * default applied, or throws one `Pop3PollerConfigError` listing every problem found.
 */

export class Pop3PollerConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid Pop3Poller configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'Pop3PollerConfigError';
  }
}

/** Lambda's limit, and what the SQS visibility timeout (6× the worker timeout) allows. */
export const MAX_TIMEOUT_SECONDS = 900;
/** Each schedule's input (DispatchInput JSON) is kept under this size; a bigger group is split. */
export const MAX_SCHEDULE_INPUT_CHARS = 8192;
/** Above this many referenced secrets, the worker's policy would outgrow IAM's size limits. */
export const MAX_INDIVIDUAL_SECRET_GRANTS = 50;
/** Created secrets plus schedules; the rest of the stack is ~80 resources of CloudFormation's 500. */
export const MAX_PER_ACCOUNT_RESOURCES = 350;
/** Schedule inputs are inlined into the template (CloudFormation's template limit is 1 MB). */
export const MAX_TOTAL_SCHEDULE_INPUT_CHARS = 600_000;
/**
 * The schedule group names, comma-separated, go into the dispatcher's environment (SCHEDULE_GROUPS),
 * which Lambda limits to 4 KB in all; this leaves room for its other variables.
 */
export const MAX_SCHEDULE_GROUP_NAMES_CHARS = 3000;
/** CloudWatch Logs retention values, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:([A-Za-z0-9/_+=.@-]{1,512})$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const GROUP_NAME = /^[A-Za-z0-9_-]{1,40}$/;
const PREFIX = /^[A-Za-z0-9!_.*'()/-]{1,200}\/$/;

export interface ResolvedSchedule {
  /** `group:<name>` or `account:<id>`, unique; used for construct ids. */
  readonly key: string;
  readonly description: string;
  readonly expression: string;
  readonly timeZone: string;
  readonly flexibleWindowMinutes: number | undefined;
  readonly enabled: boolean;
  /** Jobs, already split so each chunk's DispatchInput stays under MAX_SCHEDULE_INPUT_CHARS (at least one chunk, maybe empty). */
  readonly chunks: readonly (readonly PollJob[])[];
  /** A schedule group's name, for the dispatcher to add the group's registry mailboxes; unset on an account's own schedule. */
  readonly registryGroup: string | undefined;
  /** True on the default group's schedule(s): registry records without a `schedule` belong to it. */
  readonly defaultGroup: boolean;
}

export interface ResolvedFleet {
  readonly shards: number;
  readonly batchSize: number;
  readonly mailboxConcurrency: number;
  readonly summaryEvents: 'changes' | 'all' | 'none';
  readonly secretCacheSeconds: number;
}

export interface ResolvedSecretRef {
  readonly accountId: string;
  /** What the job carries (name or ARN). */
  readonly secretId: string;
  /** `create`: the stack creates it under this name; `name`/`arn`: it exists. */
  readonly kind: 'create' | 'name' | 'arn';
}

export type ResolvedNetwork =
  | { readonly vpc: 'none' }
  | {
      readonly vpc: 'new';
      readonly natGateways: number;
      readonly maxAzs: number;
      readonly eipAllocationIds: readonly string[] | undefined;
      readonly pop3Ports: readonly number[];
    }
  | {
      readonly vpc: 'existing';
      readonly vpcId: string;
      readonly privateSubnetIds: readonly string[];
      readonly availabilityZones: readonly string[];
      readonly pop3Ports: readonly number[];
    };

export interface ResolvedSesInbound {
  /** An existing bucket's name; undefined: the archive bucket. */
  readonly bucket: string | undefined;
  readonly prefix: string;
  /** Lower-case address or `@domain` → account id. */
  readonly recipients: Readonly<Record<string, string>>;
  readonly unmappedRecipients: 'address' | 'skip';
  /** Lower case: the given domains and those `recipients` names. */
  readonly domains: readonly string[];
  readonly eventSource: string;
  readonly maxMessageBytes: number;
  readonly bucketKmsKeyArn: string | undefined;
  readonly memoryMiB: number;
  readonly maxReceiveCount: number;
}

export interface ResolvedConfig {
  readonly schedules: readonly ResolvedSchedule[];
  readonly secrets: readonly ResolvedSecretRef[];
  readonly secretNamePrefix: string;
  /** Grant `secret:<prefix>*` instead of each referenced secret. */
  readonly grantSecretsByPrefix: boolean;
  readonly secretKmsKeyArns: readonly string[];
  readonly usesKeepMode: boolean;
  readonly eventBus: { type: 'custom' | 'default'; archiveRetentionDays: number; exampleRule: boolean };
  readonly archive: {
    prefix: string;
    statePrefix: string;
    encryption: 'aws-managed' | 'customer-managed';
    objectLock: { mode: 'governance' | 'compliance'; retentionDays: number } | undefined;
    glacierInstantRetrievalAfterDays: number;
    deepArchiveAfterDays: number | undefined;
    minTransitionSizeBytes: number;
    expireAfterDays: number | undefined;
    noncurrentVersionExpirationDays: number;
    accessLogRetentionDays: number;
  };
  readonly worker: Required<Omit<WorkerProps, 'reservedConcurrency' | 'extraCaPem'>> & {
    reservedConcurrency: number | undefined;
    extraCaPem: string | undefined;
  };
  readonly dispatcher: { memoryMiB: number; timeoutSeconds: number };
  readonly alarms: { emails: readonly string[]; topicArn: string | undefined; noSuccessHours: number };
  readonly network: ResolvedNetwork;
  readonly logRetentionDays: number;
  readonly dashboard: boolean;
  readonly fleet: ResolvedFleet;
  /** Undefined: SES inbound is off. */
  readonly sesInbound: ResolvedSesInbound | undefined;
}

const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n);

export function resolveConfig(props: Pop3PollerProps, stackName: string): ResolvedConfig {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string): void => {
    if (!ok) problems.push(problem);
  };
  const intIn = (value: number | undefined, name: string, min: number, max: number): void => {
    if (value === undefined) return;
    check(isInt(value) && value >= min && value <= max, `${name} must be an integer from ${min} to ${max}`);
  };

  // --- accounts and secrets -------------------------------------------------------------------
  // An empty list is a registry-only deployment: mailboxes come from the registry table.
  const accounts = props.accounts ?? [];
  check(
    Array.isArray(accounts),
    'accounts must be a list (it may be empty: the registry holds the mailboxes)',
  );
  const seen = new Set<string>();
  for (const account of accounts) {
    const id = account.id;
    if (typeof id !== 'string' || !ACCOUNT_ID_PATTERN.test(id)) {
      problems.push(`account id ${JSON.stringify(id)} must match [A-Za-z0-9._-]{1,64}`);
      continue;
    }
    if (seen.has(id)) problems.push(`account id "${id}" is used more than once`);
    seen.add(id);
    checkAccount(account, problems);
  }

  const secretNamePrefix = props.secretNamePrefix ?? `pop3-poller/${stackName}/`;
  check(
    SECRET_NAME.test(secretNamePrefix) && secretNamePrefix.length <= 400,
    `secretNamePrefix "${secretNamePrefix}" may only contain A-Z a-z 0-9 / _ + = . @ -`,
  );
  const secrets: ResolvedSecretRef[] = accounts.map((account) => {
    if (account.secret === 'create') {
      return { accountId: account.id, secretId: `${secretNamePrefix}${account.id}`, kind: 'create' };
    }
    return {
      accountId: account.id,
      secretId: account.secret,
      kind: account.secret?.startsWith('arn:') ? 'arn' : 'name',
    };
  });
  const referenced = secrets.filter((s) => s.kind !== 'create');
  const grantSecretsByPrefix = referenced.length > MAX_INDIVIDUAL_SECRET_GRANTS;
  if (grantSecretsByPrefix) {
    const outside = referenced.filter((s) => !secretName(s).startsWith(secretNamePrefix));
    check(
      outside.length === 0,
      `more than ${MAX_INDIVIDUAL_SECRET_GRANTS} existing secrets are referenced, too many to grant one by one ` +
        `within IAM's policy size limit: name them all under secretNamePrefix "${secretNamePrefix}" ` +
        `(not under it: ${outside
          .slice(0, 3)
          .map((s) => s.secretId)
          .join(', ')}${outside.length > 3 ? ', …' : ''})`,
    );
  }
  const secretKmsKeyArns = props.secretKmsKeyArns ?? [];
  for (const arn of secretKmsKeyArns)
    check(KMS_KEY_ARN.test(arn), `secretKmsKeyArns: "${arn}" is not a KMS key ARN`);

  // --- schedules ------------------------------------------------------------------------------
  const groups: Readonly<Record<string, ScheduleSpec>> = props.scheduleGroups ?? {
    default: { expression: 'rate(5 minutes)' },
  };
  const defaultGroup = props.defaultScheduleGroup ?? 'default';
  for (const [name, spec] of Object.entries(groups)) {
    check(GROUP_NAME.test(name), `schedule group name "${name}" must match [A-Za-z0-9_-]{1,40}`);
    checkSchedule(spec, `schedule group "${name}"`, problems);
  }
  const groupNamesChars = Object.keys(groups).join(',').length;
  check(
    groupNamesChars <= MAX_SCHEDULE_GROUP_NAMES_CHARS,
    `scheduleGroups: ${Object.keys(groups).length} group names of ${groupNamesChars} characters (comma-separated) ` +
      `exceed ${MAX_SCHEDULE_GROUP_NAMES_CHARS}: the dispatcher's environment (4 KB in all) holds them; ` +
      'use fewer or shorter group names',
  );
  const members = new Map<string, PollJob[]>();
  const own: { account: PollerAccountProps; job: PollJob }[] = [];
  for (const [i, account] of accounts.entries()) {
    const job = toJob(account, secrets[i]!.secretId);
    const schedule = account.schedule;
    if (typeof schedule === 'object' && schedule !== null) {
      checkSchedule(schedule, `account "${account.id}" schedule`, problems);
      own.push({ account, job });
      continue;
    }
    const group = schedule ?? defaultGroup;
    if (!Object.hasOwn(groups, group)) {
      problems.push(
        `account "${account.id}" refers to schedule group "${group}", which is not in scheduleGroups ` +
          `(defined: ${Object.keys(groups).join(', ') || 'none'})`,
      );
      continue;
    }
    members.set(group, [...(members.get(group) ?? []), job]);
  }
  check(
    Object.hasOwn(groups, defaultGroup),
    `defaultScheduleGroup "${defaultGroup}" is not in scheduleGroups (defined: ${
      Object.keys(groups).join(', ') || 'none'
    }): registry mailboxes that name no schedule are polled on it`,
  );
  // Every group gets its schedule, with or without configured accounts: registry records name
  // groups too (and those naming none belong to the default group).
  const schedules: ResolvedSchedule[] = [];
  for (const [name, spec] of Object.entries(groups)) {
    schedules.push(
      resolvedSchedule(`group:${name}`, `Schedule group "${name}"`, spec, members.get(name) ?? [], {
        registryGroup: name,
        defaultGroup: name === defaultGroup,
      }),
    );
  }
  for (const { account, job } of own) {
    schedules.push(
      resolvedSchedule(
        `account:${account.id}`,
        `Account "${account.id}"`,
        account.schedule as ScheduleSpec,
        [job],
        { registryGroup: undefined, defaultGroup: false },
      ),
    );
  }
  const scheduleCount = schedules.reduce((n, s) => n + s.chunks.length, 0);
  const created = secrets.filter((s) => s.kind === 'create').length;
  check(
    created + scheduleCount <= MAX_PER_ACCOUNT_RESOURCES,
    `${created} created secrets and ${scheduleCount} schedules exceed ${MAX_PER_ACCOUNT_RESOURCES} ` +
      `resources (CloudFormation allows 500 per stack): share schedule groups between accounts, ` +
      `reference existing secrets, or split the accounts over several stacks`,
  );
  const inputChars = schedules.reduce(
    (n, s) => n + s.chunks.reduce((m, jobs) => m + EMPTY_INPUT.length + JSON.stringify(jobs).length, 0),
    0,
  );
  check(
    inputChars <= MAX_TOTAL_SCHEDULE_INPUT_CHARS,
    `the accounts' jobs take ${inputChars} characters of schedule input, more than ` +
      `${MAX_TOTAL_SCHEDULE_INPUT_CHARS} (CloudFormation's template limit is 1 MB): split the accounts ` +
      `over several stacks`,
  );

  // --- events ---------------------------------------------------------------------------------
  const bus = props.eventBus ?? {};
  const busType = bus.type ?? 'custom';
  check(busType === 'custom' || busType === 'default', `eventBus.type must be "custom" or "default"`);
  const archiveRetentionDays = bus.archiveRetentionDays ?? 30;
  intIn(archiveRetentionDays, 'eventBus.archiveRetentionDays', 0, 36500);

  // --- archive --------------------------------------------------------------------------------
  const archive = props.archive ?? {};
  const prefix = archive.prefix ?? 'mail/';
  const statePrefix = archive.statePrefix ?? 'state/';
  check(
    PREFIX.test(prefix),
    `archive.prefix "${prefix}" must be non-empty, end in "/" and hold only safe key characters`,
  );
  check(
    PREFIX.test(statePrefix),
    `archive.statePrefix "${statePrefix}" must be non-empty, end in "/" and hold only safe key characters`,
  );
  check(
    !prefix.startsWith(statePrefix) && !statePrefix.startsWith(prefix),
    `archive.prefix "${prefix}" and archive.statePrefix "${statePrefix}" must not overlap`,
  );
  const encryption = archive.encryption ?? 'aws-managed';
  check(
    encryption === 'aws-managed' || encryption === 'customer-managed',
    `archive.encryption must be "aws-managed" or "customer-managed"`,
  );
  const lock = archive.objectLock;
  if (lock !== undefined) {
    check(
      lock.mode === 'governance' || lock.mode === 'compliance',
      `archive.objectLock.mode must be "governance" or "compliance"`,
    );
    check(
      isInt(lock.retentionDays) && lock.retentionDays >= 1 && lock.retentionDays <= 36500,
      `archive.objectLock (${lock.mode}) needs retentionDays, an integer from 1 to 36500`,
    );
  }
  const lifecycle = archive.lifecycle ?? {};
  const glacierIr = lifecycle.glacierInstantRetrievalAfterDays ?? 90;
  const deepArchive = lifecycle.deepArchiveAfterDays;
  const minTransitionSizeBytes = lifecycle.minTransitionSizeBytes ?? 131_072;
  const expireAfterDays = lifecycle.expireAfterDays;
  const noncurrentDays = lifecycle.noncurrentVersionExpirationDays ?? 90;
  intIn(glacierIr, 'archive.lifecycle.glacierInstantRetrievalAfterDays', 0, 36500);
  intIn(deepArchive, 'archive.lifecycle.deepArchiveAfterDays', 1, 36500);
  intIn(minTransitionSizeBytes, 'archive.lifecycle.minTransitionSizeBytes', 0, 5 * 1024 ** 4);
  intIn(expireAfterDays, 'archive.lifecycle.expireAfterDays', 1, 36500);
  intIn(noncurrentDays, 'archive.lifecycle.noncurrentVersionExpirationDays', 1, 36500);
  if (deepArchive !== undefined && glacierIr > 0) {
    check(
      deepArchive >= glacierIr + 90,
      `archive.lifecycle.deepArchiveAfterDays (${deepArchive}) must be at least 90 days after ` +
        `glacierInstantRetrievalAfterDays (${glacierIr}): Glacier Instant Retrieval bills 90 days minimum`,
    );
  }
  if (expireAfterDays !== undefined) {
    const lastTransition = Math.max(glacierIr, deepArchive ?? 0);
    check(
      expireAfterDays > lastTransition,
      `archive.lifecycle.expireAfterDays (${expireAfterDays}) must come after the last transition (day ${lastTransition})`,
    );
    if (lock !== undefined) {
      check(
        expireAfterDays >= lock.retentionDays,
        `archive.lifecycle.expireAfterDays (${expireAfterDays}) is shorter than the Object Lock retention ` +
          `(${lock.retentionDays} days): locked versions cannot expire`,
      );
    }
  }
  const accessLogRetentionDays = archive.accessLogRetentionDays ?? 365;
  intIn(accessLogRetentionDays, 'archive.accessLogRetentionDays', 1, 36500);

  // --- worker and dispatcher ------------------------------------------------------------------
  const w = props.worker ?? {};
  const worker = {
    memoryMiB: w.memoryMiB ?? 512,
    timeoutSeconds: w.timeoutSeconds ?? 300,
    deadlineMarginSeconds: w.deadlineMarginSeconds ?? 30,
    maxFollowUps: w.maxFollowUps ?? 20,
    maxConcurrency: w.maxConcurrency ?? 20,
    reservedConcurrency: w.reservedConcurrency,
    maxReceiveCount: w.maxReceiveCount ?? 8,
    runtime: w.runtime ?? 'nodejs24.x',
    logLevel: w.logLevel ?? 'INFO',
    extraCaPem: w.extraCaPem,
  } as const;
  intIn(worker.memoryMiB, 'worker.memoryMiB', 128, 10240);
  if (isInt(worker.timeoutSeconds) && worker.timeoutSeconds > MAX_TIMEOUT_SECONDS) {
    problems.push(
      `worker.timeoutSeconds (${worker.timeoutSeconds}) is over Lambda's 15-minute limit (${MAX_TIMEOUT_SECONDS}); ` +
        `a mailbox not drained in one invocation is continued by a follow-up job`,
    );
  } else {
    intIn(worker.timeoutSeconds, 'worker.timeoutSeconds', 1, MAX_TIMEOUT_SECONDS);
  }
  intIn(worker.deadlineMarginSeconds, 'worker.deadlineMarginSeconds', 1, MAX_TIMEOUT_SECONDS);
  check(
    worker.timeoutSeconds >= worker.deadlineMarginSeconds + 30,
    `worker.timeoutSeconds (${worker.timeoutSeconds}) must leave at least 30 s of polling after ` +
      `deadlineMarginSeconds (${worker.deadlineMarginSeconds})`,
  );
  intIn(worker.maxFollowUps, 'worker.maxFollowUps', 0, 1000);
  intIn(worker.maxConcurrency, 'worker.maxConcurrency', 2, 1000);
  intIn(worker.reservedConcurrency, 'worker.reservedConcurrency', 1, 100_000);
  if (worker.reservedConcurrency !== undefined) {
    check(
      worker.reservedConcurrency >= worker.maxConcurrency,
      `worker.reservedConcurrency (${worker.reservedConcurrency}) is below worker.maxConcurrency ` +
        `(${worker.maxConcurrency}): the event source would be throttled and jobs delayed`,
    );
  }
  intIn(worker.maxReceiveCount, 'worker.maxReceiveCount', 1, 1000);
  check(
    worker.runtime === 'nodejs22.x' || worker.runtime === 'nodejs24.x',
    `worker.runtime must be "nodejs22.x" or "nodejs24.x"`,
  );
  check(
    ['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(worker.logLevel),
    `worker.logLevel must be DEBUG, INFO, WARN or ERROR`,
  );
  if (worker.extraCaPem !== undefined) {
    check(
      worker.extraCaPem.includes('-----BEGIN CERTIFICATE-----') && worker.extraCaPem.length <= 3000,
      'worker.extraCaPem must be PEM certificate(s) ("-----BEGIN CERTIFICATE-----"), at most 3000 characters ' +
        "(Lambda's environment holds 4 KB in all)",
    );
  }
  const d = props.dispatcher ?? {};
  const dispatcher = { memoryMiB: d.memoryMiB ?? 256, timeoutSeconds: d.timeoutSeconds ?? 60 };
  intIn(dispatcher.memoryMiB, 'dispatcher.memoryMiB', 128, 10240);
  intIn(dispatcher.timeoutSeconds, 'dispatcher.timeoutSeconds', 1, MAX_TIMEOUT_SECONDS);

  // --- alarms ---------------------------------------------------------------------------------
  const a = props.alarms ?? {};
  const alarms = { emails: a.emails ?? [], topicArn: a.topicArn, noSuccessHours: a.noSuccessHours ?? 2 };
  for (const email of alarms.emails)
    check(EMAIL.test(email), `alarms.emails: "${email}" is not an email address`);
  if (alarms.topicArn !== undefined) {
    check(
      SNS_TOPIC_ARN.test(alarms.topicArn),
      `alarms.topicArn "${alarms.topicArn}" is not an SNS topic ARN`,
    );
  }
  intIn(alarms.noSuccessHours, 'alarms.noSuccessHours', 1, 24);

  // --- network --------------------------------------------------------------------------------
  const network = resolveNetwork(props.network ?? {}, problems);
  const fleet = resolveFleet(props.fleet ?? {}, intIn, problems);

  const sesInbound =
    props.sesInbound !== undefined
      ? resolveSesInbound(props.sesInbound, { prefix, statePrefix, encryption, objectLock: lock }, problems)
      : undefined;

  const logRetentionDays = props.logRetentionDays ?? 90;
  check(
    (LOG_RETENTION_DAYS as readonly number[]).includes(logRetentionDays),
    `logRetentionDays (${logRetentionDays}) must be one of CloudWatch Logs' values: ${LOG_RETENTION_DAYS.join(', ')}`,
  );

  if (problems.length > 0) throw new Pop3PollerConfigError(problems);
  return {
    schedules,
    secrets,
    secretNamePrefix,
    grantSecretsByPrefix,
    secretKmsKeyArns,
    usesKeepMode: accounts.some((account) => account.mode === 'keep'),
    eventBus: { type: busType, archiveRetentionDays, exampleRule: bus.exampleRule ?? true },
    archive: {
      prefix,
      statePrefix,
      encryption,
      objectLock: lock,
      glacierInstantRetrievalAfterDays: glacierIr,
      deepArchiveAfterDays: deepArchive,
      minTransitionSizeBytes,
      expireAfterDays,
      noncurrentVersionExpirationDays: noncurrentDays,
      accessLogRetentionDays,
    },
    worker,
    dispatcher,
    alarms,
    network,
    logRetentionDays,
    dashboard: props.dashboard ?? true,
    fleet,
    sesInbound,
  };
}

export const SUMMARY_EVENTS = ['changes', 'all', 'none'] as const;

/** S3's rule for bucket names (general purpose buckets). */
const BUCKET_NAME = /^(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const DOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
/** An EventBridge source (PutEvents' Source), not AWS's own `aws.` namespace. */
const EVENT_SOURCE = /^(?!aws\.)[A-Za-z0-9._/-]{1,256}$/;
/** The handler's environment holds the recipient map as JSON; Lambda's whole environment is 4 KB. */
export const MAX_SES_RECIPIENTS_CHARS = 2500;
/** The most a message may be: the handler holds it in memory. */
export const MAX_SES_MESSAGE_BYTES = 100 * 1024 * 1024;

function resolveSesInbound(
  ses: SesInboundProps,
  archive: {
    prefix: string;
    statePrefix: string;
    encryption: string;
    objectLock: unknown;
  },
  problems: string[],
): ResolvedSesInbound {
  const where = 'sesInbound';
  const bucket = ses.bucket;
  const inArchive = bucket === undefined;
  if (!inArchive && !BUCKET_NAME.test(bucket)) {
    problems.push(`${where}.bucket "${bucket}" is not an S3 bucket name`);
  }
  const prefix = ses.prefix ?? 'ses/';
  if (inArchive) {
    if (!PREFIX.test(prefix)) {
      problems.push(
        `${where}.prefix "${prefix}" must be non-empty, end in "/" and hold only safe key characters`,
      );
    } else {
      for (const [name, other] of [
        ['archive.prefix', archive.prefix],
        ['archive.statePrefix', archive.statePrefix],
      ] as const) {
        if (prefix.startsWith(other) || other.startsWith(prefix)) {
          problems.push(
            `${where}.prefix "${prefix}" and ${name} "${other}" must not overlap: SES's objects are not ` +
              "archived messages (they are written without If-None-Match, and the archive's lifecycle rules must not touch them)",
          );
        }
      }
    }
    if (archive.objectLock !== undefined) {
      problems.push(
        `${where} cannot use the archive bucket: it has Object Lock with a default retention, which SES's S3 ` +
          'action does not support; give sesInbound.bucket a bucket of your own',
      );
    }
    if (archive.encryption !== 'customer-managed') {
      problems.push(
        `${where} in the archive bucket needs archive.encryption "customer-managed": SES writes as a service, ` +
          "which the AWS managed aws/s3 key's policy does not let in (and cannot be changed to); the stack grants " +
          'SES its own key, through S3, for this bucket only. Or give sesInbound.bucket a bucket of your own',
      );
    }
    if (ses.bucketKmsKeyArn !== undefined) {
      problems.push(`${where}.bucketKmsKeyArn only applies to an existing sesInbound.bucket`);
    }
  } else if (prefix !== '' && !PREFIX.test(prefix)) {
    problems.push(
      `${where}.prefix "${prefix}" must end in "/" and hold only safe key characters (or be empty)`,
    );
  }
  if (ses.bucketKmsKeyArn !== undefined && !KMS_KEY_ARN.test(ses.bucketKmsKeyArn)) {
    problems.push(`${where}.bucketKmsKeyArn "${ses.bucketKmsKeyArn}" is not a KMS key ARN`);
  }

  const recipients: Record<string, string> = {};
  const domains = new Set<string>();
  for (const [key, account] of Object.entries(ses.recipients ?? {})) {
    const lower = key.toLowerCase();
    const domain = lower.slice(lower.lastIndexOf('@') + 1);
    if (!/^[^@\s]*@[^@\s]+$/.test(key) || !DOMAIN.test(domain)) {
      problems.push(`${where}.recipients: "${key}" is not an address or an @domain`);
      continue;
    }
    if (typeof account !== 'string' || !ACCOUNT_ID_PATTERN.test(account)) {
      problems.push(
        `${where}.recipients["${key}"]: account id ${JSON.stringify(account)} must match [A-Za-z0-9._-]{1,64}`,
      );
      continue;
    }
    if (lower in recipients)
      problems.push(`${where}.recipients: "${key}" is given more than once (case does not count)`);
    recipients[lower] = account;
    domains.add(domain);
  }
  if (JSON.stringify(recipients).length > MAX_SES_RECIPIENTS_CHARS) {
    problems.push(
      `${where}.recipients is ${JSON.stringify(recipients).length} characters as JSON, over ${MAX_SES_RECIPIENTS_CHARS} ` +
        "(it travels in the handler's environment, 4 KB in all): map whole domains (@example.com) instead",
    );
  }
  for (const domain of ses.domains ?? []) {
    if (typeof domain !== 'string' || !DOMAIN.test(domain.toLowerCase())) {
      problems.push(`${where}.domains: "${domain}" is not a domain name`);
    } else domains.add(domain.toLowerCase());
  }
  const unmappedRecipients = ses.unmappedRecipients ?? 'address';
  if (unmappedRecipients !== 'address' && unmappedRecipients !== 'skip') {
    problems.push(`${where}.unmappedRecipients must be "address" or "skip"`);
  }
  const eventSource = ses.eventSource ?? 'ses';
  if (typeof eventSource !== 'string' || !EVENT_SOURCE.test(eventSource)) {
    problems.push(
      `${where}.eventSource ${JSON.stringify(eventSource)} must be 1-256 of A-Z a-z 0-9 . _ / - and not start with "aws."`,
    );
  }
  const maxMessageBytes = ses.maxMessageBytes ?? 40 * 1024 * 1024;
  if (!isInt(maxMessageBytes) || maxMessageBytes < 1024 || maxMessageBytes > MAX_SES_MESSAGE_BYTES) {
    problems.push(`${where}.maxMessageBytes must be an integer from 1024 to ${MAX_SES_MESSAGE_BYTES}`);
  }
  const memoryMiB = ses.memoryMiB ?? 512;
  if (!isInt(memoryMiB) || memoryMiB < 128 || memoryMiB > 10240) {
    problems.push(`${where}.memoryMiB must be an integer from 128 to 10240`);
  } else if (isInt(maxMessageBytes) && memoryMiB < 128 + Math.ceil((4 * maxMessageBytes) / (1024 * 1024))) {
    problems.push(
      `${where}.memoryMiB (${memoryMiB}) is too small for messages of ${maxMessageBytes} bytes: the handler holds ` +
        `about four copies of one; give at least ${128 + Math.ceil((4 * maxMessageBytes) / (1024 * 1024))}`,
    );
  }
  const maxReceiveCount = ses.maxReceiveCount ?? 5;
  if (!isInt(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) {
    problems.push(`${where}.maxReceiveCount must be an integer from 1 to 1000`);
  }
  return {
    bucket,
    prefix,
    recipients,
    unmappedRecipients,
    domains: [...domains].sort(),
    eventSource,
    maxMessageBytes,
    bucketKmsKeyArn: ses.bucketKmsKeyArn,
    memoryMiB,
    maxReceiveCount,
  };
}

function resolveFleet(
  fleet: FleetProps,
  intIn: (value: number | undefined, name: string, min: number, max: number) => void,
  problems: string[],
): ResolvedFleet {
  const resolved: ResolvedFleet = {
    shards: fleet.shards ?? 32,
    batchSize: fleet.batchSize ?? 50,
    mailboxConcurrency: fleet.mailboxConcurrency ?? fleet.batchSize ?? 50,
    summaryEvents: fleet.summaryEvents ?? 'changes',
    secretCacheSeconds: fleet.secretCacheSeconds ?? 900,
  };
  intIn(fleet.shards, 'fleet.shards', 1, 1024);
  intIn(fleet.batchSize, 'fleet.batchSize', 1, 100);
  intIn(fleet.mailboxConcurrency, 'fleet.mailboxConcurrency', 1, 100);
  intIn(fleet.secretCacheSeconds, 'fleet.secretCacheSeconds', 0, 3600);
  if (!(SUMMARY_EVENTS as readonly unknown[]).includes(resolved.summaryEvents)) {
    problems.push(`fleet.summaryEvents must be "changes", "all" or "none"`);
  }
  return resolved;
}

function checkAccount(account: PollerAccountProps, problems: string[]): void {
  const where = `account "${account.id}"`;
  const secret = account.secret;
  if (typeof secret !== 'string' || secret === '') {
    problems.push(`${where}: secret is required (an existing secret's name or ARN, or "create")`);
  } else if (secret !== 'create') {
    if (secret.startsWith('arn:')) {
      if (!SECRET_ARN.test(secret))
        problems.push(`${where}: secret "${secret}" is not a Secrets Manager secret ARN`);
    } else if (!SECRET_NAME.test(secret)) {
      problems.push(`${where}: secret name "${secret}" may only contain A-Z a-z 0-9 / _ + = . @ -`);
    }
  }
  const mode = account.mode ?? 'delete';
  if (mode !== 'delete' && mode !== 'keep') problems.push(`${where}: mode must be "delete" or "keep"`);
  if (account.provider !== undefined && account.provider !== 'gmail' && account.provider !== 'outlook') {
    problems.push(`${where}: provider must be "gmail" or "outlook"`);
  }
  if (account.deleteAfterDays !== undefined) {
    if (mode !== 'keep') problems.push(`${where}: deleteAfterDays only applies in "keep" mode`);
    if (!isInt(account.deleteAfterDays) || account.deleteAfterDays < 1) {
      problems.push(`${where}: deleteAfterDays must be a positive integer`);
    }
  }
  for (const key of ['maxMessages', 'maxBytes'] as const) {
    const value = account[key];
    if (value !== undefined && (!isInt(value) || value < 1))
      problems.push(`${where}: ${key} must be a positive integer`);
  }
}

/** Checks a schedule's expression, time zone and window; pushes a problem for each fault. */
export function checkSchedule(spec: ScheduleSpec, where: string, problems: string[]): void {
  const expressionProblem = scheduleExpressionProblem(spec.expression);
  if (expressionProblem) problems.push(`${where}: ${expressionProblem}`);
  if (spec.timeZone !== undefined && !isTimeZone(spec.timeZone)) {
    problems.push(
      `${where}: time zone "${spec.timeZone}" is not an IANA time zone (e.g. "Europe/Paris", "UTC")`,
    );
  }
  const window = spec.flexibleWindowMinutes;
  if (window !== undefined && (!isInt(window) || window < 1 || window > 1440)) {
    problems.push(`${where}: flexibleWindowMinutes must be an integer from 1 to 1440`);
  }
}

/** Why an expression is not a recurring EventBridge Scheduler expression, or undefined if it is. */
export function scheduleExpressionProblem(expression: unknown): string | undefined {
  if (typeof expression !== 'string') return 'expression is required';
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const plural = rate[2]!.endsWith('s');
    if (value < 1) return `"${expression}": the rate must be at least 1`;
    if (value === 1 && plural) return `"${expression}": write rate(1 ${rate[2]!.slice(0, -1)})`;
    if (value > 1 && !plural) return `"${expression}": write rate(${value} ${rate[2]}s)`;
    return undefined;
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) return cronProblem(expression, cron[1]!.trim().split(/\s+/));
  if (expression.startsWith('at(')) return `"${expression}": one-time at() schedules are not supported here`;
  return `"${expression}" is not "rate(<n> <minutes|hours|days>)" or "cron(<6 fields>)"`;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function cronProblem(expression: string, fields: string[]): string | undefined {
  if (fields.length !== 6) {
    return `"${expression}": cron needs 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`;
  }
  const [minutes, hours, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  const specs: [string, string, number, number, string[], RegExp][] = [
    ['minutes', minutes, 0, 59, [], /^[0-9,\-*/]+$/],
    ['hours', hours, 0, 23, [], /^[0-9,\-*/]+$/],
    ['day-of-month', dom, 1, 31, [], /^(\?|L|LW|\d{1,2}W|[0-9,\-*/]+)$/],
    ['month', month, 1, 12, MONTHS, /^[0-9A-Za-z,\-*/]+$/],
    ['day-of-week', dow, 1, 7, DAYS, /^(\?|[1-7A-Za-z]+#[1-5]|[1-7A-Za-z]+L|[0-9A-Za-z,\-*/]+)$/],
    ['year', year, 1970, 2199, [], /^[0-9,\-*/]+$/],
  ];
  for (const [name, field, min, max, names, shape] of specs) {
    if (!shape.test(field)) return `"${expression}": ${name} field "${field}" is malformed`;
    for (const token of field.split(/[,\-/#]/)) {
      // L and W suffixes (last, weekday) exist in the day fields only.
      const bare = name.startsWith('day') ? token.replace(/[LW]$/, '') : token;
      if (bare === '' || bare === '*' || bare === '?') continue;
      if (/^\d+$/.test(bare)) {
        const n = Number(bare);
        // The part after "/" is an increment, not a value of the field.
        if (!field.includes('/') && (n < min || n > max)) {
          return `"${expression}": ${name} value ${n} is outside ${min}-${max}`;
        }
        continue;
      }
      if (!names.includes(bare.toUpperCase()))
        return `"${expression}": ${name} field "${field}" is malformed`;
    }
  }
  if ((dom === '?') === (dow === '?')) {
    return `"${expression}": exactly one of day-of-month ("${dom}") and day-of-week ("${dow}") must be "?"`;
  }
  return undefined;
}

export function isTimeZone(timeZone: string): boolean {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return true;
  if (!/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+){0,2}$/.test(timeZone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

function resolveNetwork(network: NetworkProps, problems: string[]): ResolvedNetwork {
  const vpc = network.vpc ?? 'none';
  const only = (keys: readonly (keyof NetworkProps)[], where: string): void => {
    for (const key of keys) {
      if (network[key] !== undefined)
        problems.push(`network.${key} only applies with network.vpc "${where}"`);
    }
  };
  const ports = network.pop3Ports ?? [110, 995];
  if (ports.length === 0 || ports.some((p) => !isInt(p) || p < 1 || p > 65535)) {
    problems.push('network.pop3Ports must list ports from 1 to 65535');
  }
  switch (vpc) {
    case 'none':
      if (network.staticEgressIp) {
        problems.push(
          'network.staticEgressIp needs the worker in a VPC with NAT (a Lambda outside a VPC has no fixed ' +
            'source IP): set network.vpc to "new" (or "existing" with NAT)',
        );
      }
      only(['natGateways', 'maxAzs', 'eipAllocationIds'], 'new');
      only(['pop3Ports'], 'new" or "existing');
      only(['vpcId', 'privateSubnetIds', 'availabilityZones'], 'existing');
      return { vpc: 'none' };
    case 'new': {
      only(['vpcId', 'privateSubnetIds', 'availabilityZones'], 'existing');
      const natGateways = network.natGateways ?? 1;
      const maxAzs = network.maxAzs ?? 2;
      if (!isInt(natGateways) || natGateways < 0 || natGateways > 6) {
        problems.push('network.natGateways must be an integer from 1 to 6');
      } else if (natGateways === 0) {
        problems.push(
          network.staticEgressIp
            ? 'network.staticEgressIp needs NAT gateways (their Elastic IPs are the fixed source IPs): ' +
                'set network.natGateways to at least 1'
            : 'network.natGateways is 0: the worker in a new VPC reaches POP3 servers on the internet only through NAT',
        );
      }
      if (!isInt(maxAzs) || maxAzs < 1 || maxAzs > 6)
        problems.push('network.maxAzs must be an integer from 1 to 6');
      else if (isInt(natGateways) && natGateways > maxAzs) {
        problems.push(`network.natGateways (${natGateways}) cannot exceed network.maxAzs (${maxAzs})`);
      }
      const eips = network.eipAllocationIds;
      if (eips !== undefined) {
        if (eips.length !== natGateways) {
          problems.push(
            `network.eipAllocationIds lists ${eips.length} allocations for ${natGateways} NAT gateways`,
          );
        }
        for (const id of eips) {
          if (!/^eipalloc-[0-9a-f]{8,17}$/.test(id)) {
            problems.push(`network.eipAllocationIds: "${id}" is not an allocation id`);
          }
        }
      }
      return { vpc: 'new', natGateways, maxAzs, eipAllocationIds: eips, pop3Ports: ports };
    }
    case 'existing': {
      only(['natGateways', 'maxAzs', 'eipAllocationIds'], 'new');
      if (!/^vpc-[0-9a-f]{8,17}$/.test(network.vpcId ?? '')) {
        problems.push(`network.vpcId ${JSON.stringify(network.vpcId)} is not a VPC id`);
      }
      const subnets = network.privateSubnetIds ?? [];
      const azs = network.availabilityZones ?? [];
      if (subnets.length === 0) problems.push('network.privateSubnetIds must list at least one subnet');
      for (const id of subnets) {
        if (!/^subnet-[0-9a-f]{8,17}$/.test(id))
          problems.push(`network.privateSubnetIds: "${id}" is not a subnet id`);
      }
      if (azs.length !== subnets.length) {
        problems.push(
          'network.availabilityZones must give one availability zone per private subnet, in order',
        );
      }
      return {
        vpc: 'existing',
        vpcId: network.vpcId ?? '',
        privateSubnetIds: subnets,
        availabilityZones: azs,
        pop3Ports: ports,
      };
    }
    default:
      problems.push(`network.vpc must be "none", "new" or "existing", not ${JSON.stringify(vpc)}`);
      return { vpc: 'none' };
  }
}

function toJob(account: PollerAccountProps, secretId: string): PollJob {
  return {
    accountId: account.id,
    secretId,
    ...(account.mode !== undefined ? { mode: account.mode } : {}),
    ...(account.deleteAfterDays !== undefined ? { deleteAfterDays: account.deleteAfterDays } : {}),
    ...(account.maxMessages !== undefined ? { maxMessages: account.maxMessages } : {}),
    ...(account.maxBytes !== undefined ? { maxBytes: account.maxBytes } : {}),
    ...(account.provider !== undefined ? { provider: account.provider } : {}),
  };
}

function resolvedSchedule(
  key: string,
  description: string,
  spec: ScheduleSpec,
  jobs: readonly PollJob[],
  registry: { registryGroup: string | undefined; defaultGroup: boolean },
): ResolvedSchedule {
  const chunks = chunkJobs([...jobs].sort((a, b) => a.accountId.localeCompare(b.accountId)));
  return {
    ...registry,
    key,
    description,
    expression: spec.expression,
    timeZone: spec.timeZone ?? 'UTC',
    flexibleWindowMinutes: spec.flexibleWindowMinutes,
    enabled: spec.enabled ?? true,
    // A group without configured accounts still runs, for its registry mailboxes.
    chunks: chunks.length > 0 ? chunks : [[]],
  };
}

/** A schedule's input without jobs: the scheduled time is filled in by Scheduler. */
const EMPTY_INPUT = JSON.stringify({
  jobs: [],
  registryGroup: 'x'.repeat(40),
  defaultGroup: true,
  scheduledTime: '<aws.scheduler.scheduled-time>',
});

/** Splits jobs so each chunk's DispatchInput JSON stays within MAX_SCHEDULE_INPUT_CHARS. */
export function chunkJobs(jobs: readonly PollJob[]): PollJob[][] {
  const chunks: PollJob[][] = [];
  let current: PollJob[] = [];
  let size = EMPTY_INPUT.length;
  for (const job of jobs) {
    const length = JSON.stringify(job).length + (current.length > 0 ? 1 : 0);
    if (current.length > 0 && size + length > MAX_SCHEDULE_INPUT_CHARS) {
      chunks.push(current);
      current = [];
      size = EMPTY_INPUT.length;
    }
    size += JSON.stringify(job).length + (current.length > 0 ? 1 : 0);
    current.push(job);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The secret name a reference points at (the name part of an ARN, without its random suffix). */
function secretName(ref: ResolvedSecretRef): string {
  if (ref.kind !== 'arn') return ref.secretId;
  const name = SECRET_ARN.exec(ref.secretId)?.[1] ?? ref.secretId;
  return name.replace(/-[A-Za-z0-9]{6}$/, '');
}
