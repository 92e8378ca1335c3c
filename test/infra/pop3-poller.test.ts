import { Duration } from 'aws-cdk-lib';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { ENV as CONTRACT_ENV, type DispatchInput } from '../../functions/handlers/contract';
import { WRITEBACK_TAG } from '../../functions/adapters/shared-secret';
import { noSuccessfulPollExpression } from '../../infra/constructs/alarms';
import { METRICS } from '../../infra/pop3-poller';
import type { Pop3PollerProps } from '../../infra/props';
import { MAX_SCHEDULE_INPUT_CHARS } from '../../infra/validation';
import { buildStack, MINIMAL, synthTemplate } from '../support/cdk-app';

/** Fine-grained assertions on the synthesized template: what matters, not a snapshot. */

const REFERENCED_ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:mail/billing-AbCdEf';

const BASE: Pop3PollerProps = {
  accounts: [
    { id: 'support', secret: 'create' },
    { id: 'sales', secret: 'mail/sales', mode: 'keep', deleteAfterDays: 30, maxMessages: 200 },
    {
      id: 'billing',
      secret: REFERENCED_ARN,
      provider: 'outlook',
      schedule: { expression: 'cron(0/15 7-19 ? * MON-FRI *)', timeZone: 'Europe/Paris' },
    },
  ],
};

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** Every statement of every IAM policy in the template, with the policy's logical id. */
function statements(template: Template): Array<Statement & { policy: string }> {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.entries(policies).flatMap(([policy, resource]) =>
    (resource.Properties.PolicyDocument.Statement as Statement[]).map((s) => ({ ...s, policy })),
  );
}

const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOf = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

function withAction(template: Template, action: string): Array<Statement & { policy: string }> {
  return statements(template).filter((s) => actionsOf(s).includes(action));
}

function logicalId(template: Template, type: string, props: Record<string, unknown> = {}): string {
  const found = Object.keys(template.findResources(type, { Properties: Match.objectLike(props) }));
  expect(found).toHaveLength(1);
  return found[0]!;
}

function scheduleInputs(template: Template): DispatchInput[] {
  return Object.values(template.findResources('AWS::Scheduler::Schedule')).map(
    (r) => JSON.parse(r.Properties.Target.Input as string) as DispatchInput,
  );
}

