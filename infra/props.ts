/**
 * The props of the `Pop3Poller` construct: plain data (strings, numbers, booleans), so the user's
 * configuration file (infra/config.ts) is the props object itself, and every value can be checked
 * at synth time (infra/validation.ts) before a single resource is created.
 */

/** When a group of accounts (or one account) is polled. */
export interface ScheduleSpec {
  /**
   * An EventBridge Scheduler recurring expression: `rate(5 minutes)`, `rate(1 hour)`,
   * `cron(0/10 7-19 ? * MON-FRI *)` (six fields: minutes hours day-of-month month day-of-week year,
   * one of day-of-month and day-of-week being `?`).
   */
  readonly expression: string;
  /**
   * IANA time zone the expression is evaluated in (matters for `cron`, and for daylight saving).
   * @default 'UTC'
   */
  readonly timeZone?: string;
  /**
   * Let Scheduler start each run anywhere within this many minutes (1–1440), spreading load.
   * @default - off: runs start on time
   */
  readonly flexibleWindowMinutes?: number;
  /**
   * `false` deploys the schedule disabled (accounts stay configured but are not polled).
   * @default true
   */
  readonly enabled?: boolean;
}

/** One POP3 mailbox to poll. */
export interface PollerAccountProps {
  /** Stable identifier used in archive keys, events, logs and metrics: `[A-Za-z0-9._-]{1,64}`. */
  readonly id: string;
  /**
   * The Secrets Manager secret holding the account's JSON credentials (docs/deploy.md): an existing
   * secret's name or ARN, or `'create'` to have the stack create an empty secret named
   * `<secretNamePrefix><id>` for you to fill in after the first deployment.
   */
  readonly secret: string;
  /**
   * The name of an entry of `scheduleGroups`, or a schedule of the account's own.
   * @default - the `defaultScheduleGroup`
   */
  readonly schedule?: string | ScheduleSpec;
  /**
   * `delete`: DELE each message once archived and published. `keep`: leave messages on the server
   * and archive only UIDLs not seen before (state kept under `archive.statePrefix`).
   * @default 'delete'
   */
  readonly mode?: 'delete' | 'keep';
  /**
   * `keep` mode only: DELE messages archived at least this many days ago.
   * @default - never
   */
  readonly deleteAfterDays?: number;
  /**
   * Most messages fetched in one invocation; the rest are continued by a follow-up job.
   * @default - the worker's own bound (functions/handlers)
   */
  readonly maxMessages?: number;
  /**
   * Most bytes (by the server's LIST sizes) fetched in one invocation.
   * @default - the worker's own bound (functions/handlers)
   */
  readonly maxBytes?: number;
  /**
   * A mail provider preset: host, port 995 and implicit TLS unless the secret says otherwise, and
   * the provider's known behaviours (Gmail's per-session listing limit, LOGIN-DELAY, `recent:`
   * logins). See docs/oauth2.md.
   * @default - none: the secret gives host, port and tls
   */
  readonly provider?: 'gmail' | 'outlook';
}

export interface EventBusProps {
  /**
   * `custom`: a bus of this stack's own. `default`: the account's default event bus.
   * @default 'custom'
   */
  readonly type?: 'custom' | 'default';
  /**
   * Days an EventBridge archive keeps this poller's events for replay; 0 creates no archive.
   * @default 30
   */
  readonly archiveRetentionDays?: number;
  /**
   * An example rule that sends every "Message Archived" event to an SQS queue, to show how a
   * workflow is triggered on new mail.
   * @default true
   */
  readonly exampleRule?: boolean;
}

export interface ObjectLockProps {
  /**
   * `governance`: users with `s3:BypassGovernanceRetention` can still delete or shorten.
   * `compliance`: nobody, root included, can delete a version before its retention ends.
   */
  readonly mode: 'governance' | 'compliance';
  /** Default retention of every new object version, in days. */
  readonly retentionDays: number;
}

export interface LifecycleProps {
  /**
   * Days after which archived messages larger than `minTransitionSizeBytes` move to Glacier
   * Instant Retrieval; 0 disables the transition.
   * @default 90
   */
  readonly glacierInstantRetrievalAfterDays?: number;
  /**
   * Days after which archived messages larger than `minTransitionSizeBytes` move to Glacier Deep
   * Archive (hours to restore).
   * @default - never
   */
  readonly deepArchiveAfterDays?: number;
  /**
   * Only objects strictly larger than this are transitioned. S3 bills IA and Glacier Instant
   * Retrieval objects as at least 128 KB, and each transition costs a request: moving a typical
   * 30 KB message would cost more than it saves.
   * @default 131072
   */
  readonly minTransitionSizeBytes?: number;
  /**
   * Days after which archived messages expire (are deleted, subject to Object Lock).
   * @default - never
   */
  readonly expireAfterDays?: number;
  /**
   * Days a replaced or deleted object version is kept before it is removed: the window in which an
   * accidental deletion can be undone.
   * @default 90
   */
  readonly noncurrentVersionExpirationDays?: number;
}

