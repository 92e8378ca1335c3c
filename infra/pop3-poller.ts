import { CfnOutput, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Alarms } from './constructs/alarms';
import { Archive } from './constructs/archive';
import { Dispatcher } from './constructs/dispatcher';
import { Events } from './constructs/events';
import { Network } from './constructs/network';
import { Queues } from './constructs/queues';
import { Registry } from './constructs/registry';
import { Scheduling } from './constructs/scheduling';
import { Secrets } from './constructs/secrets';
import { SesInbound } from './constructs/ses-inbound';
import { Worker } from './constructs/worker';
import type { Pop3PollerProps } from './props';
import { resolveConfig, type ResolvedConfig } from './validation';

export type * from './props';
export { METRICS } from './metrics';
export { Pop3PollerConfigError } from './validation';

/**
 * The whole POP3 poller deployment: EventBridge Scheduler schedules invoke a dispatcher, which
 * reads the mailbox registry (a DynamoDB table) and the schedule's configured accounts and
 * enqueues batch jobs on an SQS FIFO queue (message group = shard, so a mailbox is never polled by
 * two sessions at once); a worker Lambda polls a batch of mailboxes per job, archives each message
 * to S3, publishes events to EventBridge, records each mailbox's last poll in the registry, and
 * enqueues a follow-up job when a mailbox holds more than one invocation can drain. Failed jobs
 * are retried and end in a dead-letter queue.
 *
 * A minimal deployment is one statement:
 * `new Pop3Poller(stack, 'Poller', { accounts: [] })` (mailboxes then come from the registry:
 * `pop3-poller mailboxes add`), or with an account of the stack's own:
 * `new Pop3Poller(stack, 'Poller', { accounts: [{ id: 'support', secret: 'create' }] })`.
 *
 * Props are checked at synth time; invalid or conflicting settings throw a
 * `Pop3PollerConfigError` listing every problem. The parts live in infra/constructs/, each with
 * its secure defaults; they create their resources in this construct's scope, so logical ids stay
 * what they were when this was one file (see infra/constructs/README.md).
 */
export class Pop3Poller extends Construct {
  /** The props with every default applied. */
  readonly config: ResolvedConfig;
  readonly archiveBucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  /** The customer-managed key of the archive (and the registry), when `archive.encryption` is `customer-managed`. */
  readonly archiveKey?: kms.Key;
  readonly eventBus: events.IEventBus;
  /** The mailbox registry (partition key `id`); retained, deletion-protected. */
  readonly registryTable: dynamodb.Table;
  readonly jobQueue: sqs.Queue;
  readonly jobDeadLetterQueue: sqs.Queue;
  /** Schedules the dispatcher could not be invoked for, and dispatcher invocations that failed. */
  readonly dispatchDeadLetterQueue: sqs.Queue;
  readonly dispatcher: NodejsFunction;
  readonly worker: NodejsFunction;
  /** Retained on stack deletion (CDK's default for log groups). */
  readonly dispatcherLogGroup: logs.LogGroup;
  readonly workerLogGroup: logs.LogGroup;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The role the schedules invoke the dispatcher with. */
  readonly schedulerRole: iam.Role;
  readonly schedules: readonly scheduler.Schedule[];
  readonly createdSecrets: readonly secretsmanager.Secret[];
  /** What the worker may call GetSecretValue on (ARNs; `-??????` matches a name's random suffix). */
  readonly secretResources: readonly string[];
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly alarmTopic?: sns.Topic;
  readonly vpc?: ec2.IVpc;
  readonly dashboard?: cloudwatch.Dashboard;
  /** SES inbound (`sesInbound`): its queue, dead-letter queue, rule and handler, when on. */
  readonly sesInbound?: SesInbound;

