import type { PollJob } from '../../functions/handlers/contract';
import { config } from '../../infra/config';
import { Pop3PollerConfigError } from '../../infra/pop3-poller';
import type { Pop3PollerProps } from '../../infra/props';
import {
  chunkJobs,
  isTimeZone,
  MAX_SCHEDULE_INPUT_CHARS,
  resolveConfig,
  scheduleExpressionProblem,
} from '../../infra/validation';
import { buildStack, MINIMAL } from '../support/cdk-app';

/** Invalid or conflicting settings fail at synth, each with a message that says what to change. */

const one = { id: 'support', secret: 'create' } as const;
const with_ = (extra: Partial<Pop3PollerProps>): Pop3PollerProps => ({ ...MINIMAL, ...extra });
const manySecrets = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ id: `m${i}`, secret: `${prefix}m${i}` }));

const CASES: ReadonlyArray<[string, Pop3PollerProps, RegExp]> = [
  // accounts and secrets
  [
    'fleet.shards of 0',
    { accounts: [], fleet: { shards: 0 } },
    /fleet\.shards must be an integer from 1 to 1024/,
  ],
  [
    'fleet.shards over 1024',
    { accounts: [], fleet: { shards: 1025 } },
    /fleet\.shards must be an integer from 1 to 1024/,
  ],
  [
    'a fractional fleet.shards',
    { accounts: [], fleet: { shards: 2.5 } },
    /fleet\.shards must be an integer from 1 to 1024/,
  ],
  [
    'fleet.batchSize over 100',
    { accounts: [], fleet: { batchSize: 101 } },
    /fleet\.batchSize must be an integer from 1 to 100/,
  ],
  [
    'fleet.mailboxConcurrency of 0',
    { accounts: [], fleet: { mailboxConcurrency: 0 } },
    /fleet\.mailboxConcurrency must be an integer from 1 to 100/,
  ],
  [
    'an unknown fleet.summaryEvents',
    { accounts: [], fleet: { summaryEvents: 'some' as 'all' } },
    /fleet\.summaryEvents must be "changes", "all" or "none"/,
  ],
  [
    'fleet.secretCacheSeconds over an hour',
    { accounts: [], fleet: { secretCacheSeconds: 3601 } },
    /fleet\.secretCacheSeconds must be an integer from 0 to 3600/,
  ],
  [
    'a default schedule group that is not defined',
    { accounts: [], scheduleGroups: { hourly: { expression: 'rate(1 hour)' } } },
    /defaultScheduleGroup "default" is not in scheduleGroups \(defined: hourly\): registry mailboxes/,
  ],
  [
    'a malformed account id',
    { accounts: [{ id: 'bad id!', secret: 'create' }] },
    /account id "bad id!" must match/,
  ],
  ['duplicate account ids', { accounts: [one, { ...one }] }, /account id "support" is used more than once/],
  ['an account without a secret', { accounts: [{ id: 'a', secret: '' }] }, /account "a": secret is required/],
  [
    'a malformed secret name',
    { accounts: [{ id: 'a', secret: 'no spaces allowed' }] },
    /secret name "no spaces allowed" may only contain/,
  ],
  [
    'a malformed secret ARN',
    { accounts: [{ id: 'a', secret: 'arn:aws:s3:::bucket' }] },
    /secret "arn:aws:s3:::bucket" is not a Secrets Manager secret ARN/,
  ],
  ['an unknown mode', { accounts: [{ ...one, mode: 'move' as 'keep' }] }, /mode must be "delete" or "keep"/],
  [
    'an unknown provider',
    { accounts: [{ ...one, provider: 'yahoo' as 'gmail' }] },
    /provider must be "gmail" or "outlook"/,
  ],
  [
    'deleteAfterDays in delete mode',
    { accounts: [{ ...one, deleteAfterDays: 7 }] },
    /deleteAfterDays only applies in "keep" mode/,
  ],
  [
    'a bad deleteAfterDays',
    { accounts: [{ ...one, mode: 'keep', deleteAfterDays: 0 }] },
    /deleteAfterDays must be a positive integer/,
  ],
  [
    'a bad maxMessages',
    { accounts: [{ ...one, maxMessages: 1.5 }] },
    /maxMessages must be a positive integer/,
  ],
  ['a bad maxBytes', { accounts: [{ ...one, maxBytes: -1 }] }, /maxBytes must be a positive integer/],
  [
    'over 50 referenced secrets outside the prefix',
    { accounts: manySecrets(51, 'elsewhere/') },
    /more than 50 existing secrets .* name them all under secretNamePrefix "pop3-poller\/Pop3Poller\/"/,
  ],
  [
    'a malformed secret name prefix',
    with_({ secretNamePrefix: 'bad prefix' }),
    /secretNamePrefix "bad prefix" may only contain/,
  ],
  [
    'a malformed secret KMS key',
    with_({ secretKmsKeyArns: ['alias/mine'] }),
    /secretKmsKeyArns: "alias\/mine" is not a KMS key ARN/,
  ],
  // schedules
  [
    'an unknown schedule group',
    { accounts: [{ ...one, schedule: 'hourly' }] },
    /account "support" refers to schedule group "hourly", which is not in scheduleGroups \(defined: default\)/,
  ],
  [
    'a malformed rate',
    with_({ scheduleGroups: { default: { expression: 'rate(5 minute)' } } }),
    /schedule group "default": "rate\(5 minute\)": write rate\(5 minutes\)/,
  ],
  [
    'a plural rate of 1',
    with_({ scheduleGroups: { default: { expression: 'rate(1 hours)' } } }),
    /write rate\(1 hour\)/,
  ],
  [
    'a cron with 5 fields',
    { accounts: [{ ...one, schedule: { expression: 'cron(*/5 * * * *)' } }] },
    /account "support" schedule: "cron\(\*\/5 \* \* \* \*\)": cron needs 6 fields/,
  ],
  [
    'a cron with both days set',
    with_({ scheduleGroups: { default: { expression: 'cron(0 12 * * MON *)' } } }),
    /exactly one of day-of-month \("\*"\) and day-of-week \("MON"\) must be "\?"/,
  ],
  [
    'a cron hour out of range',
    with_({ scheduleGroups: { default: { expression: 'cron(0 25 * * ? *)' } } }),
    /hours value 25 is outside 0-23/,
  ],
  [
    'a one-time schedule',
    with_({ scheduleGroups: { default: { expression: 'at(2030-01-01T00:00:00)' } } }),
    /one-time at\(\) schedules are not supported/,
  ],
  [
    'something else',
    with_({ scheduleGroups: { default: { expression: 'every 5 minutes' } } }),
    /"every 5 minutes" is not "rate\(<n> <minutes\|hours\|days>\)" or "cron\(<6 fields>\)"/,
  ],
  [
    'an unknown time zone',
    with_({ scheduleGroups: { default: { expression: 'rate(5 minutes)', timeZone: 'Mars/Olympus' } } }),
    /time zone "Mars\/Olympus" is not an IANA time zone/,
  ],
  [
    'a flexible window over a day',
    with_({ scheduleGroups: { default: { expression: 'rate(5 minutes)', flexibleWindowMinutes: 1441 } } }),
    /flexibleWindowMinutes must be an integer from 1 to 1440/,
  ],
  [
    "more schedule group names than the dispatcher's environment holds",
    {
      accounts: [],
      scheduleGroups: Object.fromEntries(
        Array.from({ length: 80 }, (_, i) => [
          `g${String(i).padStart(2, '0')}`.padEnd(40, 'x'),
          { expression: 'rate(1 hour)' },
        ]),
      ),
      defaultScheduleGroup: 'g00'.padEnd(40, 'x'),
    },
    /scheduleGroups: 80 group names of 3279 characters \(comma-separated\) exceed 3000: the dispatcher's environment/,
  ],
  [
    'a malformed group name',
    {
      accounts: [{ ...one, schedule: 'every 5' }],
      scheduleGroups: { 'every 5': { expression: 'rate(5 minutes)' } },
    },
    /schedule group name "every 5" must match/,
  ],
  [
    'too many schedules and secrets for one stack',
    {
      accounts: Array.from({ length: 200 }, (_, i) => ({
        id: `a${i}`,
        secret: 'create',
        schedule: { expression: 'rate(5 minutes)' },
      })),
    },
    /200 created secrets and 201 schedules exceed 350 resources \(CloudFormation allows 500 per stack\)/,
  ],
  [
    'more schedule input than a template holds',
    {
      accounts: Array.from({ length: 8000 }, (_, i) => ({
        id: `mailbox-${i}`,
        secret: `tenants/a-long-secret-name-for-mailbox-number-${i}`,
      })),
      secretNamePrefix: 'tenants/',
    },
    /characters of schedule input, more than 600000 .* split the accounts over several stacks/,
  ],
  // events
  [
    'an unknown bus type',
    with_({ eventBus: { type: 'partner' as 'custom' } }),
    /eventBus.type must be "custom" or "default"/,
  ],
  [
    'a negative archive retention',
    with_({ eventBus: { archiveRetentionDays: -1 } }),
    /eventBus.archiveRetentionDays must be an integer from 0/,
  ],
  // archive
  [
    'an empty archive prefix',
    with_({ archive: { prefix: '' } }),
    /archive.prefix "" must be non-empty, end in "\/"/,
  ],
  [
    'a prefix without a slash',
    with_({ archive: { prefix: 'mail' } }),
    /archive.prefix "mail" must be non-empty, end in "\/"/,
  ],
  [
    'overlapping prefixes',
    with_({ archive: { prefix: 'data/', statePrefix: 'data/state/' } }),
    /archive.prefix "data\/" and archive.statePrefix "data\/state\/" must not overlap/,
  ],
  [
    'an unknown encryption',
    with_({ archive: { encryption: 'none' as 'aws-managed' } }),
    /archive.encryption must be "aws-managed" or "customer-managed"/,
  ],
  [
    'Object Lock compliance without retention days',
    with_({
      archive: { objectLock: { mode: 'compliance' } as { mode: 'compliance'; retentionDays: number } },
    }),
    /archive.objectLock \(compliance\) needs retentionDays, an integer from 1 to 36500/,
  ],
  [
    'an unknown Object Lock mode',
    with_({ archive: { objectLock: { mode: 'legal-hold' as 'governance', retentionDays: 7 } } }),
    /archive.objectLock.mode must be "governance" or "compliance"/,
  ],
  [
    'expiration before the lock ends',
    with_({
      archive: {
        objectLock: { mode: 'governance', retentionDays: 3650 },
        lifecycle: { expireAfterDays: 365, glacierInstantRetrievalAfterDays: 0 },
      },
    }),
    /expireAfterDays \(365\) is shorter than the Object Lock retention \(3650 days\)/,
  ],
  [
    'expiration before the last transition',
    with_({ archive: { lifecycle: { expireAfterDays: 30 } } }),
    /expireAfterDays \(30\) must come after the last transition \(day 90\)/,
  ],
  [
    'Deep Archive too soon after Glacier IR',
    with_({ archive: { lifecycle: { deepArchiveAfterDays: 120 } } }),
    /deepArchiveAfterDays \(120\) must be at least 90 days after glacierInstantRetrievalAfterDays \(90\)/,
  ],
  [
    'a fractional transition size',
    with_({ archive: { lifecycle: { minTransitionSizeBytes: 0.5 } } }),
    /minTransitionSizeBytes must be an integer/,
  ],
  // worker and dispatcher
  [
    'a worker timeout over 15 minutes',
    with_({ worker: { timeoutSeconds: 901 } }),
    /worker.timeoutSeconds \(901\) is over Lambda's 15-minute limit/,
  ],
  [
    'a timeout that leaves no time to poll',
    with_({ worker: { timeoutSeconds: 50, deadlineMarginSeconds: 30 } }),
    /worker.timeoutSeconds \(50\) must leave at least 30 s of polling after deadlineMarginSeconds \(30\)/,
  ],
  [
    'too little memory',
    with_({ worker: { memoryMiB: 64 } }),
    /worker.memoryMiB must be an integer from 128 to 10240/,
  ],
  [
    'a maxConcurrency of 1',
    with_({ worker: { maxConcurrency: 1 } }),
    /worker.maxConcurrency must be an integer from 2 to 1000/,
  ],
  [
    'reserved concurrency below the event source maximum',
    with_({ worker: { maxConcurrency: 20, reservedConcurrency: 10 } }),
    /worker.reservedConcurrency \(10\) is below worker.maxConcurrency \(20\)/,
  ],
  [
    'a maxReceiveCount of 0',
    with_({ worker: { maxReceiveCount: 0 } }),
    /worker.maxReceiveCount must be an integer from 1 to 1000/,
  ],
  [
    'an old runtime',
    with_({ worker: { runtime: 'nodejs20.x' as 'nodejs22.x' } }),
    /worker.runtime must be "nodejs22.x" or "nodejs24.x"/,
  ],
  [
    'an unknown log level',
    with_({ worker: { logLevel: 'TRACE' as 'INFO' } }),
    /worker.logLevel must be DEBUG, INFO, WARN or ERROR/,
  ],
  [
    'a CA that is not PEM',
    with_({ worker: { extraCaPem: 'MIIB...' } }),
    /worker.extraCaPem must be PEM certificate\(s\)/,
  ],
  [
    'a dispatcher timeout over 15 minutes',
    with_({ dispatcher: { timeoutSeconds: 1000 } }),
    /dispatcher.timeoutSeconds must be an integer from 1 to 900/,
  ],
  // alarms
  [
    'a malformed email',
    with_({ alarms: { emails: ['ops'] } }),
    /alarms.emails: "ops" is not an email address/,
  ],
  [
    'a malformed topic ARN',
    with_({ alarms: { topicArn: 'pager' } }),
    /alarms.topicArn "pager" is not an SNS topic ARN/,
  ],
  [
    'a no-success window over a day',
    with_({ alarms: { noSuccessHours: 25 } }),
    /alarms.noSuccessHours must be an integer from 1 to 24/,
  ],
  // network
  [
    'a static egress IP without a VPC',
    with_({ network: { staticEgressIp: true } }),
    /network.staticEgressIp needs the worker in a VPC with NAT .* set network.vpc to "new"/,
  ],
  [
    'a static egress IP in a VPC without NAT',
    with_({ network: { vpc: 'new', staticEgressIp: true, natGateways: 0 } }),
    /network.staticEgressIp needs NAT gateways .* set network.natGateways to at least 1/,
  ],
  [
    'a new VPC without NAT',
    with_({ network: { vpc: 'new', natGateways: 0 } }),
    /network.natGateways is 0: the worker in a new VPC reaches POP3 servers on the internet only through NAT/,
  ],
  [
    'more NAT gateways than zones',
    with_({ network: { vpc: 'new', natGateways: 3, maxAzs: 2 } }),
    /network.natGateways \(3\) cannot exceed network.maxAzs \(2\)/,
  ],
  [
    'Elastic IPs that do not match the NAT gateways',
    with_({ network: { vpc: 'new', natGateways: 2, eipAllocationIds: ['eipalloc-0123456789abcdef0'] } }),
    /network.eipAllocationIds lists 1 allocations for 2 NAT gateways/,
  ],
  [
    'a malformed Elastic IP allocation',
    with_({ network: { vpc: 'new', eipAllocationIds: ['52.1.2.3'] } }),
    /network.eipAllocationIds: "52.1.2.3" is not an allocation id/,
  ],
  [
    'an existing VPC without subnets',
    with_({ network: { vpc: 'existing', vpcId: 'vpc-0123456789abcdef0' } }),
    /network.privateSubnetIds must list at least one subnet/,
  ],
  [
    'an existing VPC with a malformed id',
    with_({
      network: {
        vpc: 'existing',
        vpcId: 'main',
        privateSubnetIds: ['subnet-01234567'],
        availabilityZones: ['eu-west-1a'],
      },
    }),
    /network.vpcId "main" is not a VPC id/,
  ],
  [
    'subnets without their zones',
    with_({ network: { vpc: 'existing', vpcId: 'vpc-01234567', privateSubnetIds: ['subnet-01234567'] } }),
    /network.availabilityZones must give one availability zone per private subnet/,
  ],
  [
    'VPC settings without a VPC',
    with_({ network: { natGateways: 1, vpcId: 'vpc-01234567' } }),
    /network.natGateways only applies with network.vpc "new"/,
  ],
  [
    'settings of the other kind of VPC',
    with_({ network: { vpc: 'new', vpcId: 'vpc-01234567' } }),
    /network.vpcId only applies with network.vpc "existing"/,
  ],
  [
    'a bad POP3 port',
    with_({ network: { vpc: 'new', pop3Ports: [0] } }),
    /network.pop3Ports must list ports from 1 to 65535/,
  ],
  [
    'an unknown VPC kind',
    with_({ network: { vpc: 'shared' as 'new' } }),
    /network.vpc must be "none", "new" or "existing"/,
  ],
  // logs
  [
    'a log retention CloudWatch does not offer',
    with_({ logRetentionDays: 45 }),
    /logRetentionDays \(45\) must be one of CloudWatch Logs' values/,
  ],
];