export interface ArchiveProps {
  /**
   * Key prefix of archived messages (`<prefix><accountId>/<sha256>.eml`). Non-empty, ends in `/`.
   * @default 'mail/'
   */
  readonly prefix?: string;
  /**
   * Key prefix of `keep`-mode state objects. Non-empty, ends in `/`, disjoint from `prefix`.
   * @default 'state/'
   */
  readonly statePrefix?: string;
  /**
   * `aws-managed`: SSE-KMS with the `aws/s3` key. `customer-managed`: SSE-KMS with a key of this
   * stack's own (rotation on, retained on stack deletion; about $1/month), whose use you can audit
   * and restrict. Either way with an S3 Bucket Key.
   * @default 'aws-managed'
   */
  readonly encryption?: 'aws-managed' | 'customer-managed';
  /**
   * Object Lock (WORM) with a default retention for every new object version. Can only be chosen
   * when the bucket is created.
   * @default - no Object Lock
   */
  readonly objectLock?: ObjectLockProps;
  /** @default - see `LifecycleProps` */
  readonly lifecycle?: LifecycleProps;
  /**
   * Days server access logs are kept in the log bucket.
   * @default 365
   */
  readonly accessLogRetentionDays?: number;
}

export interface WorkerProps {
  /**
   * Memory in MiB (128–10240); CPU grows with it (TLS, hashing).
   * @default 512
   */
  readonly memoryMiB?: number;
  /**
   * Timeout in seconds (at most 900). The workflow's deadline is the remaining time minus
   * `deadlineMarginSeconds`; a mailbox not drained in time is continued by a follow-up job.
   * @default 300
   */
  readonly timeoutSeconds?: number;
  /**
   * Seconds kept back from polling for QUIT and reporting. A session still running a quarter of
   * this past the deadline is cut without QUIT (EDEADLINE: nothing is deleted, and the mailbox
   * waits for the next tick rather than a follow-up job).
   * @default 30
   */
  readonly deadlineMarginSeconds?: number;
  /**
   * Follow-up jobs in a row for one account before waiting for the next scheduled run.
   * @default 20
   */
  readonly maxFollowUps?: number;
  /**
   * Most worker invocations the SQS event source runs at once (2–1000): also the most POP3
   * sessions open at once.
   * @default 20
   */
  readonly maxConcurrency?: number;
  /**
   * Concurrency reserved for the worker, taken from the account's regional pool; at least
   * `maxConcurrency`.
   * @default - none reserved
   */
  readonly reservedConcurrency?: number;
  /**
   * Receives of a job before it moves to the dead-letter queue. The worker backs off 30 s, 60 s,
   * 120 s, … (at most 15 min) between receives, so 8 receives span about 45 minutes of retries.
   * @default 8
   */
  readonly maxReceiveCount?: number;
  /** @default 'nodejs24.x' */
  readonly runtime?: 'nodejs22.x' | 'nodejs24.x';
  /** @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * PEM certificate(s) of a private CA that signs your mail servers' certificates, trusted in
   * addition to the public roots (not a secret; at most 3000 characters).
   * @default - public roots only
   */
  readonly extraCaPem?: string;
}

export interface DispatcherProps {
  /** @default 256 */
  readonly memoryMiB?: number;
  /** @default 60 */
  readonly timeoutSeconds?: number;
}

export interface AlarmProps {
  /**
   * Email addresses subscribed to a new SNS topic that every alarm notifies (each must confirm).
   * @default - none
   */
  readonly emails?: readonly string[];
  /**
   * An existing SNS topic every alarm notifies, instead of (or besides) a new one.
   * @default - none
   */
  readonly topicArn?: string;
  /**
   * Alarm when mailboxes were dispatched or polled and no poll has completed successfully for
   * this many hours in a row (1–24), fleet-wide. A stack with no mailboxes does not alarm.
   * @default 2
   */
  readonly noSuccessHours?: number;
}