describe('Construct: Pop3Poller', () => {
  describe('with defaults', () => {
    let template: Template;
    let bucket: string;
    let logBucket: string;
    let worker: string;
    let dispatcher: string;
    let jobQueue: string;
    let jobDlq: string;
    let bus: string;

    beforeAll(() => {
      template = synthTemplate(BASE).template;
      bucket = logicalId(template, 'AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
      logBucket = logicalId(template, 'AWS::S3::Bucket', {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }),
          ],
        },
      });
      worker = logicalId(template, 'AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('polls a batch'),
      });
      dispatcher = logicalId(template, 'AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('enqueues'),
      });
      jobQueue = logicalId(template, 'AWS::SQS::Queue', { FifoQueue: true, RedrivePolicy: Match.anyValue() });
      jobDlq = logicalId(template, 'AWS::SQS::Queue', { FifoQueue: true, RedrivePolicy: Match.absent() });
      bus = logicalId(template, 'AWS::Events::EventBus');
    });

    describe('archive bucket', () => {
      it('blocks public access, enforces TLS 1.2, and owns its objects', () => {
        template.hasResourceProperties('AWS::S3::Bucket', {
          VersioningConfiguration: { Status: 'Enabled' },
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        });
        template.hasResourceProperties('AWS::S3::BucketPolicy', {
          Bucket: { Ref: bucket },
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Action: 's3:*',
                Principal: { AWS: '*' },
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
              Match.objectLike({
                Effect: 'Deny',
                Action: 's3:*',
                Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
              }),
            ]),
          },
        });
      });

      it('encrypts with SSE-KMS (aws/s3) and an S3 Bucket Key', () => {
        template.hasResourceProperties('AWS::S3::Bucket', {
          VersioningConfiguration: { Status: 'Enabled' },
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              {
                BucketKeyEnabled: true,
                ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.absent() },
              },
            ],
          },
        });
        template.resourceCountIs('AWS::KMS::Key', 0);
      });

      it('is retained when the stack is deleted, and so is its access-log bucket', () => {
        for (const id of [bucket, logBucket]) {
          expect(template.toJSON().Resources[id]).toMatchObject({
            DeletionPolicy: 'Retain',
            UpdateReplacePolicy: 'Retain',
          });
        }
      });

      it('logs server access to the separate log bucket, itself locked down and expiring', () => {
        template.hasResourceProperties('AWS::S3::Bucket', {
          VersioningConfiguration: { Status: 'Enabled' },
          LoggingConfiguration: {
            DestinationBucketName: { Ref: logBucket },
            LogFilePrefix: 'archive-bucket/',
          },
        });
        template.hasResourceProperties('AWS::S3::Bucket', {
          PublicAccessBlockConfiguration: Match.objectLike({
            BlockPublicAcls: true,
            RestrictPublicBuckets: true,
          }),
          LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 365, Status: 'Enabled' })] },
        });
        template.hasResourceProperties('AWS::S3::BucketPolicy', {
          Bucket: { Ref: logBucket },
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            ]),
          },
        });
      });

      it('moves only objects over 128 KB to Glacier Instant Retrieval, and cleans up', () => {
        const rules = template.toJSON().Resources[bucket].Properties.LifecycleConfiguration.Rules as Array<
          Record<string, unknown>
        >;
        expect(rules).toEqual(
          expect.arrayContaining([
            expect.objectContaining({
              Id: 'archive-transitions',
              Prefix: 'mail/',
              // A string, as CloudFormation types it.
              ObjectSizeGreaterThan: '131072',
              Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
            }),
            expect.objectContaining({
              Id: 'abort-incomplete-multipart-uploads',
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            }),
            expect.objectContaining({
              Id: 'archive-noncurrent-versions',
              NoncurrentVersionExpiration: { NoncurrentDays: 90 },
            }),
          ]),
        );
        // Nothing transitions regardless of size, and nothing expires by default.
        for (const rule of rules) {
          if (rule.Transitions) expect(Number(rule.ObjectSizeGreaterThan)).toBeGreaterThanOrEqual(131072);
          expect(rule.ExpirationInDays).toBeUndefined();
        }
      });

      it('has no Object Lock unless asked for', () => {
        template.hasResourceProperties('AWS::S3::Bucket', {
          VersioningConfiguration: { Status: 'Enabled' },
          ObjectLockEnabled: Match.absent(),
          ObjectLockConfiguration: Match.absent(),
        });
      });
    });

    describe('Lambdas', () => {
      it('run Node.js 24 on ARM64 with the configured timeout and memory', () => {
        template.hasResourceProperties('AWS::Lambda::Function', {
          Description: Match.stringLikeRegexp('polls a batch'),
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          Timeout: 300,
          MemorySize: 512,
        });
        template.hasResourceProperties('AWS::Lambda::Function', {
          Description: Match.stringLikeRegexp('enqueues'),
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          Timeout: 60,
          MemorySize: 256,
        });
        for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
          expect(fn.Properties.Runtime).toMatch(/^nodejs(22|24)\.x$/);
        }
      });

      it('give the worker every setting of the contract, and no secret', () => {
        const env = template.toJSON().Resources[worker].Properties.Environment.Variables as Record<
          string,
          unknown
        >;
        expect(env).toMatchObject({
          [CONTRACT_ENV.ARCHIVE_BUCKET]: { Ref: bucket },
          [CONTRACT_ENV.ARCHIVE_PREFIX]: 'mail/',
          [CONTRACT_ENV.STATE_PREFIX]: 'state/',
          [CONTRACT_ENV.EVENT_BUS_NAME]: { Ref: bus },
          [CONTRACT_ENV.JOB_QUEUE_URL]: { Ref: jobQueue },
          [CONTRACT_ENV.DEADLINE_MARGIN_SECONDS]: '30',
          [CONTRACT_ENV.MAX_FOLLOW_UPS]: '20',
          POWERTOOLS_SERVICE_NAME: METRICS.workerService,
          POWERTOOLS_METRICS_NAMESPACE: METRICS.namespace,
          NODE_OPTIONS: '--enable-source-maps',
        });
        // The bucket default (aws/s3) applies: the worker sends no key id.
        expect(env[CONTRACT_ENV.ARCHIVE_KMS_KEY_ID]).toBeUndefined();
        expect(JSON.stringify(env)).not.toMatch(/password/i);
      });

      it('give the dispatcher the queue URL, two async retries, then the dispatch dead-letter queue', () => {
        template.hasResourceProperties('AWS::Lambda::Function', {
          Description: Match.stringLikeRegexp('enqueues'),
          Environment: {
            Variables: Match.objectLike({
              [CONTRACT_ENV.JOB_QUEUE_URL]: { Ref: jobQueue },
              POWERTOOLS_SERVICE_NAME: METRICS.dispatcherService,
            }),
          },
        });
        const dispatchDlq = logicalId(template, 'AWS::SQS::Queue', {
          FifoQueue: Match.absent(),
          MessageRetentionPeriod: 1209600,
        });
        template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
          FunctionName: { Ref: dispatcher },
          MaximumRetryAttempts: 2,
          DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dispatchDlq, 'Arn'] } } },
        });
      });

      it('feed the worker one job at a time, reporting item failures, with bounded concurrency', () => {
        template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          FunctionName: { Ref: worker },
          EventSourceArn: { 'Fn::GetAtt': [jobQueue, 'Arn'] },
          BatchSize: 1,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          ScalingConfig: { MaximumConcurrency: 20 },
        });
        template.hasResourceProperties('AWS::Lambda::Function', {
          Description: Match.stringLikeRegexp('polls a batch'),
          ReservedConcurrentExecutions: Match.absent(),
        });
      });

      it('log to their own log groups with a retention', () => {
        template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 90 }, 2);
        template.hasResourceProperties('AWS::Lambda::Function', {
          Description: Match.stringLikeRegexp('polls a batch'),
          LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('WorkerLogGroup') } },
        });
      });
    });

    describe('job queue', () => {
      it('is FIFO without content-based de-duplication, high-throughput, encrypted', () => {
        template.hasResourceProperties('AWS::SQS::Queue', {
          FifoQueue: true,
          ContentBasedDeduplication: false,
          DeduplicationScope: 'messageGroup',
          FifoThroughputLimit: 'perMessageGroupId',
          SqsManagedSseEnabled: true,
          RedrivePolicy: Match.anyValue(),
        });
      });

      it('keeps a job invisible for 6× the worker timeout', () => {
        template.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, VisibilityTimeout: 6 * 300 });
      });

      it('moves a job to a FIFO dead-letter queue after 8 receives', () => {
        template.hasResourceProperties('AWS::SQS::Queue', {
          FifoQueue: true,
          RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [jobDlq, 'Arn'] }, maxReceiveCount: 8 },
        });
        template.hasResourceProperties('AWS::SQS::Queue', {
          FifoQueue: true,
          RedrivePolicy: Match.absent(),
          MessageRetentionPeriod: 14 * 86400,
          SqsManagedSseEnabled: true,
        });
      });

      it('refuses requests without TLS, on every queue', () => {
        const queues = Object.keys(template.findResources('AWS::SQS::Queue'));
        for (const queue of queues) {
          template.hasResourceProperties('AWS::SQS::QueuePolicy', {
            Queues: [{ Ref: queue }],
            PolicyDocument: {
              Statement: Match.arrayWith([
                Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
              ]),
            },
          });
        }
      });
    });

    describe('schedules', () => {
      it('run a group on its rate in UTC and an account on its own cron in its time zone', () => {
        template.hasResourceProperties('AWS::Scheduler::Schedule', {
          ScheduleExpression: 'rate(5 minutes)',
          ScheduleExpressionTimezone: 'UTC',
          State: 'ENABLED',
          FlexibleTimeWindow: { Mode: 'OFF' },
          GroupName: Match.stringLikeRegexp('ScheduleGroup'),
        });
        template.hasResourceProperties('AWS::Scheduler::Schedule', {
          ScheduleExpression: 'cron(0/15 7-19 ? * MON-FRI *)',
          ScheduleExpressionTimezone: 'Europe/Paris',
        });
      });

      it('invoke the dispatcher with a DispatchInput naming each account once, and the run time', () => {
        template.hasResourceProperties('AWS::Scheduler::Schedule', {
          Target: {
            Arn: { 'Fn::GetAtt': [dispatcher, 'Arn'] },
            RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('SchedulerRole'), 'Arn'] },
            DeadLetterConfig: { Arn: Match.anyValue() },
            RetryPolicy: { MaximumRetryAttempts: 5, MaximumEventAgeInSeconds: 900 },
            Input: Match.anyValue(),
          },
        });
        const inputs = scheduleInputs(template);
        expect(inputs).toEqual(
          expect.arrayContaining([
            {
              jobs: [
                {
                  accountId: 'sales',
                  secretId: 'mail/sales',
                  mode: 'keep',
                  deleteAfterDays: 30,
                  maxMessages: 200,
                },
                { accountId: 'support', secretId: 'pop3-poller/Pop3Poller/support' },
              ],
              // The group's registry mailboxes too, and those naming no schedule (the default group).
              registryGroup: 'default',
              defaultGroup: true,
              scheduledTime: '<aws.scheduler.scheduled-time>',
            },
            {
              jobs: [{ accountId: 'billing', secretId: REFERENCED_ARN, provider: 'outlook' }],
              scheduledTime: '<aws.scheduler.scheduled-time>',
            },
          ]),
        );
        expect(inputs.flatMap((i) => i.jobs.map((j) => j.accountId)).sort()).toEqual([
          'billing',
          'sales',
          'support',
        ]);
      });

      it('assume a role that only Scheduler, for this schedule group, can assume', () => {
        template.hasResourceProperties('AWS::IAM::Role', {
          AssumeRolePolicyDocument: {
            Statement: [
              Match.objectLike({
                Principal: { Service: 'scheduler.amazonaws.com' },
                Condition: {
                  StringEquals: {
                    'aws:SourceAccount': '111122223333',
                    'aws:SourceArn': { 'Fn::GetAtt': [Match.stringLikeRegexp('ScheduleGroup'), 'Arn'] },
                  },
                },
              }),
            ],
          },
        });
      });
    });

    describe('least privilege', () => {
      it('grants no Resource "*" for data-plane actions', () => {
        for (const action of [
          's3:PutObject',
          's3:GetObject',
          'secretsmanager:GetSecretValue',
          'events:PutEvents',
          'sqs:SendMessage',
          'kms:Decrypt',
        ]) {
          for (const statement of withAction(template, action)) {
            expect(resourcesOf(statement)).not.toContain('*');
          }
        }
        // And no action wildcards at all.
        for (const statement of statements(template)) {
          for (const action of actionsOf(statement)) expect(action).not.toMatch(/\*/);
        }
      });

      it('lets the worker read exactly the configured secrets and those under the prefix', () => {
        const [statement, ...more] = withAction(template, 'secretsmanager:GetSecretValue');
        expect(more).toHaveLength(0);
        expect(actionsOf(statement!)).toEqual(['secretsmanager:GetSecretValue']);
        expect(statement!.Condition).toBeUndefined();
        expect(resourcesOf(statement!).sort()).toEqual(
          [
            // Created secrets, and the CLI's shared secrets for registry mailboxes.
            'arn:aws:secretsmanager:eu-west-1:111122223333:secret:pop3-poller/Pop3Poller/*',
            'arn:aws:secretsmanager:eu-west-1:111122223333:secret:mail/sales-??????',
            // A complete ARN (with its suffix) or a partial one: one of the two matches.
            REFERENCED_ARN,
            `${REFERENCED_ARN}-??????`,
          ].sort(),
        );
      });

      it('lets the worker write back rotated refresh tokens only to secrets tagged for it', () => {
        const [read] = withAction(template, 'secretsmanager:GetSecretValue');
        const [statement, ...more] = withAction(template, 'secretsmanager:PutSecretValue');
        expect(more).toHaveLength(0);
        expect(actionsOf(statement!)).toEqual(['secretsmanager:PutSecretValue']);
        expect(statement!.Resource).toEqual(read!.Resource);
        expect(statement!.Condition).toEqual({
          StringEquals: { [`secretsmanager:ResourceTag/${WRITEBACK_TAG}`]: 'true' },
        });
        expect(WRITEBACK_TAG).toBe('pop3-poller:writeback');
      });

      it('lets the worker write and read objects only under the archive and state prefixes', () => {
        const [statement, ...more] = withAction(template, 's3:PutObject');
        expect(more).toHaveLength(0);
        expect(actionsOf(statement!).sort()).toEqual([
          's3:AbortMultipartUpload',
          's3:GetObject',
          's3:PutObject',
        ]);
        expect(resourcesOf(statement!)).toEqual([
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/mail/*']] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/state/*']] },
        ]);
        // No ListBucket: a missing state object reads as a 403, which the state store handles.
        expect(withAction(template, 's3:ListBucket')).toEqual([]);
        for (const s of statements(template)) {
          for (const action of actionsOf(s))
            expect(action).not.toMatch(/^s3:(Delete|PutBucket|PutObjectRetention)/);
        }
      });

      it('lets the worker put events only on its bus, only as source pop3-poller', () => {
        const [statement, ...more] = withAction(template, 'events:PutEvents');
        expect(more).toHaveLength(0);
        expect(statement).toMatchObject({
          Resource: { 'Fn::GetAtt': [bus, 'Arn'] },
          Condition: { StringEquals: { 'events:source': 'pop3-poller' } },
        });
      });

      it('lets the dispatcher and the worker send only to the job queue (and the dispatcher to its DLQ)', () => {
        const sends = withAction(template, 'sqs:SendMessage');
        const jobQueueArn = { 'Fn::GetAtt': [jobQueue, 'Arn'] };
        const targets = sends.map((s) => JSON.stringify(s.Resource));
        expect(targets.filter((t) => t === JSON.stringify(jobQueueArn))).toHaveLength(2);
        for (const s of sends) expect(JSON.stringify(s.Resource)).toMatch(/JobQueue|DispatchDeadLetterQueue/);
      });

      it('uses no managed policy on the Lambda roles, only their own log groups', () => {
        for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
          expect(role.Properties.ManagedPolicyArns).toBeUndefined();
        }
        const logs = withAction(template, 'logs:PutLogEvents');
        expect(logs).toHaveLength(2);
        for (const s of logs) expect(JSON.stringify(s.Resource)).toMatch(/LogGroup.*Arn/);
      });
    });

    describe('events', () => {
      it('publishes to a custom bus, archived for 30 days for replay', () => {
        template.resourceCountIs('AWS::Events::EventBus', 1);
        template.hasResourceProperties('AWS::Events::Archive', {
          SourceArn: { 'Fn::GetAtt': [bus, 'Arn'] },
          RetentionDays: 30,
          EventPattern: { source: ['pop3-poller'] },
        });
      });

      it('routes "Message Archived" to the sample queue with the example rule', () => {
        template.hasResourceProperties('AWS::Events::Rule', {
          EventBusName: { Ref: bus },
          EventPattern: { source: ['pop3-poller'], 'detail-type': ['Message Archived'] },
          Targets: [
            Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('SampleQueue'), 'Arn'] } }),
          ],
        });
      });
    });

    describe('alarms', () => {
      it('watch worker errors, both dead-letter queues, NeedsAttention and the queue age', () => {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: worker } }],
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        });
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [jobDlq, 'QueueName'] } }],
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        });
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'Pop3Poller',
          MetricName: 'NeedsAttention',
          Dimensions: [{ Name: 'service', Value: METRICS.workerService }],
          Statistic: 'Sum',
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        });
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: 'ApproximateAgeOfOldestMessage',
          Threshold: 3600,
        });
        template.resourceCountIs('AWS::CloudWatch::Alarm', 8);
      });

      it('raise "no successful poll" only when mailboxes were dispatched or polled and none succeeded for 2 hours', () => {
        const found = Object.values(
          template.findResources('AWS::CloudWatch::Alarm', {
            Properties: Match.objectLike({ ComparisonOperator: 'LessThanThreshold' }),
          }),
        );
        expect(found).toHaveLength(1);
        const alarm = found[0]!.Properties as { Metrics: Record<string, unknown>[] };
        expect(alarm).toMatchObject({
          Threshold: 1,
          EvaluationPeriods: 2,
          DatapointsToAlarm: 2,
          TreatMissingData: 'notBreaching',
        });
        const hourlySum = (id: string, name: string, service: string) => ({
          Id: id,
          MetricStat: {
            Metric: {
              Namespace: 'Pop3Poller',
              MetricName: name,
              Dimensions: [{ Name: 'service', Value: service }],
            },
            Period: 3600,
            Stat: 'Sum',
          },
          ReturnData: false,
        });
        expect(alarm.Metrics).toHaveLength(4);
        expect(alarm.Metrics).toEqual(
          expect.arrayContaining([
            expect.objectContaining({
              Expression: 'IF(FILL(dispatched, 0) + FILL(polls, 0) > 0, FILL(polls, 0) - FILL(failed, 0), 1)',
            }),
            hourlySum('dispatched', 'JobsEnqueued', METRICS.dispatcherService),
            hourlySum('polls', 'Polls', METRICS.workerService),
            hourlySum('failed', 'PollErrors', METRICS.workerService),
          ]),
        );
      });

      it('"no successful poll": its expression is healthy with no mailboxes, breaching when polls fail or never run', () => {
        const { expression } = noSuccessfulPollExpression(Duration.hours(1));
        // The expression's CloudWatch semantics for one period, with FILL(x, 0) and IF(c, a, b):
        // undefined stands for "no data point in that period".
        const value = (dispatched?: number, polls?: number, failed?: number): number =>
          new Function(
            'dispatched',
            'polls',
            'failed',
            `const FILL = (x, v) => (x === undefined ? v : x); const IF = (c, a, b) => (c ? a : b); return ${expression};`,
          )(dispatched, polls, failed) as number;
        const breaching = (v: number) => v < 1; // LessThanThreshold 1
        expect(breaching(value(0))).toBe(false); // registry-only stack, no mailboxes: the dispatcher reports 0
        expect(breaching(value(120, 120, 120))).toBe(true); // every poll fails
        expect(breaching(value(120))).toBe(true); // dispatched, the worker never ran
        expect(breaching(value(undefined, 12, 12))).toBe(true); // polls of the last hour's dispatch, all failed
        expect(breaching(value(120, 120, 119))).toBe(false); // one success is enough
        expect(breaching(value(undefined, 12))).toBe(false);
      });

      it('raise "orphaned mailboxes" on the dispatcher\'s count of records naming no group, keeping its state between ticks', () => {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'Pop3Poller',
          MetricName: 'OrphanedMailboxes',
          Dimensions: [{ Name: 'service', Value: METRICS.dispatcherService }],
          Statistic: 'Maximum',
          Period: 3600,
          Threshold: 1,
          EvaluationPeriods: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'ignore',
        });
      });

      it('notify nobody unless asked', () => {
        template.resourceCountIs('AWS::SNS::Topic', 0);
        for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
          expect(alarm.Properties.AlarmActions).toBeUndefined();
        }
      });

      it("come with a dashboard, showing the dispatcher's mailboxes enqueued and orphaned", () => {
        template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
        const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
        expect(body).toContain('\\"JobsEnqueued\\"');
        expect(body).toContain('\\"OrphanedMailboxes\\"');
      });
    });

    describe('secrets', () => {
      it('creates an empty placeholder secret per "create" account, named under the prefix, retained', () => {
        template.resourceCountIs('AWS::SecretsManager::Secret', 1);
        const [id, secret] = Object.entries(template.findResources('AWS::SecretsManager::Secret'))[0]!;
        expect(secret.Properties.Name).toBe('pop3-poller/Pop3Poller/support');
        expect(JSON.parse(secret.Properties.SecretString as string)).toEqual({
          host: '',
          port: '995',
          tls: 'implicit',
          username: '',
          password: '',
        });
        expect(secret.DeletionPolicy).toBe('Retain');
        template.hasOutput('*', {
          Value: 'pop3-poller/Pop3Poller/support',
          Description: Match.stringLikeRegexp('created empty'),
        });
        expect(id).toMatch(/Secretsupport/);
      });
    });

    it('creates no VPC', () => {
      template.resourceCountIs('AWS::EC2::VPC', 0);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('polls a batch'),
        VpcConfig: Match.absent(),
      });
    });
  });

  it('is one statement for a minimal deployment', () => {
    const { template } = synthTemplate(MINIMAL);
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
    template.resourceCountIs('AWS::Lambda::Function', 2);
  });

  describe('with a customer-managed key', () => {
    let template: Template;
    let key: string;
    beforeAll(() => {
      template = synthTemplate({
        ...MINIMAL,
        archive: { encryption: 'customer-managed' },
        alarms: { emails: ['ops@example.com'] },
      }).template;
      key = logicalId(template, 'AWS::KMS::Key');
    });

    it('rotates the key and keeps it when the stack goes', () => {
      template.hasResource('AWS::KMS::Key', {
        Properties: Match.objectLike({ EnableKeyRotation: true }),
        DeletionPolicy: 'Retain',
      });
    });

    it('encrypts the bucket with it, and tells the worker', () => {
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: {
                SSEAlgorithm: 'aws:kms',
                KMSMasterKeyID: { 'Fn::GetAtt': [key, 'Arn'] },
              },
            },
          ],
        },
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('polls a batch'),
        Environment: {
          Variables: Match.objectLike({ [CONTRACT_ENV.ARCHIVE_KMS_KEY_ID]: { 'Fn::GetAtt': [key, 'Arn'] } }),
        },
      });
    });

    it('lets the worker use the key only through S3 (and DynamoDB, for the registry)', () => {
      const [statement, registry, ...more] = withAction(template, 'kms:GenerateDataKey').sort((a, b) =>
        String(a.Sid).localeCompare(String(b.Sid)),
      );
      expect(more).toHaveLength(0);
      expect(registry).toMatchObject({
        Sid: 'RegistryKeyThroughDynamoDb',
        Resource: { 'Fn::GetAtt': [key, 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': 'dynamodb.eu-west-1.amazonaws.com' } },
      });
      expect(actionsOf(statement!).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
      expect(statement).toMatchObject({
        Resource: { 'Fn::GetAtt': [key, 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } },
      });
    });

    it('encrypts the alarm topic with it, and lets CloudWatch publish', () => {
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] } });
      template.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
              // Only for this account's alarms (confused deputy).
              Condition: { StringEquals: { 'aws:SourceAccount': '111122223333' } },
            }),
          ]),
        },
      });
    });
  });

  describe('with Object Lock', () => {
    it.each([
      ['governance', 'GOVERNANCE'],
      ['compliance', 'COMPLIANCE'],
    ] as const)('%s mode sets a default retention', (mode, cfnMode) => {
      const { template } = synthTemplate({
        ...MINIMAL,
        archive: { objectLock: { mode, retentionDays: 365 } },
      });
      template.hasResourceProperties('AWS::S3::Bucket', {
        ObjectLockEnabled: true,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: cfnMode, Days: 365 } },
        },
        VersioningConfiguration: { Status: 'Enabled' },
      });
    });

    it('warns that keep-mode state versions are locked too', () => {
      const stack = buildStack({
        accounts: [{ id: 'a', secret: 'create', mode: 'keep' }],
        archive: { objectLock: { mode: 'governance', retentionDays: 30 } },
      });
      Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('keep-mode state'));
    });
  });

  describe('with lifecycle settings', () => {
    it('adds Deep Archive and expiration, and drops the transition when set to 0', () => {
      let { template } = synthTemplate({
        ...MINIMAL,
        archive: {
          lifecycle: { deepArchiveAfterDays: 365, expireAfterDays: 3650, minTransitionSizeBytes: 262144 },
        },
      });
      template.hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({
              Id: 'archive-transitions',
              ObjectSizeGreaterThan: '262144',
              Transitions: [
                { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
                { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 365 },
              ],
            }),
            Match.objectLike({ Id: 'archive-expiration', Prefix: 'mail/', ExpirationInDays: 3650 }),
          ]),
        },
      });
      ({ template } = synthTemplate({
        ...MINIMAL,
        archive: { lifecycle: { glacierInstantRetrievalAfterDays: 0 } },
      }));
      const rules = Object.values(template.findResources('AWS::S3::Bucket')).flatMap(
        (b) => (b.Properties.LifecycleConfiguration?.Rules ?? []) as Array<{ Transitions?: unknown }>,
      );
      expect(rules.some((r) => r.Transitions)).toBe(false);
    });
  });

  describe('with the default event bus', () => {
    let template: Template;
    beforeAll(() => {
      template = synthTemplate({
        ...MINIMAL,
        eventBus: { type: 'default', archiveRetentionDays: 0, exampleRule: false },
      }).template;
    });

    it('creates no bus, no archive and no example rule', () => {
      template.resourceCountIs('AWS::Events::EventBus', 0);
      template.resourceCountIs('AWS::Events::Archive', 0);
      template.resourceCountIs('AWS::Events::Rule', 0);
    });

    it('points the worker at "default" and grants PutEvents on that bus only', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('polls a batch'),
        Environment: { Variables: Match.objectLike({ [CONTRACT_ENV.EVENT_BUS_NAME]: 'default' }) },
      });
      const [statement] = withAction(template, 'events:PutEvents');
      expect(JSON.stringify(statement!.Resource)).toMatch(
        /:events:eu-west-1:111122223333:event-bus\/default"/,
      );
    });
  });

  describe('with alarm notifications', () => {
    it('creates a TLS-only topic with email subscriptions that every alarm notifies', () => {
      const { template } = synthTemplate({
        ...MINIMAL,
        alarms: {
          emails: ['ops@example.com', 'oncall@example.com'],
          topicArn: 'arn:aws:sns:eu-west-1:111122223333:pager',
        },
      });
      const topic = logicalId(template, 'AWS::SNS::Topic');
      template.resourcePropertiesCountIs('AWS::SNS::Subscription', { Protocol: 'email' }, 2);
      template.hasResourceProperties('AWS::SNS::Subscription', {
        Endpoint: 'ops@example.com',
        TopicArn: { Ref: topic },
      });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
      expect(alarms).toHaveLength(8);
      for (const alarm of alarms) {
        expect(alarm.Properties.AlarmActions).toEqual([
          { Ref: topic },
          'arn:aws:sns:eu-west-1:111122223333:pager',
        ]);
        expect(alarm.Properties.OKActions).toEqual([
          { Ref: topic },
          'arn:aws:sns:eu-west-1:111122223333:pager',
        ]);
      }
    });
  });

  describe('in a new VPC with NAT', () => {
    let template: Template;
    beforeAll(() => {
      template = synthTemplate({
        ...MINIMAL,
        network: { vpc: 'new', staticEgressIp: true, natGateways: 2 },
      }).template;
    });

    it('places the worker (only) in private subnets behind NAT gateways with Elastic IPs', () => {
      template.resourceCountIs('AWS::EC2::VPC', 1);
      template.resourceCountIs('AWS::EC2::NatGateway', 2);
      template.resourceCountIs('AWS::EC2::EIP', 2);
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('polls a batch'),
        VpcConfig: { SubnetIds: Match.anyValue(), SecurityGroupIds: [Match.anyValue()] },
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('enqueues'),
        VpcConfig: Match.absent(),
      });
      const eips = Object.keys(template.findResources('AWS::EC2::EIP'));
      for (const eip of eips) {
        template.hasResourceProperties('AWS::EC2::NatGateway', {
          AllocationId: { 'Fn::GetAtt': [eip, 'AllocationId'] },
        });
      }
      template.hasOutput('*', { Value: { 'Fn::Join': [', ', eips.map((e) => ({ Ref: e }))] } });
    });

    it('lets the worker out only to HTTPS and the POP3 ports, and nothing in', () => {
      template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        GroupDescription: Match.stringLikeRegexp('Pop3Poller worker'),
        SecurityGroupEgress: [
          Match.objectLike({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
          Match.objectLike({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 110, ToPort: 110 }),
          Match.objectLike({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 995, ToPort: 995 }),
        ],
        SecurityGroupIngress: Match.absent(),
      });
    });

    it('sends S3 traffic through a gateway endpoint and logs rejected flows', () => {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }),
      });
      template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
    });

    it('gives the worker role the VPC access policy', () => {
      template.hasResourceProperties('AWS::IAM::Role', {
        ManagedPolicyArns: [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
              ],
            ],
          },
        ],
      });
    });

    it('uses given Elastic IP allocations instead of new ones', () => {
      const { template: t } = synthTemplate({
        ...MINIMAL,
        network: { vpc: 'new', natGateways: 1, eipAllocationIds: ['eipalloc-0123456789abcdef0'] },
      });
      t.resourceCountIs('AWS::EC2::EIP', 0);
      t.hasResourceProperties('AWS::EC2::NatGateway', { AllocationId: 'eipalloc-0123456789abcdef0' });
    });
  });

  it('uses an existing VPC without a lookup', () => {
    const { template } = synthTemplate({
      ...MINIMAL,
      network: {
        vpc: 'existing',
        vpcId: 'vpc-0123456789abcdef0',
        privateSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
        availabilityZones: ['eu-west-1a', 'eu-west-1b'],
        pop3Ports: [995],
      },
    });
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('polls a batch'),
      VpcConfig: {
        SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
        SecurityGroupIds: Match.anyValue(),
      },
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      VpcId: 'vpc-0123456789abcdef0',
      SecurityGroupEgress: [
        Match.objectLike({ FromPort: 443 }),
        Match.objectLike({ FromPort: 995, ToPort: 995 }),
      ],
    });
  });

  describe('worker settings', () => {
    it('follow the configuration, the visibility timeout staying 6× the timeout', () => {
      const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
      const { template } = synthTemplate({
        ...MINIMAL,
        worker: {
          timeoutSeconds: 900,
          memoryMiB: 1024,
          maxConcurrency: 50,
          reservedConcurrency: 60,
          maxReceiveCount: 3,
          runtime: 'nodejs22.x',
          deadlineMarginSeconds: 45,
          maxFollowUps: 5,
          extraCaPem: pem,
        },
        logRetentionDays: 30,
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('polls a batch'),
        Timeout: 900,
        MemorySize: 1024,
        Runtime: 'nodejs22.x',
        ReservedConcurrentExecutions: 60,
        Environment: {
          Variables: Match.objectLike({
            [CONTRACT_ENV.DEADLINE_MARGIN_SECONDS]: '45',
            [CONTRACT_ENV.MAX_FOLLOW_UPS]: '5',
            [CONTRACT_ENV.EXTRA_CA_PEM]: pem,
          }),
        },
      });
      template.hasResourceProperties('AWS::SQS::Queue', {
        VisibilityTimeout: 5400,
        RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }),
      });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        ScalingConfig: { MaximumConcurrency: 50 },
      });
      template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30 }, 2);
    });
  });

  describe('at scale', () => {
    it('splits a large group over schedules whose inputs stay small, each account in exactly one', () => {
      const accounts = Array.from({ length: 300 }, (_, i) => ({
        id: `mailbox-${String(i).padStart(4, '0')}`,
        secret: `tenants/mailbox-${String(i).padStart(4, '0')}`,
      }));
      const { template } = synthTemplate({
        accounts,
        secretNamePrefix: 'tenants/',
        scheduleGroups: { default: { expression: 'rate(5 minutes)', flexibleWindowMinutes: 4 } },
      });
      const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule'));
      expect(schedules.length).toBeGreaterThan(1);
      for (const s of schedules) {
        expect((s.Properties.Target.Input as string).length).toBeLessThanOrEqual(MAX_SCHEDULE_INPUT_CHARS);
        expect(s.Properties.FlexibleTimeWindow).toEqual({ Mode: 'FLEXIBLE', MaximumWindowInMinutes: 4 });
      }
      const ids = scheduleInputs(template).flatMap((i) => i.jobs.map((j) => j.accountId));
      expect(ids.sort()).toEqual(accounts.map((a) => a.id));
    });

    it('grants the secret name prefix instead of each of many secrets', () => {
      const accounts = Array.from({ length: 60 }, (_, i) => ({ id: `m${i}`, secret: `tenants/m${i}` }));
      const { template } = synthTemplate({ accounts, secretNamePrefix: 'tenants/' });
      const [statement] = withAction(template, 'secretsmanager:GetSecretValue');
      expect(resourcesOf(statement!)).toEqual([
        'arn:aws:secretsmanager:eu-west-1:111122223333:secret:tenants/*',
      ]);
    });

    it('deploys a disabled schedule when told to', () => {
      const { template } = synthTemplate({
        accounts: [{ id: 'a', secret: 'create', schedule: 'paused' }],
        scheduleGroups: { paused: { expression: 'rate(1 hour)', enabled: false } },
        defaultScheduleGroup: 'paused',
      });
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: 'rate(1 hour)',
        State: 'DISABLED',
      });
    });
  });
});

describe('Construct outputs', () => {
  /** The stack output whose logical id is the construct's output `name` (plus CDK's hash). */
  function output(template: Template, name: string): { Value: unknown; Description?: string } | undefined {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown; Description?: string }>;
    const found = Object.entries(outputs).filter(([id]) => new RegExp(`^Poller${name}[0-9A-F]{8}$`).test(id));
    expect(found.length).toBeLessThanOrEqual(1);
    return found[0]?.[1];
  }

  it('name what operators and scripts/aws-e2e.ts need: buckets, prefix, queues, log groups', () => {
    const { stack, template } = synthTemplate({
      accounts: [
        { id: 'support', secret: 'create' },
        { id: 'sales', secret: 'mail/sales' },
        { id: 'billing', secret: 'create' },
      ],
      archive: { prefix: 'inbox/' },
    });
    const ref = (construct: { node: { defaultChild?: unknown } }) => ({
      Ref: stack.getLogicalId(construct.node.defaultChild as never),
    });
    const poller = stack.poller;
    expect(output(template, 'ArchiveBucketName')?.Value).toEqual(ref(poller.archiveBucket));
    expect(output(template, 'ArchivePrefix')?.Value).toBe('inbox/');
    expect(output(template, 'AccessLogBucketName')?.Value).toEqual(ref(poller.accessLogBucket));
    expect(output(template, 'WorkerLogGroupName')?.Value).toEqual(ref(poller.workerLogGroup));
    expect(output(template, 'DispatcherLogGroupName')?.Value).toEqual(ref(poller.dispatcherLogGroup));
    expect(output(template, 'SampleQueueUrl')).toBeDefined();
    expect(output(template, 'JobQueueUrl')?.Value).toEqual(ref(poller.jobQueue));
    expect(output(template, 'JobDeadLetterQueueUrl')?.Value).toEqual(ref(poller.jobDeadLetterQueue));
    // Created secrets only, in the order of SecretsToFill; a secret's Ref is its ARN.
    expect(output(template, 'SecretsToFill')?.Value).toBe(
      'pop3-poller/Pop3Poller/support, pop3-poller/Pop3Poller/billing',
    );
    expect(output(template, 'CreatedSecretArns')?.Value).toEqual({
      'Fn::Join': [', ', poller.createdSecrets.map((secret) => ref(secret))],
    });
    const resources = template.toJSON().Resources as Record<string, { Properties: { Name?: string } }>;
    expect(poller.createdSecrets.map((secret) => resources[ref(secret).Ref]!.Properties.Name)).toEqual([
      'pop3-poller/Pop3Poller/support',
      'pop3-poller/Pop3Poller/billing',
    ]);
  });

  it('leave out the secret outputs when the stack creates none, and the sample queue without the rule', () => {
    const { template } = synthTemplate({
      accounts: [{ id: 'sales', secret: 'mail/sales' }],
      eventBus: { exampleRule: false },
    });
    expect(output(template, 'SecretsToFill')).toBeUndefined();
    expect(output(template, 'CreatedSecretArns')).toBeUndefined();
    expect(output(template, 'SampleQueueUrl')).toBeUndefined();
    expect(output(template, 'ArchivePrefix')?.Value).toBe('mail/');
  });
});