describe('Function: resolveConfig (through Pop3Poller at synth)', () => {
  it.each(CASES)('rejects %s', (_name, props, message) => {
    expect(() => buildStack(props)).toThrow(Pop3PollerConfigError);
    expect(() => buildStack(props)).toThrow(message);
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      buildStack({
        accounts: [one, one],
        worker: { timeoutSeconds: 1200 },
        archive: { objectLock: { mode: 'compliance', retentionDays: 0 } },
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Pop3PollerConfigError);
    const problems = (error as Pop3PollerConfigError).problems;
    expect(problems).toHaveLength(3);
    expect((error as Error).message).toMatch(
      /^Invalid Pop3Poller configuration:\n {2}- account id "support"/,
    );
  });

  it('accepts the shipped example configuration', () => {
    expect(() => resolveConfig(config, 'Pop3Poller')).not.toThrow();
  });

  it('applies the documented defaults', () => {
    const resolved = resolveConfig(MINIMAL, 'MyStack');
    expect(resolved).toMatchObject({
      secretNamePrefix: 'pop3-poller/MyStack/',
      grantSecretsByPrefix: false,
      eventBus: { type: 'custom', archiveRetentionDays: 30, exampleRule: true },
      archive: {
        prefix: 'mail/',
        statePrefix: 'state/',
        encryption: 'aws-managed',
        objectLock: undefined,
        glacierInstantRetrievalAfterDays: 90,
        minTransitionSizeBytes: 131072,
        noncurrentVersionExpirationDays: 90,
        accessLogRetentionDays: 365,
      },
      worker: {
        memoryMiB: 512,
        timeoutSeconds: 300,
        deadlineMarginSeconds: 30,
        maxFollowUps: 20,
        maxConcurrency: 20,
        reservedConcurrency: undefined,
        maxReceiveCount: 8,
        runtime: 'nodejs24.x',
      },
      dispatcher: { memoryMiB: 256, timeoutSeconds: 60 },
      alarms: { emails: [], noSuccessHours: 2 },
      network: { vpc: 'none' },
      logRetentionDays: 90,
      dashboard: true,
    });
    expect(resolved.schedules).toEqual([
      expect.objectContaining({ expression: 'rate(5 minutes)', timeZone: 'UTC', enabled: true }),
    ]);
  });
});

describe('Function: scheduleExpressionProblem', () => {
  it.each([
    'rate(1 minute)',
    'rate(5 minutes)',
    'rate(1 hour)',
    'rate(12 hours)',
    'rate(1 day)',
    'rate(7 days)',
    'cron(0 8 * * ? *)',
    'cron(0/15 7-19 ? * MON-FRI *)',
    'cron(30 6 ? * 2#1 *)',
    'cron(0 0 L * ? *)',
    'cron(0 9 15W * ? 2030)',
    'cron(0 18 ? * 6L *)',
    'cron(*/10 * ? * * *)',
    'cron(0 0 1 JAN,JUL ? *)',
  ])('accepts %s', (expression) => {
    expect(scheduleExpressionProblem(expression)).toBeUndefined();
  });

  it.each([
    ['rate(0 minutes)', /at least 1/],
    ['rate(5 weeks)', /is not "rate/],
    ['rate(5minutes)', /is not "rate/],
    ['cron(61 * * * ? *)', /minutes value 61/],
    ['cron(0 0 32 * ? *)', /day-of-month value 32/],
    ['cron(0 0 ? 13 MON *)', /month value 13/],
    ['cron(0 0 ? * FUNDAY *)', /day-of-week field "FUNDAY" is malformed/],
    ['cron(0 0 ? * 8 *)', /day-of-week value 8/],
    ['cron(0 0 1 * ? 1969)', /year value 1969/],
    ['cron(0 0 ? * ? *)', /exactly one of/],
    ['cron(a b c d e f)', /malformed/],
  ])('rejects %s', (expression, problem) => {
    expect(scheduleExpressionProblem(expression)).toMatch(problem);
  });
});

describe('Function: isTimeZone', () => {
  it.each(['UTC', 'Etc/UTC', 'Europe/Paris', 'America/Argentina/Buenos_Aires', 'Asia/Kolkata'])(
    'accepts %s',
    (tz) => {
      expect(isTimeZone(tz)).toBe(true);
    },
  );
  it.each(['Mars/Olympus', 'Europe/Pariss', '', 'UTC+2', '../etc'])('rejects %s', (tz) => {
    expect(isTimeZone(tz)).toBe(false);
  });
});

const REGISTRY_FIELDS = {
  registryGroup: 'g'.repeat(40),
  defaultGroup: true,
  scheduledTime: '<aws.scheduler.scheduled-time>',
};

describe('Function: chunkJobs', () => {
  it('keeps every input under the limit, in order, each job exactly once', () => {
    const jobs: PollJob[] = Array.from({ length: 500 }, (_, i) => ({
      accountId: `account-${i}`,
      secretId: `arn:aws:secretsmanager:eu-west-1:111122223333:secret:tenants/account-${i}-AbCdEf`,
      mode: 'keep' as const,
    }));
    const chunks = chunkJobs(jobs);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      // The largest input a chunk can be part of: a 40-character group name, the default group.
      const input = JSON.stringify({ jobs: chunk, ...REGISTRY_FIELDS });
      expect(input.length).toBeLessThanOrEqual(MAX_SCHEDULE_INPUT_CHARS);
      // Full: one more job would not have fitted (except in the last chunk).
      if (chunk !== chunks.at(-1)) {
        const next = jobs[jobs.indexOf(chunk.at(-1)!) + 1]!;
        const bigger = JSON.stringify({ jobs: [...chunk, next], ...REGISTRY_FIELDS });
        expect(bigger.length).toBeGreaterThan(MAX_SCHEDULE_INPUT_CHARS);
      }
    }
    expect(chunks.flat()).toEqual(jobs);
  });

  it('returns one chunk for a few jobs and none for none', () => {
    expect(chunkJobs([{ accountId: 'a', secretId: 's' }])).toHaveLength(1);
    expect(chunkJobs([])).toEqual([]);
  });
});