/** Where the worker runs. Settings that do not apply to the chosen `vpc` are rejected. */
export interface NetworkProps {
  /**
   * `none`: Lambda's own network (no VPC, no NAT cost, no fixed source IP). `new`: a new VPC whose
   * NAT gateways' Elastic IPs are the source IPs POP3 servers see. `existing`: your VPC's private
   * subnets (described without a lookup, so synth stays offline).
   * @default 'none'
   */
  readonly vpc?: 'none' | 'new' | 'existing';
  /**
   * The POP3 servers allow-list source IPs: the worker must leave through NAT with fixed Elastic
   * IPs (with `existing`, you vouch for your subnets' routing).
   * @default false
   */
  readonly staticEgressIp?: boolean;
  /** `new` only: NAT gateways (1–6, at most `maxAzs`). @default 1 */
  readonly natGateways?: number;
  /** `new` only: availability zones. @default 2 */
  readonly maxAzs?: number;
  /**
   * `new` only: existing Elastic IP allocation ids for the NAT gateways (one each), so the source
   * IPs survive the stack being replaced.
   * @default - new Elastic IPs (listed in the `NatEgressIps` output)
   */
  readonly eipAllocationIds?: readonly string[];
  /** `existing` only: the VPC id. */
  readonly vpcId?: string;
  /** `existing` only: private subnets with a route to the internet through NAT. */
  readonly privateSubnetIds?: readonly string[];
  /** `existing` only: the subnets' availability zones, in the same order. */
  readonly availabilityZones?: readonly string[];
  /** `new`/`existing`: POP3 ports the worker's security group may connect to. @default [110, 995] */
  readonly pop3Ports?: readonly number[];
}

/**
 * How the fleet of mailboxes (infra/config.ts accounts and the registry table's records) is
 * spread over jobs and invocations.
 */
export interface FleetProps {
  /**
   * Shards (1–1024): mailboxes are spread over this many FIFO message groups by a stable hash of
   * their id, and one group's jobs run one after another, which is what keeps two sessions of one
   * mailbox from overlapping. Fixed for the deployment's life: changing it on a live stack moves
   * mailboxes to other groups, so drain the job queue first (disable the schedules, wait for the
   * queue to empty, deploy the change, enable them again).
   * @default 32
   */
  readonly shards?: number;
  /**
   * Mailboxes per batch job (1–100): one SQS message, one worker invocation. Measured by
   * `npm run cost` (1,000 mailboxes, 30 ms round trip): 50 costs a third less than 25 per empty
   * mailbox-month, since a batch lasts about as long as its slowest mailbox.
   * @default 50
   */
  readonly batchSize?: number;
  /**
   * Mailboxes one worker invocation polls at once (1–100).
   * @default - `batchSize`
   */
  readonly mailboxConcurrency?: number;
  /**
   * Per-poll summary events: `changes` only when mail was archived, a poll failed or its outcome
   * changed; `all` after every poll; `none` never.
   * @default 'changes'
   */
  readonly summaryEvents?: 'changes' | 'all' | 'none';
  /**
   * Seconds a warm worker reuses a secret read from Secrets Manager (0–3600); 0 reads it on every poll.
   * Longer than the 5-minute tick, so that a warm environment reads each secret once in three
   * ticks; a changed password is still picked up at once (EAUTH after a cached read re-reads it).
   * @default 900
   */
  readonly secretCacheSeconds?: number;
}

/**
 * Mail received by Amazon SES (your MX) archived beside the POP3 mail: each object an SES receipt
 * rule's S3 action writes becomes `<archive prefix><account>/<sha256>.eml` and a "Message Archived"
 * event with `source` `eventSource`, the recipient as account (docs/ses-inbound.md).
 */
