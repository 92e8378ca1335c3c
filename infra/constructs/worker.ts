import { Duration, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { WRITEBACK_TAG } from '../../functions/adapters/shared-secret';
import { ENV } from '../../functions/handlers/contract';
import { EVENT_SOURCE } from '../../functions/poller/events';
import { REGISTRY_ITEM } from '../../functions/registry/record';
import { METRICS } from '../metrics';
import type { ResolvedConfig } from '../validation';
import { lambdaBase } from './lambda';
import type { Network } from './network';

export interface WorkerProps {
  readonly config: ResolvedConfig;
  readonly archiveBucket: s3.IBucket;
  /** The archive's customer-managed key (also the registry table's), if any. */
  readonly archiveKey?: kms.IKey;
  readonly eventBus: events.IEventBus;
  readonly jobQueue: sqs.IQueue;
  readonly registryTable: dynamodb.ITable;
  /** ARNs of the secrets the worker may read (infra/constructs/secrets.ts). */
  readonly secretResources: readonly string[];
  readonly network?: Network;
}

/**
 * The worker: one batch job per invocation, from the FIFO job queue. It reads the mailboxes'
 * secrets (writing back only to secrets tagged WRITEBACK_TAG), writes archived messages and
 * keep-mode state under their prefixes, publishes events on the bus, enqueues follow-ups and
 * records each mailbox's last poll in the registry (the `lastPoll` attribute, nothing else).
 */
export class Worker {
  readonly function: NodejsFunction;
  /** Retained on stack deletion (CDK's default for log groups). */
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, props: WorkerProps) {
    const { config, network } = props;
    const base = lambdaBase(scope, 'worker', METRICS.workerService, config, {
      [ENV.JOB_QUEUE_URL]: props.jobQueue.queueUrl,
      [ENV.ARCHIVE_BUCKET]: props.archiveBucket.bucketName,
      [ENV.ARCHIVE_PREFIX]: config.archive.prefix,
      [ENV.STATE_PREFIX]: config.archive.statePrefix,
      ...(props.archiveKey ? { [ENV.ARCHIVE_KMS_KEY_ID]: props.archiveKey.keyArn } : {}),
      [ENV.EVENT_BUS_NAME]: props.eventBus.eventBusName,
      [ENV.DEADLINE_MARGIN_SECONDS]: String(config.worker.deadlineMarginSeconds),
      [ENV.MAX_FOLLOW_UPS]: String(config.worker.maxFollowUps),
      ...(config.worker.extraCaPem ? { [ENV.EXTRA_CA_PEM]: config.worker.extraCaPem } : {}),
      [ENV.REGISTRY_TABLE]: props.registryTable.tableName,
      [ENV.MAILBOX_CONCURRENCY]: String(config.fleet.mailboxConcurrency),
      [ENV.SUMMARY_EVENTS]: config.fleet.summaryEvents,
      [ENV.SECRET_CACHE_SECONDS]: String(config.fleet.secretCacheSeconds),
    });
    this.logGroup = base.logGroup;
    this.role = base.role;
    if (network) {
      this.role.addManagedPolicy(
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'),
      );
    }
    this.function = new NodejsFunction(scope, 'Worker', {
      ...base.props,
      description: 'Pop3Poller: polls a batch of mailboxes per job',
      memorySize: config.worker.memoryMiB,
      timeout: Duration.seconds(config.worker.timeoutSeconds),
      reservedConcurrentExecutions: config.worker.reservedConcurrency,
      ...(network
        ? {
            vpc: network.vpc,
            vpcSubnets: { subnets: network.vpc.privateSubnets },
            securityGroups: [network.securityGroup],
          }
        : {}),
    });
    this.function.addEventSource(
      new SqsEventSource(props.jobQueue as sqs.Queue, {
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: config.worker.maxConcurrency,
      }),
    );
    grantWorker(this.role, props);
  }
}

function grantWorker(role: iam.Role, props: WorkerProps): void {
  const { config } = props;
  const region = Stack.of(role).region;
  const via = (service: string) => ({ 'kms:ViaService': `${service}.${region}.amazonaws.com` });
  const secrets = [...props.secretResources];
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'ReadAccountSecrets',
      actions: ['secretsmanager:GetSecretValue'],
      resources: secrets,
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'WriteBackRotatedTokens',
      // An OAuth 2.0 provider that rotates refresh tokens (Microsoft) returns a new one with each
      // refresh, which the worker writes back (functions/adapters/secret-document.ts) — only to
      // secrets tagged for it, so a bug cannot overwrite a password secret.
      actions: ['secretsmanager:PutSecretValue'],
      resources: secrets,
      conditions: { StringEquals: { [`secretsmanager:ResourceTag/${WRITEBACK_TAG}`]: 'true' } },
    }),
  );
  if (config.secretKmsKeyArns.length > 0) {
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DecryptAccountSecrets',
        actions: ['kms:Decrypt'],
        resources: [...config.secretKmsKeyArns],
        conditions: { StringEquals: via('secretsmanager') },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'EncryptRotatedTokens',
        // Reached only through PutSecretValue (tag-restricted above), for the same secrets.
        actions: ['kms:GenerateDataKey'],
        resources: [...config.secretKmsKeyArns],
        conditions: {
          StringEquals: via('secretsmanager'),
          StringLike: { 'kms:EncryptionContext:SecretARN': secrets },
        },
      }),
    );
  }

  const bucket = props.archiveBucket;
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'ArchiveAndStateObjects',
      // PutObject covers multipart uploads; GetObject covers HEAD (the 412 path compares the
      // stored checksum) and reading keep-mode state. No ListBucket: a missing key is a 403,
      // which the state store reads as "no state yet".
      actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
      resources: [
        bucket.arnForObjects(`${config.archive.prefix}*`),
        bucket.arnForObjects(`${config.archive.statePrefix}*`),
      ],
    }),
  );
  if (props.archiveKey) {
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ArchiveKeyThroughS3',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [props.archiveKey.keyArn],
        conditions: { StringEquals: via('s3') },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RegistryKeyThroughDynamoDb',
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [props.archiveKey.keyArn],
        conditions: { StringEquals: via('dynamodb') },
      }),
    );
  }
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'PublishEvents',
      actions: ['events:PutEvents'],
      resources: [props.eventBus.eventBusArn],
      conditions: { StringEquals: { 'events:source': EVENT_SOURCE } },
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'EnqueueFollowUps',
      actions: ['sqs:SendMessage'],
      resources: [props.jobQueue.queueArn],
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'RecordLastPoll',
      // The worker only writes last-poll records: an UpdateItem naming any other attribute
      // (the mailbox's `record`, `updatedAt`) is refused.
      actions: ['dynamodb:UpdateItem'],
      resources: [props.registryTable.tableArn],
      conditions: {
        'ForAllValues:StringEquals': {
          'dynamodb:Attributes': [REGISTRY_ITEM.partitionKey, REGISTRY_ITEM.lastPoll],
        },
      },
    }),
  );
}