  constructor(scope: Construct, id: string, props: Pop3PollerProps) {
    super(scope, id);
    const config = resolveConfig(props, Stack.of(this).stackName);
    this.config = config;

    const archive = new Archive(this, config);
    this.archiveBucket = archive.bucket;
    this.accessLogBucket = archive.accessLogBucket;
    this.archiveKey = archive.key;

    this.eventBus = new Events(this, config).bus;
    this.registryTable = new Registry(this, archive.key).table;

    const queues = new Queues(this, config);
    this.jobQueue = queues.jobQueue;
    this.jobDeadLetterQueue = queues.jobDeadLetterQueue;
    this.dispatchDeadLetterQueue = queues.dispatchDeadLetterQueue;

    const secrets = new Secrets(this, config);
    this.createdSecrets = secrets.created;
    this.secretResources = secrets.resources;

    const network = Network.create(this, config);
    this.vpc = network?.vpc;

    const dispatcher = new Dispatcher(this, {
      config,
      jobQueue: this.jobQueue,
      dispatchDeadLetterQueue: this.dispatchDeadLetterQueue,
      registryTable: this.registryTable,
      registryKey: archive.key,
    });
    this.dispatcher = dispatcher.function;
    this.dispatcherLogGroup = dispatcher.logGroup;

    const worker = new Worker(this, {
      config,
      archiveBucket: this.archiveBucket,
      archiveKey: archive.key,
      eventBus: this.eventBus,
      jobQueue: this.jobQueue,
      registryTable: this.registryTable,
      secretResources: this.secretResources,
      network,
    });
    this.worker = worker.function;
    this.workerLogGroup = worker.logGroup;

    if (config.sesInbound) {
      this.sesInbound = new SesInbound(this, {
        config,
        ses: config.sesInbound,
        archiveBucket: this.archiveBucket,
        ...(archive.key ? { archiveKey: archive.key } : {}),
        eventBus: this.eventBus,
      });
    }

    const scheduling = new Scheduling(this, {
      config,
      dispatcher: this.dispatcher,
      dispatchDeadLetterQueue: this.dispatchDeadLetterQueue,
    });
    this.scheduleGroup = scheduling.group;
    this.schedulerRole = scheduling.role;
    this.schedules = scheduling.schedules;

    const alarms = new Alarms(this, {
      config,
      worker: this.worker,
      dispatcher: this.dispatcher,
      jobQueue: this.jobQueue,
      jobDeadLetterQueue: this.jobDeadLetterQueue,
      dispatchDeadLetterQueue: this.dispatchDeadLetterQueue,
      key: archive.key,
      ...(this.sesInbound ? { sesInbound: this.sesInbound } : {}),
    });
    this.alarms = alarms.alarms;
    this.alarmTopic = alarms.topic;
    this.dashboard = alarms.dashboard;

    new CfnOutput(this, 'ArchiveBucketName', { value: this.archiveBucket.bucketName });
    new CfnOutput(this, 'ArchivePrefix', {
      description: 'Messages are archived as <ArchivePrefix><account id>/<sha256>.eml',
      value: config.archive.prefix,
    });
    new CfnOutput(this, 'AccessLogBucketName', {
      description: "The archive bucket's server access logs (retained on stack deletion)",
      value: this.accessLogBucket.bucketName,
    });
    new CfnOutput(this, 'EventBusName', { value: this.eventBus.eventBusName });
    new CfnOutput(this, 'JobQueueUrl', { value: this.jobQueue.queueUrl });
    new CfnOutput(this, 'DispatcherFunctionName', { value: this.dispatcher.functionName });
    new CfnOutput(this, 'WorkerFunctionName', { value: this.worker.functionName });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.scheduleGroup.scheduleGroupName });
    new CfnOutput(this, 'JobDeadLetterQueueUrl', { value: this.jobDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'WorkerLogGroupName', { value: this.workerLogGroup.logGroupName });
    new CfnOutput(this, 'DispatcherLogGroupName', { value: this.dispatcherLogGroup.logGroupName });
    if (this.dashboard) new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboardName });
    if (this.sesInbound) {
      new CfnOutput(this, 'SesInboundBucketName', {
        description: "The bucket for the SES receipt rule's S3 action",
        value: this.sesInbound.bucketName,
      });
      new CfnOutput(this, 'SesInboundPrefix', {
        description: "The S3 action's object key prefix",
        value: config.sesInbound!.prefix,
      });
      new CfnOutput(this, 'SesInboundQueueUrl', {
        description:
          'Notifications of SES objects; send one here to process an object again (docs/ses-inbound.md)',
        value: this.sesInbound.queue.queueUrl,
      });
      new CfnOutput(this, 'SesInboundFunctionName', { value: this.sesInbound.function.functionName });
      new CfnOutput(this, 'SesInboundDeadLetterQueueUrl', {
        value: this.sesInbound.deadLetterQueue.queueUrl,
      });
    }
  }
}
