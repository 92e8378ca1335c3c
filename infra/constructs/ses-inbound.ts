import { Aws, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ENV } from '../../functions/handlers/contract';
import { METRICS } from '../metrics';
import type { ResolvedConfig, ResolvedSesInbound } from '../validation';
import { lambdaBase } from './lambda';

export interface SesInboundProps {
  readonly config: ResolvedConfig;
  readonly ses: ResolvedSesInbound;
  readonly archiveBucket: s3.Bucket;
  /** The archive's customer-managed key (required when SES writes to the archive bucket). */
  readonly archiveKey?: kms.Key;
  readonly eventBus: events.IEventBus;
}

/** The handler's timeout: a batch of 10 notifications, one message (≤ 40 MB) at a time. */
export const SES_INBOUND_TIMEOUT_SECONDS = 120;
/** Notifications per invocation. */
export const SES_INBOUND_BATCH_SIZE = 10;
/** Invocations at once: SES inbound is a trickle next to polling, and S3 and EventBridge are shared. */
export const SES_INBOUND_MAX_CONCURRENCY = 5;

/**
 * SES inbound: the objects an SES receipt rule's S3 action writes, archived as POP3 mail is.
 *
 * Notifications go S3 → EventBridge (the default bus) → a rule matching "Object Created" under the
 * prefix → an SQS queue (SSE-SQS, TLS only, a dead-letter queue after `maxReceiveCount` receives;
 * the rule's own delivery failures go to the same dead-letter queue) → the handler, with partial
 * batch responses. EventBridge rather than an S3 notification straight to SQS, because it works
 * the same for both buckets without touching their notification configuration: an S3 bucket has
 * one, which the stack would have to own (CDK does it with a custom-resource Lambda) and which
 * for an existing bucket the operator's other notifications share; EventBridge needs one switch
 * on the bucket, and S3's events to the default bus cost nothing.
 *
 * With the archive bucket, the stack turns that switch on, lets `ses.amazonaws.com` put objects
 * under the prefix (for this account only, `aws:SourceAccount`) and use the archive key through
 * S3 for this bucket. No lifecycle rule of the stack applies to the prefix (validation keeps it
 * apart from the archive and state prefixes), and the handler may only read it: SES's objects
 * are never changed or deleted by the stack.
 */
export class SesInbound {
  readonly function: NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly rule: events.Rule;
  /** The bucket SES writes to (a token for the archive bucket). */
  readonly bucketName: string;
  /** The ARN pattern of the SES objects the handler may read. */
  readonly objectsArn: string;

