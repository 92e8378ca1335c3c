import { Match, type Template } from 'aws-cdk-lib/assertions';
import { ENV } from '../../functions/handlers/contract';
import { METRICS } from '../../infra/metrics';
import type { Pop3PollerProps, SesInboundProps } from '../../infra/props';
import { resolveConfig } from '../../infra/validation';
import { buildStack, synthTemplate } from '../support/cdk-app';

/**
 * The `sesInbound` option: what it adds to the template (queue, dead-letter queue, rule, handler,
 * bucket and key policy statements, alarms), for SES writing to the archive bucket and to an
 * existing bucket, and the settings it refuses at synth. Assertions, not a snapshot.
 */

const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-0000-1111-2222-333344445555';

function withSes(ses: SesInboundProps, extra: Partial<Pop3PollerProps> = {}): Pop3PollerProps {
  return {
    accounts: [{ id: 'support', secret: 'create' }],
    archive: { encryption: 'customer-managed' },
    sesInbound: ses,
    ...extra,
  };
}

interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a CloudFormation resource, read by path
type Resource = any;

function only(template: Template, type: string, props: Record<string, unknown> = {}): [string, Resource] {
  const found = Object.entries(template.findResources(type, { Properties: Match.objectLike(props) }));
  expect(found).toHaveLength(1);
  return found[0]!;
}

function roleStatements(template: Template, rolePrefix: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
    (policy.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref.startsWith(rolePrefix))
      ? (policy.Properties.PolicyDocument.Statement as Statement[])
      : [],
  );
}

/** The one resource of a type whose logical id starts with `prefix`. */
function named(template: Template, type: string, prefix: string): string {
  const found = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0]!;
}