export interface SesInboundProps {
  /**
   * The bucket the receipt rule's S3 action writes to: the name of an existing bucket in this
   * stack's account and region, with "Send notifications to Amazon EventBridge" turned on (and SES
   * already allowed to write to it; docs/ses-inbound.md). The SES objects are only ever read.
   * @default - the archive bucket: the stack lets SES write the prefix (and use the archive's key)
   */
  readonly bucket?: string;
  /**
   * The S3 action's object key prefix. In the archive bucket: non-empty, ends in `/`, disjoint
   * from `archive.prefix` and `archive.statePrefix` (no lifecycle rule of the stack touches it).
   * In an existing bucket it may be empty.
   * @default 'ses/'
   */
  readonly prefix?: string;
  /**
   * Which account a recipient's mail is archived under: keys are addresses
   * (`support@example.com`) or whole domains (`@example.com`), compared in lower case; an address
   * with a `+detail` matches its entry without it. Map to a POP3 account's id to give both one
   * archive and one stream of events.
   * @default - none: every recipient is handled by `unmappedRecipients`
   */
  readonly recipients?: Readonly<Record<string, string>>;
  /**
   * Recipients no entry of `recipients` matches: `address` archives under an account named after
   * the address (`support@example.com` → `support_at_example.com`, without `+detail`; an address
   * that makes no valid account id is not archived), `skip` archives nothing for them. Mail with
   * no recipient archived is reported and stays where SES wrote it.
   * @default 'address'
   */
  readonly unmappedRecipients?: 'address' | 'skip';
  /**
   * Your receiving domains. When SES delivers one message to several of your recipients at once
   * it names none of them; the recipients are then the message's To and Cc addresses at these
   * domains (and those `recipients` names).
   * @default - the domains `recipients` names
   */
  readonly domains?: readonly string[];
  /**
   * The `source` of these events (and the `event-source` the archive records): what tells an SES
   * message from a POP3 one.
   * @default 'ses'
   */
  readonly eventSource?: string;
  /**
   * Larger objects are not valid messages (reported, not archived). SES itself bounces mail over
   * 40 MB. At most 100 MiB.
   * @default 41943040
   */
  readonly maxMessageBytes?: number;
  /**
   * An existing `bucket`'s SSE-KMS key (its ARN), when it is not the AWS managed `aws/s3` key:
   * the handler may decrypt with it through S3.
   * @default - none
   */
  readonly bucketKmsKeyArn?: string;
  /**
   * Memory of the handler in MiB (128–10240); it holds one message at a time, about four copies.
   * @default 512
   */
  readonly memoryMiB?: number;
  /**
   * Receives of a notification that keeps failing before it moves to the dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;
}

export interface Pop3PollerProps {
  /**
   * Mailboxes configured here, polled from their schedule's input. May be empty: the registry
   * table (`pop3-poller mailboxes add`) is the first way to add mailboxes, and a registry-only
   * deployment still gets the default schedule group's schedule.
   */
  readonly accounts: readonly PollerAccountProps[];
  /**
   * Named schedules that accounts and registry records refer to by name. Each group becomes one
   * or more EventBridge Scheduler schedules whose input lists the group's configured accounts and
   * names the group (`registryGroup`), so the dispatcher adds the registry's mailboxes of it.
   * @default { default: { expression: 'rate(5 minutes)' } }
   */
  readonly scheduleGroups?: Readonly<Record<string, ScheduleSpec>>;
  /**
   * The group of accounts (and registry records) that name no schedule; it must be one of
   * `scheduleGroups`.
   * @default 'default'
   */
  readonly defaultScheduleGroup?: string;
  /**
   * Name prefix of created secrets (`<prefix><accountId>`) and of the shared secrets the CLI
   * creates for registry mailboxes (`<prefix>shared-NNNN`, the `SecretNamePrefix` output). The
   * worker may read every secret named under it. With more than 50 referenced secrets, they must
   * all be named under it, and the worker is granted the prefix instead of each secret.
   * @default 'pop3-poller/<stack name>/'
   */
  readonly secretNamePrefix?: string;
  /**
   * KMS keys (ARNs) that encrypt referenced secrets, when not the AWS-managed
   * `aws/secretsmanager` key: the worker may decrypt with them through Secrets Manager only.
   * @default - none
   */
  readonly secretKmsKeyArns?: readonly string[];
  /** @default - a custom bus with a 30-day archive and the example rule */
  readonly eventBus?: EventBusProps;
  /** @default - see `ArchiveProps` */
  readonly archive?: ArchiveProps;
  /** @default - see `WorkerProps` */
  readonly worker?: WorkerProps;
  /** @default - see `DispatcherProps` */
  readonly dispatcher?: DispatcherProps;
  /** @default - alarms without notifications */
  readonly alarms?: AlarmProps;
  /** @default { vpc: 'none' } */
  readonly network?: NetworkProps;
  /**
   * Days the Lambda log groups keep logs (a CloudWatch Logs retention value).
   * @default 90
   */
  readonly logRetentionDays?: number;
  /** @default - see `FleetProps` */
  readonly fleet?: FleetProps;
  /**
   * A CloudWatch dashboard of the poller's metrics ($3 a month).
   * @default true
   */
  readonly dashboard?: boolean;
  /**
   * Archive the mail an SES receipt rule writes to S3 too (docs/ses-inbound.md).
   * @default - off
   */
  readonly sesInbound?: SesInboundProps;
}
