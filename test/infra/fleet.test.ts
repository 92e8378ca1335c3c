import { Match, type Template } from 'aws-cdk-lib/assertions';
import { ENV, type DispatchInput } from '../../functions/handlers/contract';
import { BUNDLE, lambdaBundling } from '../../infra/bundling';
import { GROUPS_OUTPUT } from '../../functions/cli/mailboxes/context';
import { SCHEDULE_GROUPS_OUTPUT } from '../../infra/constructs/scheduling';
import type { Pop3PollerProps } from '../../infra/props';
import { synthTemplate } from '../support/cdk-app';

/** The fleet additions: the registry table and its grants, conditional writes, bundling, logging, env. */

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Statements of the IAM policies attached to the role whose logical id matches `role`. */
function roleStatements(template: Template, role: RegExp): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) => {
    const roles = (policy.Properties.Roles as { Ref: string }[]).map((r) => r.Ref);
    return roles.some((r) => role.test(r)) ? (policy.Properties.PolicyDocument.Statement as Statement[]) : [];
  });
}

function only<T>(items: T[]): T {
  expect(items).toHaveLength(1);
  return items[0]!;
}

function lambdaByDescription(template: Template, pattern: string): Record<string, unknown> {
  return only(
    Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: Match.objectLike({ Description: Match.stringLikeRegexp(pattern) }),
      }),
    ),
  ).Properties as Record<string, unknown>;
}

const ACCOUNTS: Pop3PollerProps = { accounts: [{ id: 'support', secret: 'create' }] };

