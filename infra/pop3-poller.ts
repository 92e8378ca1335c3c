import * as path from 'node:path';
import {
  ArnFormat,
  CfnOutput,
  Duration,
  Fn,
  RemovalPolicy,
  SecretValue,
  Stack,
  TimeZone,
  Validations,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaDestinations from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV, type DispatchInput } from '../functions/handlers/contract';
import { EVENT_SOURCE } from '../functions/poller/events';
import type { Pop3PollerProps } from './props';
import { resolveConfig, type ResolvedConfig } from './validation';

export type * from './props';
export { Pop3PollerConfigError } from './validation';

/** Where the Lambda entry points live, and the lock file esbuild resolves packages against. */
const PROJECT_ROOT = path.join(__dirname, '..');
const HANDLERS_DIR = path.join(PROJECT_ROOT, 'functions', 'handlers');

/**
 * What the handlers emit with Powertools Metrics (EMF in the logs, no API calls): the namespace,
 * the `service` dimension (POWERTOOLS_SERVICE_NAME, set here; the only dimension, so 10,000
 * accounts are not 10,000 custom metrics) and the metric names (functions/handlers/worker.ts and
 * dispatcher.ts).
 */
export const METRICS = {
  namespace: 'Pop3Poller',
  workerService: 'pop3-poller-worker',
  dispatcherService: 'pop3-poller-dispatcher',
  /** 1 when an account fails in a way a retry will not fix (bad password, TLS, server refuses). */
  needsAttention: 'NeedsAttention',
  /** One data point per poll: 0 when it succeeded, 1 when it failed (so SampleCount = polls). */
  pollErrors: 'PollErrors',
  messagesArchived: 'MessagesArchived',
  bytesArchived: 'BytesArchived',
  messagesDeleted: 'MessagesDeleted',
  pollDuration: 'PollDuration',
  /** Messages left on the server by a run (bounds, deadline or failures). */
  backlog: 'Backlog',
  jobsEnqueued: 'JobsEnqueued',
  enqueueFailures: 'EnqueueFailures',
} as const;

/** The placeholder a created secret starts with; the stack never rewrites it while this is unchanged. */
const SECRET_PLACEHOLDER = { host: '', port: '995', tls: 'implicit', username: '', password: '' };

/**
 * The whole POP3 poller deployment: EventBridge Scheduler schedules invoke a dispatcher, which
 * enqueues one job per account on an SQS FIFO queue (message group = account, so a mailbox is
 * never polled by two sessions at once); a worker Lambda polls one account per job, archives each
 * message to S3 and publishes events to EventBridge, and enqueues a follow-up job when the mailbox
 * holds more than one invocation can drain. Failed jobs are retried and end in a dead-letter queue.
 *
 * A minimal deployment is one statement:
 * `new Pop3Poller(stack, 'Poller', { accounts: [{ id: 'support', secret: 'create' }] })`.
 *
 * Props are checked at synth time; invalid or conflicting settings throw a
 * `Pop3PollerConfigError` listing every problem.
 */
export class Pop3Poller extends Construct {
  /** The props with every default applied. */
  readonly config: ResolvedConfig;
  readonly archiveBucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  /** The customer-managed key of the archive, when `archive.encryption` is `customer-managed`. */
  readonly archiveKey?: kms.Key;
  readonly eventBus: events.IEventBus;
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