  constructor(scope: Construct, props: SesInboundProps) {
    const { config, ses, archiveBucket } = props;
    const inArchive = ses.bucket === undefined;
    this.bucketName = ses.bucket ?? archiveBucket.bucketName;
    this.objectsArn = inArchive
      ? archiveBucket.arnForObjects(`${ses.prefix}*`)
      : `arn:${Aws.PARTITION}:s3:::${ses.bucket}/${ses.prefix}*`;

    this.deadLetterQueue = new sqs.Queue(scope, 'SesInboundDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(scope, 'SesInboundQueue', {
      // AWS's advice for a Lambda event source: at least 6× the function timeout.
      visibilityTimeout: Duration.seconds(6 * SES_INBOUND_TIMEOUT_SECONDS),
      retentionPeriod: Duration.days(4),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: ses.maxReceiveCount },
    });
    this.rule = new events.Rule(scope, 'SesInboundRule', {
      // S3 sends its events to the account's default bus only.
      description: 'Pop3Poller SES inbound: objects SES writes, to the SES inbound queue',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [this.bucketName] },
          ...(ses.prefix !== '' ? { object: { key: [{ prefix: ses.prefix }] } } : {}),
        },
      },
      targets: [new eventsTargets.SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue })],
    });

    if (inArchive) this.openArchiveBucketToSes(scope, ses, archiveBucket, props.archiveKey);

    const base = lambdaBase(scope, 'ses-inbound', METRICS.sesInboundService, config, {
      [ENV.ARCHIVE_BUCKET]: archiveBucket.bucketName,
      [ENV.ARCHIVE_PREFIX]: config.archive.prefix,
      ...(props.archiveKey ? { [ENV.ARCHIVE_KMS_KEY_ID]: props.archiveKey.keyArn } : {}),
      [ENV.EVENT_BUS_NAME]: props.eventBus.eventBusName,
      [ENV.SES_BUCKET]: this.bucketName,
      [ENV.SES_PREFIX]: ses.prefix,
      [ENV.SES_EVENT_SOURCE]: ses.eventSource,
      [ENV.SES_RECIPIENTS]: JSON.stringify(ses.recipients),
      [ENV.SES_UNMAPPED]: ses.unmappedRecipients,
      [ENV.SES_DOMAINS]: ses.domains.join(','),
      [ENV.SES_MAX_MESSAGE_BYTES]: String(ses.maxMessageBytes),
    });
    this.logGroup = base.logGroup;
    this.role = base.role;
    this.function = new NodejsFunction(scope, 'SesInbound', {
      ...base.props,
      description: 'Pop3Poller: archives the mail SES receives',
      memorySize: ses.memoryMiB,
      timeout: Duration.seconds(SES_INBOUND_TIMEOUT_SECONDS),
    });
    this.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: SES_INBOUND_BATCH_SIZE,
        reportBatchItemFailures: true,
        maxConcurrency: SES_INBOUND_MAX_CONCURRENCY,
      }),
    );
    this.grant(props);
  }

  /** EventBridge notifications on, and SES allowed to write the prefix with the archive key. */
  private openArchiveBucketToSes(
    scope: Construct,
    ses: ResolvedSesInbound,
    bucket: s3.Bucket,
    key: kms.Key | undefined,
  ): void {
    const account = Stack.of(scope).account;
    // Set on the bucket's own CloudFormation resource: CDK's `eventBridgeEnabled` would add a
    // custom-resource Lambda to manage the bucket's notification configuration.
    (bucket.node.defaultChild as s3.CfnBucket).addPropertyOverride(
      'NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled',
      true,
    );
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'SesWritesInboundMail',
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects(`${ses.prefix}*`)],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );
    key?.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'SesEncryptsInboundMailThroughS3',
        principals: [new iam.ServicePrincipal('ses.amazonaws.com')],
        // What S3 asks of KMS for an SSE-KMS put with a Bucket Key.
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        // Only through S3, for this account's receiving. (Not narrowed to the bucket's ARN by
        // encryption context: the bucket references the key, so the key cannot reference it.)
        conditions: {
          StringEquals: {
            'aws:SourceAccount': account,
            'kms:ViaService': `s3.${Stack.of(scope).region}.amazonaws.com`,
          },
        },
      }),
    );
  }

  private grant(props: SesInboundProps): void {
    const { config, ses, archiveBucket } = props;
    const region = Stack.of(this.role).region;
    const viaS3 = { 'kms:ViaService': `s3.${region}.amazonaws.com` };
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadSesObjects',
        // Read only: the objects SES wrote are never changed or deleted.
        actions: ['s3:GetObject'],
        resources: [this.objectsArn],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ArchiveObjects',
        // As the worker: PutObject covers multipart uploads; GetObject covers the HEAD that compares
        // an object already there.
        actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
        resources: [archiveBucket.arnForObjects(`${config.archive.prefix}*`)],
      }),
    );
    if (props.archiveKey) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ArchiveKeyThroughS3',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [props.archiveKey.keyArn],
          conditions: { StringEquals: viaS3 },
        }),
      );
    }
    if (ses.bucketKmsKeyArn !== undefined) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'SesBucketKeyThroughS3',
          actions: ['kms:Decrypt'],
          resources: [ses.bucketKmsKeyArn],
          conditions: { StringEquals: viaS3 },
        }),
      );
    }
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PublishEvents',
        actions: ['events:PutEvents'],
        resources: [props.eventBus.eventBusArn],
        conditions: { StringEquals: { 'events:source': ses.eventSource } },
      }),
    );
  }
}