describe('Construct: Pop3Poller (fleet)', () => {
  let template: Template;
  let table: string;
  beforeAll(() => {
    template = synthTemplate(ACCOUNTS).template;
    table = only(Object.keys(template.findResources('AWS::DynamoDB::Table')));
  });

  describe('registry table', () => {
    it('is keyed by id (S), on demand, with point-in-time recovery, AWS-managed encryption and deletion protection', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, KMSMasterKeyId: Match.absent() },
        DeletionProtectionEnabled: true,
      });
    });

    it('is retained when the stack is deleted', () => {
      const resource = template.findResources('AWS::DynamoDB::Table')[table]!;
      expect(resource.DeletionPolicy).toBe('Retain');
      expect(resource.UpdateReplacePolicy).toBe('Retain');
    });

    it("uses the archive's customer-managed key when there is one", () => {
      const cmk = synthTemplate({ ...ACCOUNTS, archive: { encryption: 'customer-managed' } }).template;
      const key = only(Object.keys(cmk.findResources('AWS::KMS::Key')));
      cmk.hasResourceProperties('AWS::DynamoDB::Table', {
        SSESpecification: {
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] },
        },
      });
      const dispatcherKms = roleStatements(cmk, /DispatcherRole/).filter((s) =>
        actionsOf(s).some((a) => a.startsWith('kms:')),
      );
      expect(only(dispatcherKms)).toMatchObject({
        Action: ['kms:Decrypt', 'kms:DescribeKey'],
        Resource: { 'Fn::GetAtt': [key, 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': 'dynamodb.eu-west-1.amazonaws.com' } },
      });
    });

    it('lets the dispatcher only Scan it', () => {
      const dynamo = roleStatements(template, /DispatcherRole/).filter((s) =>
        actionsOf(s).some((a) => a.startsWith('dynamodb:')),
      );
      expect(only(dynamo)).toMatchObject({
        Effect: 'Allow',
        Action: 'dynamodb:Scan',
        Resource: { 'Fn::GetAtt': [table, 'Arn'] },
      });
    });

    it('lets the worker only UpdateItem the id and lastPoll attributes', () => {
      const dynamo = roleStatements(template, /WorkerRole/).filter((s) =>
        actionsOf(s).some((a) => a.startsWith('dynamodb:')),
      );
      expect(only(dynamo)).toEqual({
        Sid: 'RecordLastPoll',
        Effect: 'Allow',
        Action: 'dynamodb:UpdateItem',
        Resource: { 'Fn::GetAtt': [table, 'Arn'] },
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['id', 'lastPoll'] } },
      });
    });

    it('is named in the outputs, with the secret name prefix the CLI names shared secrets under', () => {
      const outputs = template.findOutputs('*');
      const find = (name: string) =>
        only(Object.entries(outputs).filter(([id]) => new RegExp(`^Poller${name}[0-9A-F]{8}$`).test(id)))[1];
      expect(find('RegistryTableName').Value).toEqual({ Ref: table });
      expect(find('SecretNamePrefix').Value).toBe('pop3-poller/Pop3Poller/');
    });
  });

  describe('archive bucket policy', () => {
    it('denies object-creating writes under the mail prefix without If-None-Match, multipart parts exempt', () => {
      const bucket = only(
        Object.keys(
          template.findResources('AWS::S3::Bucket', {
            Properties: Match.objectLike({ VersioningConfiguration: { Status: 'Enabled' } }),
          }),
        ),
      );
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucket },
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Sid: 'ArchivedMessagesAreWrittenOnce',
              Effect: 'Deny',
              Principal: { AWS: '*' },
              Action: 's3:PutObject',
              Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/mail/*']] },
              Condition: {
                Null: { 's3:if-none-match': 'true' },
                Bool: { 's3:ObjectCreationOperation': 'true' },
              },
            },
          ]),
        },
      });
    });

    it('leaves the state prefix (overwritten on purpose) out of it', () => {
      const policies = Object.values(template.findResources('AWS::S3::BucketPolicy'));
      const text = JSON.stringify(policies);
      expect(text).not.toContain('/state/*');
    });
  });

  describe('Lambdas', () => {
    it('log JSON at the configured level, platform lines only from WARN', () => {
      for (const pattern of ['polls a batch', 'enqueues']) {
        expect(lambdaByDescription(template, pattern).LoggingConfig).toEqual({
          LogFormat: 'JSON',
          ApplicationLogLevel: 'INFO',
          SystemLogLevel: 'WARN',
          LogGroup: expect.anything(),
        });
      }
      const debug = synthTemplate({ ...ACCOUNTS, worker: { logLevel: 'DEBUG' } }).template;
      expect(lambdaByDescription(debug, 'polls a batch').LoggingConfig).toMatchObject({
        ApplicationLogLevel: 'DEBUG',
      });
    });

    it('leave the log level to Lambda (AWS_LAMBDA_LOG_LEVEL), not POWERTOOLS_LOG_LEVEL', () => {
      for (const pattern of ['polls a batch', 'enqueues']) {
        const env = (lambdaByDescription(template, pattern).Environment as { Variables: object }).Variables;
        expect(env).not.toHaveProperty('POWERTOOLS_LOG_LEVEL');
      }
    });

    it('give the dispatcher the registry, shards and batch size; the worker the registry and its fleet settings', () => {
      const dispatcher = (lambdaByDescription(template, 'enqueues').Environment as { Variables: object })
        .Variables;
      expect(dispatcher).toMatchObject({
        [ENV.REGISTRY_TABLE]: { Ref: table },
        [ENV.SHARDS]: '32',
        [ENV.BATCH_SIZE]: '50',
        [ENV.SCHEDULE_GROUPS]: 'default',
      });
      const worker = (lambdaByDescription(template, 'polls a batch').Environment as { Variables: object })
        .Variables;
      expect(worker).toMatchObject({
        [ENV.REGISTRY_TABLE]: { Ref: table },
        [ENV.MAILBOX_CONCURRENCY]: '50',
        [ENV.SUMMARY_EVENTS]: 'changes',
        [ENV.SECRET_CACHE_SECONDS]: '900',
      });
      expect(worker).not.toHaveProperty(ENV.SHARDS);
      expect(dispatcher).not.toHaveProperty(ENV.MAILBOX_CONCURRENCY);
      expect(worker).not.toHaveProperty(ENV.SCHEDULE_GROUPS);
    });

    it('follow the fleet settings, mailboxConcurrency defaulting to batchSize', () => {
      const t = synthTemplate({
        ...ACCOUNTS,
        fleet: { shards: 64, batchSize: 10, summaryEvents: 'all', secretCacheSeconds: 0 },
      }).template;
      expect(
        (lambdaByDescription(t, 'enqueues').Environment as { Variables: object }).Variables,
      ).toMatchObject({
        [ENV.SHARDS]: '64',
        [ENV.BATCH_SIZE]: '10',
      });
      expect(
        (lambdaByDescription(t, 'polls a batch').Environment as { Variables: object }).Variables,
      ).toMatchObject({
        [ENV.MAILBOX_CONCURRENCY]: '10',
        [ENV.SUMMARY_EVENTS]: 'all',
        [ENV.SECRET_CACHE_SECONDS]: '0',
      });
    });
  });

  describe('bundling', () => {
    it("leaves the runtime's AWS SDK v3 out, prefers ESM builds, minifies, maps without sources", () => {
      const bundling = lambdaBundling();
      expect(bundling.externalModules).toEqual(['@aws-sdk/*', '@smithy/*']);
      expect(bundling.mainFields).toEqual(['module', 'main']);
      expect(bundling).toMatchObject({ minify: true, sourceMap: true, sourcesContent: false });
      // The benchmark (bench/bundle.ts) builds with the same settings.
      expect(BUNDLE.externalModules).toEqual(bundling.externalModules);
      expect(BUNDLE.mainFields).toEqual(bundling.mainFields);
    });
  });
});

describe('Construct: Pop3Poller (registry only)', () => {
  it('synthesizes with no accounts, the default group still scheduled and naming its registry group', () => {
    const { template } = synthTemplate({ accounts: [] });
    const inputs = Object.values(template.findResources('AWS::Scheduler::Schedule')).map(
      (r) => JSON.parse(r.Properties.Target.Input as string) as DispatchInput,
    );
    expect(inputs).toEqual([
      {
        jobs: [],
        registryGroup: 'default',
        defaultGroup: true,
        scheduledTime: '<aws.scheduler.scheduled-time>',
      },
    ]);
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
  });

  it("schedules every group, only the default one marked default, and no registry group on an account's own", () => {
    const { template } = synthTemplate({
      accounts: [{ id: 'own', secret: 'create', schedule: { expression: 'rate(1 hour)' } }],
      scheduleGroups: { fast: { expression: 'rate(5 minutes)' }, slow: { expression: 'rate(1 hour)' } },
      defaultScheduleGroup: 'slow',
    });
    const inputs = Object.values(template.findResources('AWS::Scheduler::Schedule'))
      .map((r) => JSON.parse(r.Properties.Target.Input as string) as DispatchInput)
      .map(({ jobs, registryGroup, defaultGroup }) => ({
        ids: jobs.map((j) => j.accountId),
        registryGroup,
        defaultGroup,
      }))
      .sort((a, b) => String(a.registryGroup).localeCompare(String(b.registryGroup)));
    expect(inputs).toEqual([
      { ids: [], registryGroup: 'fast', defaultGroup: undefined },
      { ids: [], registryGroup: 'slow', defaultGroup: true },
      { ids: ['own'], registryGroup: undefined, defaultGroup: undefined },
    ]);
  });

  describe('schedule group names', () => {
    const { template } = synthTemplate({
      accounts: [{ id: 'own', secret: 'create', schedule: { expression: 'rate(1 hour)' } }],
      scheduleGroups: {
        fast: { expression: 'rate(5 minutes)' },
        'business-hours': { expression: 'cron(0/15 8-18 ? * MON-FRI *)' },
      },
      defaultScheduleGroup: 'fast',
    });

    it('are a JSON output the CLI reads (ScheduleGroups), without accounts’ own schedules', () => {
      const outputs = Object.entries(template.findOutputs('*')).filter(([id]) =>
        new RegExp(`^Poller${SCHEDULE_GROUPS_OUTPUT}[0-9A-F]{8}$`).test(id),
      );
      expect(only(outputs)[1].Value).toBe('["fast","business-hours"]');
      // The CLI looks for the same name.
      expect(SCHEDULE_GROUPS_OUTPUT).toBe(GROUPS_OUTPUT);
    });

    it("are in the dispatcher's environment, for its count of records naming none of them", () => {
      const variables = (lambdaByDescription(template, 'enqueues').Environment as { Variables: object })
        .Variables;
      expect(variables).toMatchObject({ [ENV.SCHEDULE_GROUPS]: 'fast,business-hours' });
    });
  });
});