  constructor(scope: Construct, id: string, props: Pop3PollerProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const config = resolveConfig(props, stack.stackName);
    this.config = config;

    // --- Storage ---------------------------------------------------------------------------------
    if (config.archive.encryption === 'customer-managed') {
      this.archiveKey = new kms.Key(this, 'ArchiveKey', {
        description: 'Pop3Poller archive bucket (SSE-KMS)',
        enableKeyRotation: true,
        // Archived mail outlives the stack; a deleted key would make it unreadable.
        removalPolicy: RemovalPolicy.RETAIN,
      });
    }
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogBucket', {
      // S3 server access logging delivers only to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: Duration.days(config.archive.accessLogRetentionDays) },
      ],
    });
    const rules = lifecycleRules(config);
    this.archiveBucket = new s3.Bucket(this, 'ArchiveBucket', {
      encryption: this.archiveKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.KMS_MANAGED,
      encryptionKey: this.archiveKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'archive-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
      ...(config.archive.objectLock
        ? {
            objectLockEnabled: true,
            objectLockDefaultRetention:
              config.archive.objectLock.mode === 'compliance'
                ? s3.ObjectLockRetention.compliance(Duration.days(config.archive.objectLock.retentionDays))
                : s3.ObjectLockRetention.governance(Duration.days(config.archive.objectLock.retentionDays)),
          }
        : {}),
      lifecycleRules: rules,
    });
    // CloudFormation types ObjectSizeGreaterThan as a string (sizes beyond 2^53); the L2 renders a number.
    const sizeRule = rules.findIndex((rule) => rule.objectSizeGreaterThan !== undefined);
    if (sizeRule >= 0) {
      (this.archiveBucket.node.defaultChild as s3.CfnBucket).addPropertyOverride(
        `LifecycleConfiguration.Rules.${sizeRule}.ObjectSizeGreaterThan`,
        String(config.archive.minTransitionSizeBytes),
      );
    }
    if (config.archive.objectLock && config.usesKeepMode) {
      Validations.of(this).addWarning(
        'Pop3Poller:ObjectLockKeepModeState',
        `Object Lock retains every version of the keep-mode state objects under "${config.archive.statePrefix}" ` +
          `for ${config.archive.objectLock.retentionDays} days too; each poll that archives something writes a new ` +
          'version. Expect that storage in the bill.',
      );
    }

    // --- Events ----------------------------------------------------------------------------------
    this.eventBus =
      config.eventBus.type === 'custom'
        ? new events.EventBus(this, 'EventBus', { description: 'Pop3Poller events (source pop3-poller)' })
        : events.EventBus.fromEventBusName(this, 'DefaultEventBus', 'default');
    if (config.eventBus.archiveRetentionDays > 0) {
      const archive = new events.Archive(this, 'EventArchive', {
        sourceEventBus: this.eventBus,
        eventPattern: { source: [EVENT_SOURCE] },
        retention: Duration.days(config.eventBus.archiveRetentionDays),
        description: 'Pop3Poller events, for replay',
      });
      new CfnOutput(this, 'EventArchiveArn', {
        description: 'Replay events with: aws events start-replay --event-source-arn <this>',
        value: archive.archiveArn,
      });
    }
    if (config.eventBus.exampleRule) {
      const sample = new sqs.Queue(this, 'MessageArchivedSampleQueue', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(4),
      });
      new events.Rule(this, 'MessageArchivedRule', {
        eventBus: this.eventBus,
        description: 'Example: every archived message, to a sample queue. Point your workflow here.',
        eventPattern: { source: [EVENT_SOURCE], detailType: ['Message Archived'] },
        targets: [new eventsTargets.SqsQueue(sample)],
      });
      new CfnOutput(this, 'SampleQueueUrl', {
        description: 'Receives every "Message Archived" event (example rule)',
        value: sample.queueUrl,
      });
    }

    // --- Queues ----------------------------------------------------------------------------------
    this.jobDeadLetterQueue = new sqs.Queue(this, 'JobDeadLetterQueue', {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // A FIFO message keeps its first enqueue time in the DLQ: keep it longer than the source.
      retentionPeriod: Duration.days(14),
    });
    this.jobQueue = new sqs.Queue(this, 'JobQueue', {
      fifo: true,
      // The dispatcher and the worker set deduplication ids (account and scheduled time).
      contentBasedDeduplication: false,
      // High-throughput FIFO: quotas per message group (one per account), not per queue.
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      // AWS's advice for a Lambda event source: at least 6× the function timeout.
      visibilityTimeout: Duration.seconds(6 * config.worker.timeoutSeconds),
      // A job is worth no more than the next scheduled run makes it.
      retentionPeriod: Duration.days(1),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.jobDeadLetterQueue, maxReceiveCount: config.worker.maxReceiveCount },
    });
    this.dispatchDeadLetterQueue = new sqs.Queue(this, 'DispatchDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    // --- Secrets ---------------------------------------------------------------------------------
    const createdSecrets: secretsmanager.Secret[] = [];
    for (const ref of config.secrets) {
      if (ref.kind !== 'create') continue;
      const secret = new secretsmanager.Secret(this, `Secret-${ref.accountId}`, {
        secretName: ref.secretId,
        description: `POP3 credentials of account "${ref.accountId}": JSON {host, port, tls, username, password}`,
        // A placeholder, not a secret: the user replaces it with the real values.
        secretObjectValue: Object.fromEntries(
          Object.entries(SECRET_PLACEHOLDER).map(([k, v]) => [k, SecretValue.unsafePlainText(v)]),
        ),
        // Credentials typed in by hand outlive the stack; delete them yourself when done.
        removalPolicy: RemovalPolicy.RETAIN,
      });
      createdSecrets.push(secret);
    }
    this.createdSecrets = createdSecrets;
    if (createdSecrets.length > 0) {
      new CfnOutput(this, 'SecretsToFill', {
        description:
          'Secrets created empty: put each account\'s {"host","port","tls","username","password"} in',
        value: config.secrets
          .filter((ref) => ref.kind === 'create')
          .map((ref) => ref.secretId)
          .join(', '),
      });
      new CfnOutput(this, 'CreatedSecretArns', {
        description:
          'ARNs of the created secrets, in the order of SecretsToFill (retained on stack deletion)',
        value: Fn.join(
          ', ',
          createdSecrets.map((secret) => secret.secretArn),
        ),
      });
    }

    // --- Network ---------------------------------------------------------------------------------
    let securityGroup: ec2.SecurityGroup | undefined;
    if (config.network.vpc !== 'none') {
      const network = config.network;
      let vpc: ec2.IVpc;
      if (network.vpc === 'new') {
        const eips =
          network.eipAllocationIds === undefined
            ? Array.from(
                { length: network.natGateways },
                (_, i) => new ec2.CfnEIP(this, `NatEip${i + 1}`, {}),
              )
            : undefined;
        const created = new ec2.Vpc(this, 'Vpc', {
          maxAzs: network.maxAzs,
          natGateways: network.natGateways,
          natGatewayProvider: ec2.NatProvider.gateway({
            eipAllocationIds: eips ? eips.map((eip) => eip.attrAllocationId) : [...network.eipAllocationIds!],
          }),
          subnetConfiguration: [
            { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
            { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
          ],
        });
        // S3 traffic skips the NAT gateway (no per-GB NAT charge for archived bytes).
        created.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
        created.addFlowLog('FlowLog', {
          trafficType: ec2.FlowLogTrafficType.REJECT,
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'FlowLogGroup', { retention: config.logRetentionDays }),
          ),
        });
        new CfnOutput(this, 'NatEgressIps', {
          description: 'Source IPs the POP3 servers see (allow-list these)',
          value: eips
            ? Fn.join(
                ', ',
                eips.map((eip) => eip.ref),
              )
            : network.eipAllocationIds!.join(', '),
        });
        vpc = created;
      } else {
        vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
          vpcId: network.vpcId,
          availabilityZones: [...network.availabilityZones],
          privateSubnetIds: [...network.privateSubnetIds],
        });
        for (const subnet of vpc.privateSubnets) {
          Validations.of(subnet).acknowledge({
            id: '@aws-cdk/aws-ec2:noSubnetRouteTableId',
            reason:
              'Subnets described without a lookup (synth stays offline); nothing here reads their route tables.',
          });
        }
      }
      securityGroup = new ec2.SecurityGroup(this, 'WorkerSecurityGroup', {
        vpc,
        description: 'Pop3Poller worker: HTTPS to AWS APIs and POP3 to mail servers, nothing inbound',
        allowAllOutbound: false,
      });
      securityGroup.addEgressRule(
        ec2.Peer.anyIpv4(),
        ec2.Port.tcp(443),
        'AWS APIs (through NAT or endpoints)',
      );
      for (const port of network.pop3Ports) {
        securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), `POP3 servers (port ${port})`);
      }
      this.vpc = vpc;
    }

    // --- Lambdas ---------------------------------------------------------------------------------
    const runtime =
      config.worker.runtime === 'nodejs22.x' ? lambda.Runtime.NODEJS_22_X : lambda.Runtime.NODEJS_24_X;
    const common = (
      name: string,
      service: string,
      logGroup: logs.LogGroup,
    ): Partial<NodejsFunctionProps> => ({
      entry: path.join(HANDLERS_DIR, `${name}.ts`),
      handler: 'handler',
      runtime,
      architecture: lambda.Architecture.ARM_64,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      logGroup,
      bundling: {
        minify: true,
        sourceMap: true,
        // Maps without the sources: stack traces point at the right line, the bundle stays small.
        sourcesContent: false,
        format: OutputFormat.CJS,
        // Bundle (and so pin) the AWS SDK v3 instead of using the runtime's copy.
        externalModules: [],
      },
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: service,
        POWERTOOLS_METRICS_NAMESPACE: METRICS.namespace,
        POWERTOOLS_LOG_LEVEL: config.worker.logLevel,
        [ENV.JOB_QUEUE_URL]: this.jobQueue.queueUrl,
      },
    });

    const dispatcherLogs = new logs.LogGroup(this, 'DispatcherLogGroup', {
      retention: config.logRetentionDays,
    });
    this.dispatcherLogGroup = dispatcherLogs;
    const dispatcherRole = lambdaRole(this, 'DispatcherRole', dispatcherLogs, 'Pop3Poller dispatcher');
    this.dispatcher = new NodejsFunction(this, 'Dispatcher', {
      ...common('dispatcher', METRICS.dispatcherService, dispatcherLogs),
      description: 'Pop3Poller: enqueues one job per scheduled account',
      role: dispatcherRole,
      memorySize: config.dispatcher.memoryMiB,
      timeout: Duration.seconds(config.dispatcher.timeoutSeconds),
      // Scheduler invokes asynchronously: two retries, then the dead-letter queue.
      retryAttempts: 2,
      maxEventAge: Duration.minutes(15),
      onFailure: new lambdaDestinations.SqsDestination(this.dispatchDeadLetterQueue),
    });

    const workerLogs = new logs.LogGroup(this, 'WorkerLogGroup', { retention: config.logRetentionDays });
    this.workerLogGroup = workerLogs;
    const workerRole = lambdaRole(this, 'WorkerRole', workerLogs, 'Pop3Poller worker');
    if (securityGroup) {
      workerRole.addManagedPolicy(
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'),
      );
    }
    const workerCommon = common('worker', METRICS.workerService, workerLogs);
    this.worker = new NodejsFunction(this, 'Worker', {
      ...workerCommon,
      description: 'Pop3Poller: polls one account per job',
      role: workerRole,
      memorySize: config.worker.memoryMiB,
      timeout: Duration.seconds(config.worker.timeoutSeconds),
      reservedConcurrentExecutions: config.worker.reservedConcurrency,
      environment: {
        ...workerCommon.environment,
        [ENV.ARCHIVE_BUCKET]: this.archiveBucket.bucketName,
        [ENV.ARCHIVE_PREFIX]: config.archive.prefix,
        [ENV.STATE_PREFIX]: config.archive.statePrefix,
        ...(this.archiveKey ? { [ENV.ARCHIVE_KMS_KEY_ID]: this.archiveKey.keyArn } : {}),
        [ENV.EVENT_BUS_NAME]: this.eventBus.eventBusName,
        [ENV.DEADLINE_MARGIN_SECONDS]: String(config.worker.deadlineMarginSeconds),
        [ENV.MAX_FOLLOW_UPS]: String(config.worker.maxFollowUps),
        ...(config.worker.extraCaPem ? { [ENV.EXTRA_CA_PEM]: config.worker.extraCaPem } : {}),
      },
      ...(securityGroup && this.vpc
        ? { vpc: this.vpc, vpcSubnets: { subnets: this.vpc.privateSubnets }, securityGroups: [securityGroup] }
        : {}),
    });
    this.worker.addEventSource(
      new SqsEventSource(this.jobQueue, {
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: config.worker.maxConcurrency,
      }),
    );

    // --- Permissions (least privilege) -----------------------------------------------------------
    this.grantDispatcher(dispatcherRole);
    this.secretResources = this.grantWorker(workerRole, createdSecrets);

    // --- Schedules -------------------------------------------------------------------------------
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', {
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // One role for every schedule, assumable by Scheduler only for this account's schedule group.
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'Pop3Poller schedules: invoke the dispatcher',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': stack.account,
            'aws:SourceArn': this.scheduleGroup.scheduleGroupArn,
          },
        },
      }),
    });
    const schedules: scheduler.Schedule[] = [];
    for (const spec of config.schedules) {
      spec.chunks.forEach((jobs, i) => {
        // Scheduler fills in the run's time: the dispatcher derives de-duplication ids from it.
        const input: DispatchInput = { jobs, scheduledTime: scheduler.ContextAttribute.scheduledTime };
        const part = spec.chunks.length > 1 ? ` (part ${i + 1}/${spec.chunks.length})` : '';
        const scheduleId = `Schedule-${spec.key.replace(':', '-')}${spec.chunks.length > 1 ? `-${i + 1}` : ''}`;
        schedules.push(
          new scheduler.Schedule(this, scheduleId, {
            scheduleGroup: this.scheduleGroup,
            description: `${spec.description}${part}: ${jobs.length} account(s)`.slice(0, 512),
            schedule: scheduler.ScheduleExpression.expression(spec.expression, TimeZone.of(spec.timeZone)),
            enabled: spec.enabled,
            timeWindow:
              spec.flexibleWindowMinutes !== undefined
                ? scheduler.TimeWindow.flexible(Duration.minutes(spec.flexibleWindowMinutes))
                : scheduler.TimeWindow.off(),
            target: new schedulerTargets.LambdaInvoke(this.dispatcher, {
              role: this.schedulerRole,
              input: scheduler.ScheduleTargetInput.fromObject(input),
              deadLetterQueue: this.dispatchDeadLetterQueue,
              retryAttempts: 5,
              // A dispatch later than this is superseded by the next run anyway.
              maxEventAge: Duration.minutes(15),
            }),
          }),
        );
      });
    }
    this.schedules = schedules;

    // --- Alarms and dashboard --------------------------------------------------------------------
    const alarms = this.createAlarms(config);
    this.alarms = alarms;
    const topics: sns.ITopic[] = [];
    if (config.alarms.emails.length > 0) {
      this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
        displayName: 'Pop3Poller alarms',
        enforceSSL: true,
        ...(this.archiveKey ? { masterKey: this.archiveKey } : {}),
      });
      if (this.archiveKey) {
        // CloudWatch publishes to the encrypted topic.
        this.archiveKey.grant(
          new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
          'kms:Decrypt',
          'kms:GenerateDataKey',
        );
      }
      for (const email of config.alarms.emails) {
        this.alarmTopic.addSubscription(new snsSubscriptions.EmailSubscription(email));
      }
      topics.push(this.alarmTopic);
    }
    if (config.alarms.topicArn)
      topics.push(sns.Topic.fromTopicArn(this, 'ExistingAlarmTopic', config.alarms.topicArn));
    for (const alarm of alarms) {
      for (const topic of topics) {
        alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
        alarm.addOkAction(new cloudwatchActions.SnsAction(topic));
      }
    }
    if (config.dashboard) this.dashboard = this.createDashboard(alarms);

    // --- Outputs ---------------------------------------------------------------------------------
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
  }

  private grantDispatcher(role: iam.Role): void {
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'EnqueueJobs',
        actions: ['sqs:SendMessage'],
        resources: [this.jobQueue.queueArn],
      }),
    );
  }

  /** Grants the worker what it needs; returns the secrets it may read. */
  private grantWorker(role: iam.Role, createdSecrets: readonly secretsmanager.Secret[]): string[] {
    const stack = Stack.of(this);
    const config = this.config;
    const secretArn = (name: string): string =>
      stack.formatArn({
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: name,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    const secretResources = [...createdSecrets.map((s) => s.secretArn)];
    if (config.grantSecretsByPrefix) {
      secretResources.push(secretArn(`${config.secretNamePrefix}*`));
    } else {
      for (const ref of config.secrets) {
        if (ref.kind === 'name') secretResources.push(secretArn(`${ref.secretId}-??????`));
        // A complete ARN ends in the random suffix, a partial one does not; one of these matches.
        if (ref.kind === 'arn') secretResources.push(ref.secretId, `${ref.secretId}-??????`);
      }
    }
    const uniqueSecretResources = [...new Set(secretResources)];
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadAccountSecrets',
        // PutSecretValue: an OAuth 2.0 provider that rotates refresh tokens (Microsoft) returns a
        // new one with each refresh, which the worker writes back to the account's own secret
        // (only `oauth2.refreshToken` changes; see functions/adapters/secret-document.ts).
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
        resources: uniqueSecretResources,
      }),
    );
    if (config.secretKmsKeyArns.length > 0) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'DecryptAccountSecrets',
          // Decrypt to read; GenerateDataKey to write a rotated refresh token back.
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [...config.secretKmsKeyArns],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` } },
        }),
      );
    }

    const bucket = this.archiveBucket;
    const objectResources = [
      bucket.arnForObjects(`${config.archive.prefix}*`),
      bucket.arnForObjects(`${config.archive.statePrefix}*`),
    ];
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ArchiveAndStateObjects',
        // PutObject covers multipart uploads; GetObject covers HEAD (the 412 path compares the
        // stored checksum) and reading keep-mode state.
        actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
        resources: objectResources,
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'MissingObjectsAre404',
        // Without ListBucket, S3 answers 403 instead of 404 for a missing key (a first poll's
        // state object, an archived object deleted between a 412 and the HEAD).
        actions: ['s3:ListBucket'],
        // S3 checks ListBucket for that without a prefix in the request, so a condition on
        // s3:prefix would bring the 403 back.
        resources: [bucket.bucketArn],
      }),
    );
    if (this.archiveKey) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ArchiveKeyThroughS3',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [this.archiveKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } },
        }),
      );
    }
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PublishEvents',
        actions: ['events:PutEvents'],
        resources: [this.eventBus.eventBusArn],
        conditions: { StringEquals: { 'events:source': EVENT_SOURCE } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'EnqueueFollowUps',
        actions: ['sqs:SendMessage'],
        resources: [this.jobQueue.queueArn],
      }),
    );
    return uniqueSecretResources;
  }

  private metric(name: string, period: Duration, service: string = METRICS.workerService): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS.namespace,
      metricName: name,
      dimensionsMap: { service },
      statistic: cloudwatch.Stats.SUM,
      period,
    });
  }

  private createAlarms(config: ResolvedConfig): cloudwatch.Alarm[] {
    const five = Duration.minutes(5);
    const atLeastOne = {
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    };
    return [
      new cloudwatch.Alarm(this, 'WorkerErrorsAlarm', {
        alarmDescription: 'The worker Lambda failed (crash, timeout, out of memory). See its logs.',
        metric: this.worker.metricErrors({ period: five, statistic: cloudwatch.Stats.SUM }),
        ...atLeastOne,
      }),
      new cloudwatch.Alarm(this, 'DispatcherErrorsAlarm', {
        alarmDescription: 'The dispatcher Lambda failed: scheduled polls may not have been enqueued.',
        metric: this.dispatcher.metricErrors({ period: five, statistic: cloudwatch.Stats.SUM }),
        ...atLeastOne,
      }),
      new cloudwatch.Alarm(this, 'JobDeadLetterQueueAlarm', {
        alarmDescription: 'Poll jobs failed every retry and are in the job dead-letter queue.',
        metric: this.jobDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: five,
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        ...atLeastOne,
      }),
      new cloudwatch.Alarm(this, 'DispatchDeadLetterQueueAlarm', {
        alarmDescription: 'Scheduled dispatches failed and are in the dispatch dead-letter queue.',
        metric: this.dispatchDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: five,
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        ...atLeastOne,
      }),
      new cloudwatch.Alarm(this, 'NeedsAttentionAlarm', {
        alarmDescription:
          'An account fails in a way retrying will not fix (authentication, TLS, server refusal): ' +
          'search the worker logs for needsAttention.',
        metric: this.metric(METRICS.needsAttention, five),
        ...atLeastOne,
      }),
      new cloudwatch.Alarm(this, 'NoSuccessfulPollAlarm', {
        alarmDescription: `No poll has completed successfully for ${config.alarms.noSuccessHours} hour(s).`,
        // Every poll records PollErrors (0 or 1): polls that succeeded = SampleCount − Sum.
        metric: new cloudwatch.MathExpression({
          label: 'Successful polls',
          expression: 'polls - failed',
          usingMetrics: {
            polls: this.metric(METRICS.pollErrors, Duration.hours(1)).with({
              statistic: cloudwatch.Stats.SAMPLE_COUNT,
            }),
            failed: this.metric(METRICS.pollErrors, Duration.hours(1)),
          },
          period: Duration.hours(1),
        }),
        threshold: 1,
        evaluationPeriods: config.alarms.noSuccessHours,
        datapointsToAlarm: config.alarms.noSuccessHours,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        // No data at all (nothing polled, or the worker never ran) is exactly what this is for.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
      new cloudwatch.Alarm(this, 'JobQueueAgeAlarm', {
        alarmDescription:
          'Jobs wait over an hour in the job queue: raise worker.maxConcurrency, or an account is stuck.',
        metric: this.jobQueue.metricApproximateAgeOfOldestMessage({
          period: five,
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: 3600,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
  }

  private createDashboard(alarms: readonly cloudwatch.Alarm[]): cloudwatch.Dashboard {
    const five = Duration.minutes(5);
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(1),
    });
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...alarms], width: 24, height: 3 }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Mail archived',
        left: [this.metric(METRICS.messagesArchived, five), this.metric(METRICS.messagesDeleted, five)],
        right: [this.metric(METRICS.bytesArchived, five)],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Polls',
        left: [
          this.metric(METRICS.pollErrors, five).with({
            statistic: cloudwatch.Stats.SAMPLE_COUNT,
            label: 'Polls',
          }),
          this.metric(METRICS.pollErrors, five).with({ label: 'Failed polls' }),
          this.metric(METRICS.needsAttention, five),
        ],
        right: [this.metric(METRICS.pollDuration, five).with({ statistic: cloudwatch.Stats.p(99) })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Messages left on servers (backlog)',
        left: [this.metric(METRICS.backlog, five).with({ statistic: cloudwatch.Stats.MAXIMUM })],
        width: 8,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Worker invocations',
        left: [
          this.worker.metricInvocations({ period: five }),
          this.worker.metricErrors({ period: five }),
          this.worker.metricThrottles({ period: five }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Worker duration',
        left: [
          this.worker.metricDuration({ period: five, statistic: cloudwatch.Stats.p(50) }),
          this.worker.metricDuration({ period: five, statistic: cloudwatch.Stats.p(99) }),
          this.worker.metricDuration({ period: five, statistic: cloudwatch.Stats.MAXIMUM }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Worker concurrency',
        left: [
          this.worker.metric('ConcurrentExecutions', { period: five, statistic: cloudwatch.Stats.MAXIMUM }),
        ],
        width: 8,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Job queue',
        left: [
          this.jobQueue.metricApproximateNumberOfMessagesVisible({
            period: five,
            statistic: cloudwatch.Stats.MAXIMUM,
          }),
          this.jobQueue.metricApproximateNumberOfMessagesNotVisible({
            period: five,
            statistic: cloudwatch.Stats.MAXIMUM,
          }),
        ],
        right: [
          this.jobQueue.metricApproximateAgeOfOldestMessage({
            period: five,
            statistic: cloudwatch.Stats.MAXIMUM,
          }),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queues and dispatcher',
        left: [
          this.jobDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
            period: five,
            statistic: cloudwatch.Stats.MAXIMUM,
          }),
          this.dispatchDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
            period: five,
            statistic: cloudwatch.Stats.MAXIMUM,
          }),
        ],
        right: [
          this.metric(METRICS.jobsEnqueued, five, METRICS.dispatcherService),
          this.metric(METRICS.enqueueFailures, five, METRICS.dispatcherService),
          this.dispatcher.metricErrors({ period: five }),
        ],
        width: 12,
      }),
    );
    return dashboard;
  }
}

/** A Lambda role with only its own log group's write permissions (no managed policy). */
function lambdaRole(scope: Construct, id: string, logGroup: logs.LogGroup, what: string): iam.Role {
  const role = new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `${what} (least privilege)`,
  });
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'WriteOwnLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
  return role;
}

function lifecycleRules(config: ResolvedConfig): s3.LifecycleRule[] {
  const archive = config.archive;
  const transitions: s3.Transition[] = [];
  if (archive.glacierInstantRetrievalAfterDays > 0) {
    transitions.push({
      storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
      transitionAfter: Duration.days(archive.glacierInstantRetrievalAfterDays),
    });
  }
  if (archive.deepArchiveAfterDays !== undefined) {
    transitions.push({
      storageClass: s3.StorageClass.DEEP_ARCHIVE,
      transitionAfter: Duration.days(archive.deepArchiveAfterDays),
    });
  }
  const rules: s3.LifecycleRule[] = [
    { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
    {
      id: 'archive-noncurrent-versions',
      prefix: archive.prefix,
      noncurrentVersionExpiration: Duration.days(archive.noncurrentVersionExpirationDays),
      expiredObjectDeleteMarker: true,
    },
    {
      // State objects are rewritten on every poll that archives something; keep a week of history.
      id: 'state-noncurrent-versions',
      prefix: archive.statePrefix,
      noncurrentVersionExpiration: Duration.days(7),
      expiredObjectDeleteMarker: true,
    },
  ];
  if (transitions.length > 0) {
    rules.push({
      id: 'archive-transitions',
      prefix: archive.prefix,
      // S3 bills IA and Glacier IR objects as at least 128 KB; smaller ones would cost more there.
      objectSizeGreaterThan: archive.minTransitionSizeBytes,
      transitions,
    });
  }
  if (archive.expireAfterDays !== undefined) {
    rules.push({
      id: 'archive-expiration',
      prefix: archive.prefix,
      expiration: Duration.days(archive.expireAfterDays),
    });
  }
  return rules;
}