const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('Construct: SesInbound (sesInbound option)', () => {
  describe('SES writing to the archive bucket', () => {
    let template: Template;
    let bucket: string;
    let key: string;
    let queue: string;
    let dlq: string;
    let fn: string;

    beforeAll(() => {
      template = synthTemplate(
        withSes({
          recipients: { 'Support@Example.com': 'support', '@example.org': 'org' },
          domains: ['example.net'],
        }),
      ).template;
      [bucket] = only(template, 'AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
      [key] = only(template, 'AWS::KMS::Key');
      dlq = named(template, 'AWS::SQS::Queue', 'PollerSesInboundDeadLetterQueue');
      queue = named(template, 'AWS::SQS::Queue', 'PollerSesInboundQueue');
      [fn] = only(template, 'AWS::Lambda::Function', {
        Description: 'Pop3Poller: archives the mail SES receives',
      });
    });

    it('an SSE-SQS queue with the dead-letter queue after 5 receives, visibility 6× the 120 s timeout, TLS only', () => {
      template.hasResourceProperties('AWS::SQS::Queue', {
        SqsManagedSseEnabled: true,
        VisibilityTimeout: 720,
        MessageRetentionPeriod: 345_600,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 5 },
      });
      for (const q of [queue, dlq]) {
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: q }],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Action: 'sqs:*',
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ]),
          },
        });
      }
    });

    it("a rule on the default bus for S3's Object Created events of the bucket under the prefix, to the queue, its failures to the DLQ", () => {
      const [rule, resource] = only(template, 'AWS::Events::Rule', {
        EventPattern: Match.objectLike({ source: ['aws.s3'] }),
      });
      expect(resource.Properties.EventBusName).toBeUndefined();
      expect(resource.Properties.EventPattern).toEqual({
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [{ Ref: bucket }] }, object: { key: [{ prefix: 'ses/' }] } },
      });
      expect(resource.Properties.Targets).toEqual([
        expect.objectContaining({
          Arn: { 'Fn::GetAtt': [queue, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
        }),
      ]);
      // EventBridge may send to the queue for this rule only.
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queue }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
              Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [rule, 'Arn'] } } },
            }),
          ]),
        },
      });
    });

    it('turns on EventBridge notifications on the archive bucket itself, without a custom-resource Lambda', () => {
      template.hasResourceProperties('AWS::S3::Bucket', {
        VersioningConfiguration: { Status: 'Enabled' },
        NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
      });
      expect(template.findResources('Custom::S3BucketNotifications')).toEqual({});
    });

    it('lets ses.amazonaws.com put objects under the prefix, for this account only; the archived messages stay write-once', () => {
      const [, policy] = only(template, 'AWS::S3::BucketPolicy', { Bucket: { Ref: bucket } });
      const stmts = policy.Properties.PolicyDocument.Statement as Statement[];
      expect(stmts.find((s) => s.Sid === 'SesWritesInboundMail')).toEqual({
        Sid: 'SesWritesInboundMail',
        Effect: 'Allow',
        Principal: { Service: 'ses.amazonaws.com' },
        Action: 's3:PutObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/ses/*']] },
        Condition: { StringEquals: { 'aws:SourceAccount': '111122223333' } },
      });
      // The write-once rule still covers the mail prefix, and only it.
      expect(stmts.find((s) => s.Sid === 'ArchivedMessagesAreWrittenOnce')?.Resource).toEqual({
        'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/mail/*']],
      });
    });

    it("lets SES use the archive key through S3 only, for this account's receiving", () => {
      const [, resource] = only(template, 'AWS::KMS::Key');
      const stmts = resource.Properties.KeyPolicy.Statement as Statement[];
      expect(stmts.find((s) => s.Sid === 'SesEncryptsInboundMailThroughS3')).toEqual({
        Sid: 'SesEncryptsInboundMailThroughS3',
        Effect: 'Allow',
        Principal: { Service: 'ses.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: {
          StringEquals: {
            'aws:SourceAccount': '111122223333',
            'kms:ViaService': 's3.eu-west-1.amazonaws.com',
          },
        },
      });
    });

    it('puts no lifecycle rule on the SES prefix: objects SES wrote are never expired or moved by the stack', () => {
      const [, resource] = only(template, 'AWS::S3::Bucket', {
        VersioningConfiguration: { Status: 'Enabled' },
      });
      const rules = resource.Properties.LifecycleConfiguration.Rules as Array<{
        Id: string;
        Prefix?: string;
      }>;
      for (const rule of rules)
        expect(rule.Prefix === undefined || !rule.Prefix.startsWith('ses')).toBe(true);
      // The one rule without a prefix only aborts incomplete multipart uploads (SES writes with PutObject).
      expect(rules.filter((r) => r.Prefix === undefined)).toEqual([
        {
          Id: 'abort-incomplete-multipart-uploads',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
      ]);
    });

    it('the handler: its settings in the environment, 512 MiB, 120 s, ARM64', () => {
      const [, resource] = only(template, 'AWS::Lambda::Function', {
        Description: 'Pop3Poller: archives the mail SES receives',
      });
      expect(resource.Properties).toMatchObject({
        MemorySize: 512,
        Timeout: 120,
        Architectures: ['arm64'],
        Runtime: 'nodejs24.x',
        Handler: 'index.handler',
      });
      expect(resource.Properties.Environment.Variables).toEqual({
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: METRICS.sesInboundService,
        POWERTOOLS_METRICS_NAMESPACE: METRICS.namespace,
        [ENV.ARCHIVE_BUCKET]: { Ref: bucket },
        [ENV.ARCHIVE_PREFIX]: 'mail/',
        [ENV.ARCHIVE_KMS_KEY_ID]: { 'Fn::GetAtt': [key, 'Arn'] },
        [ENV.EVENT_BUS_NAME]: { Ref: expect.stringMatching(/^PollerEventBus/) },
        [ENV.SES_BUCKET]: { Ref: bucket },
        [ENV.SES_PREFIX]: 'ses/',
        [ENV.SES_EVENT_SOURCE]: 'ses',
        [ENV.SES_RECIPIENTS]: JSON.stringify({ 'support@example.com': 'support', '@example.org': 'org' }),
        [ENV.SES_UNMAPPED]: 'address',
        [ENV.SES_DOMAINS]: 'example.com,example.net,example.org',
        [ENV.SES_MAX_MESSAGE_BYTES]: '41943040',
      });
    });

    it('reads the queue 10 notifications at a time, at most 5 invocations at once, with partial batch responses', () => {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: fn },
        EventSourceArn: { 'Fn::GetAtt': [queue, 'Arn'] },
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 5 },
      });
    });

    it('the handler role: read the SES objects, write archived messages, the key through S3, events with its source only; never delete', () => {
      const stmts = roleStatements(template, 'PollerSesInboundRole');
      const bySid = (sid: string) => stmts.find((s) => s.Sid === sid);
      expect(bySid('ReadSesObjects')).toEqual({
        Sid: 'ReadSesObjects',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/ses/*']] },
      });
      expect(bySid('ArchiveObjects')).toMatchObject({
        Action: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'],
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/mail/*']] },
      });
      expect(bySid('ArchiveKeyThroughS3')).toMatchObject({
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: { 'Fn::GetAtt': [key, 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } },
      });
      expect(bySid('PublishEvents')).toMatchObject({
        Action: 'events:PutEvents',
        Condition: { StringEquals: { 'events:source': 'ses' } },
      });
      const all = stmts.flatMap(actions);
      expect(all.filter((a) => /Delete|PutObjectAcl|PutObjectTagging|PutBucket|\*$/.test(a))).toEqual(
        // CDK's grant to consume the queue (a receive deletes the message, not an object).
        ['sqs:DeleteMessage'],
      );
    });

    it("alarms on the DLQ, on rejected objects and on the handler's errors", () => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
        Threshold: 1,
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: METRICS.namespace,
        MetricName: METRICS.sesObjectsRejected,
        Dimensions: [{ Name: 'service', Value: METRICS.sesInboundService }],
        Threshold: 1,
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn } }],
      });
    });

    it('the dashboard shows its metrics, DLQ and handler', () => {
      const [, dashboard] = only(template, 'AWS::CloudWatch::Dashboard');
      const body = JSON.stringify(dashboard.Properties.DashboardBody);
      for (const name of [
        METRICS.sesMessagesArchived,
        METRICS.sesObjectsRejected,
        METRICS.sesObjectsRetried,
      ]) {
        expect(body).toContain(`\\"${name}\\"`);
      }
      expect(body).toContain('SES inbound dead-letter queue and handler');
    });

    it("the stack's event archive and example rule take the SES events too", () => {
      template.hasResourceProperties('AWS::Events::Archive', {
        EventPattern: { source: ['pop3-poller', 'ses'] },
      });
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { source: ['pop3-poller', 'ses'], 'detail-type': ['Message Archived'] },
      });
    });

    it('outputs the bucket and prefix for the receipt rule, and the DLQ', () => {
      const outputs = template.findOutputs('*');
      const value = (prefix: string) =>
        Object.entries(outputs).find(([name]) => name.startsWith(prefix))?.[1].Value as unknown;
      expect(value('PollerSesInboundBucketName')).toEqual({ Ref: bucket });
      expect(value('PollerSesInboundPrefix')).toBe('ses/');
      expect(value('PollerSesInboundDeadLetterQueueUrl')).toEqual({ Ref: dlq });
      expect(value('PollerSesInboundQueueUrl')).toEqual({ Ref: queue });
    });
  });

  describe('SES writing to an existing bucket', () => {
    let template: Template;

    beforeAll(() => {
      template = synthTemplate(
        withSes(
          { bucket: 'my-mail-bucket', prefix: 'inbound/', bucketKmsKeyArn: KEY_ARN, eventSource: 'mail.ses' },
          { archive: { encryption: 'aws-managed' } },
        ),
      ).template;
    });

    it("matches that bucket's events, and leaves the archive bucket's notifications and policy alone", () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.s3'],
          'detail-type': ['Object Created'],
          detail: { bucket: { name: ['my-mail-bucket'] }, object: { key: [{ prefix: 'inbound/' }] } },
        },
      });
      const [, archive] = only(template, 'AWS::S3::Bucket', {
        VersioningConfiguration: { Status: 'Enabled' },
      });
      expect(archive.Properties.NotificationConfiguration).toBeUndefined();
      const policies = JSON.stringify(template.findResources('AWS::S3::BucketPolicy'));
      expect(policies).not.toContain('ses.amazonaws.com');
    });

    it("reads that bucket's prefix and decrypts with its key through S3", () => {
      const stmts = roleStatements(template, 'PollerSesInboundRole');
      expect(stmts.find((s) => s.Sid === 'ReadSesObjects')?.Resource).toEqual({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-mail-bucket/inbound/*']],
      });
      expect(stmts.find((s) => s.Sid === 'SesBucketKeyThroughS3')).toEqual({
        Sid: 'SesBucketKeyThroughS3',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: KEY_ARN,
        Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } },
      });
      expect(stmts.find((s) => s.Sid === 'PublishEvents')?.Condition).toEqual({
        StringEquals: { 'events:source': 'mail.ses' },
      });
      const [, fn] = only(template, 'AWS::Lambda::Function', {
        Description: 'Pop3Poller: archives the mail SES receives',
      });
      expect(fn.Properties.Environment.Variables).toMatchObject({
        [ENV.SES_BUCKET]: 'my-mail-bucket',
        [ENV.SES_PREFIX]: 'inbound/',
        [ENV.SES_EVENT_SOURCE]: 'mail.ses',
      });
      expect(fn.Properties.Environment.Variables[ENV.ARCHIVE_KMS_KEY_ID]).toBeUndefined();
    });
  });

  it('adds nothing when off', () => {
    const { template } = synthTemplate({ accounts: [{ id: 'support', secret: 'create' }] });
    expect(JSON.stringify(template.toJSON())).not.toMatch(
      /SesInbound|ses\.amazonaws\.com|EventBridgeConfiguration/,
    );
    template.hasResourceProperties('AWS::Events::Archive', { EventPattern: { source: ['pop3-poller'] } });
  });

  it('applies the documented defaults', () => {
    expect(resolveConfig(withSes({}), 'S').sesInbound).toEqual({
      bucket: undefined,
      prefix: 'ses/',
      recipients: {},
      unmappedRecipients: 'address',
      domains: [],
      eventSource: 'ses',
      maxMessageBytes: 41_943_040,
      bucketKmsKeyArn: undefined,
      memoryMiB: 512,
      maxReceiveCount: 5,
    });
  });

  describe('refused at synth, saying what to change', () => {
    const CASES: ReadonlyArray<[string, Pop3PollerProps, RegExp]> = [
      [
        'the archive bucket with the AWS managed key',
        withSes({}, { archive: { encryption: 'aws-managed' } }),
        /sesInbound in the archive bucket needs archive\.encryption "customer-managed"/,
      ],
      [
        'the archive bucket with Object Lock',
        withSes(
          {},
          {
            archive: {
              encryption: 'customer-managed',
              objectLock: { mode: 'governance', retentionDays: 30 },
            },
          },
        ),
        /Object Lock with a default retention, which SES's S3 action does not support/,
      ],
      [
        'a prefix inside the archive prefix',
        withSes({ prefix: 'mail/ses/' }),
        /sesInbound\.prefix "mail\/ses\/" and archive\.prefix "mail\/" must not overlap/,
      ],
      [
        'a prefix holding the state prefix',
        withSes(
          { prefix: 'st' + '/' },
          { archive: { encryption: 'customer-managed', statePrefix: 'st/state/' } },
        ),
        /sesInbound\.prefix "st\/" and archive\.statePrefix "st\/state\/" must not overlap/,
      ],
      [
        'an empty prefix in the archive bucket',
        withSes({ prefix: '' }),
        /sesInbound\.prefix "" must be non-empty/,
      ],
      [
        'a bad bucket name',
        withSes({ bucket: 'My_Bucket' }),
        /sesInbound\.bucket "My_Bucket" is not an S3 bucket name/,
      ],
      [
        'a bucket key for the archive bucket',
        withSes({ bucketKmsKeyArn: KEY_ARN }),
        /sesInbound\.bucketKmsKeyArn only applies to an existing sesInbound\.bucket/,
      ],
      [
        'a key that is not a KMS key ARN',
        withSes({ bucket: 'my-mail-bucket', bucketKmsKeyArn: 'alias/aws/s3' }),
        /sesInbound\.bucketKmsKeyArn "alias\/aws\/s3" is not a KMS key ARN/,
      ],
      [
        'a recipient that is not an address',
        withSes({ recipients: { support: 'support' } }),
        /sesInbound\.recipients: "support" is not an address or an @domain/,
      ],
      [
        'a recipient mapped to a bad account id',
        withSes({ recipients: { 'a@example.com': 'a b' } }),
        /sesInbound\.recipients\["a@example\.com"\]: account id "a b" must match/,
      ],
      [
        'a recipient given twice in different case',
        withSes({ recipients: { 'a@example.com': 'a', 'A@Example.com': 'b' } }),
        /"A@Example\.com" is given more than once/,
      ],
      [
        'a recipient map too large for the environment',
        withSes({
          recipients: Object.fromEntries(
            Array.from({ length: 80 }, (_, i) => [`user${i}@example.com`, `account-${i}`]),
          ),
        }),
        /sesInbound\.recipients is \d+ characters as JSON, over 2500/,
      ],
      [
        'a bad domain',
        withSes({ domains: ['example'] }),
        /sesInbound\.domains: "example" is not a domain name/,
      ],
      [
        'an unknown unmappedRecipients',
        withSes({ unmappedRecipients: 'drop' as 'skip' }),
        /must be "address" or "skip"/,
      ],
      [
        "an event source in AWS's namespace",
        withSes({ eventSource: 'aws.ses' }),
        /sesInbound\.eventSource "aws\.ses"/,
      ],
      [
        'a message limit over 100 MiB',
        withSes({ maxMessageBytes: 200 * 1024 * 1024 }),
        /maxMessageBytes must be an integer/,
      ],
      [
        'too little memory for the message limit',
        withSes({ memoryMiB: 256 }),
        /sesInbound\.memoryMiB \(256\) is too small for messages of 41943040 bytes: .* at least 288/,
      ],
      [
        'maxReceiveCount of 0',
        withSes({ maxReceiveCount: 0 }),
        /sesInbound\.maxReceiveCount must be an integer/,
      ],
    ];

    it.each(CASES)('%s', (_name, props, message) => {
      expect(() => buildStack(props)).toThrow(message);
    });
  });
});
