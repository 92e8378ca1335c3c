import { Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambdaDestinations from 'aws-cdk-lib/aws-lambda-destinations';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ENV } from '../../functions/handlers/contract';
import { METRICS } from '../metrics';
import type { ResolvedConfig } from '../validation';
import { lambdaBase } from './lambda';
import { scheduleGroupNames } from './scheduling';

export interface DispatcherProps {
  readonly config: ResolvedConfig;
  readonly jobQueue: sqs.IQueue;
  readonly dispatchDeadLetterQueue: sqs.IQueue;
  readonly registryTable: dynamodb.ITable;
  /** The key the registry table is encrypted with, when customer-managed. */
  readonly registryKey?: kms.IKey;
}

/**
 * The dispatcher: invoked by the schedules, it reads the registry (Scan, nothing else) and the
 * schedule's configured accounts, and enqueues batch jobs, one message group per shard.
 */
export class Dispatcher {
  readonly function: NodejsFunction;
  /** Retained on stack deletion (CDK's default for log groups). */
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, props: DispatcherProps) {
    const { config } = props;
    const base = lambdaBase(scope, 'dispatcher', METRICS.dispatcherService, config, {
      [ENV.JOB_QUEUE_URL]: props.jobQueue.queueUrl,
      [ENV.REGISTRY_TABLE]: props.registryTable.tableName,
      [ENV.SHARDS]: String(config.fleet.shards),
      [ENV.BATCH_SIZE]: String(config.fleet.batchSize),
      [ENV.SCHEDULE_GROUPS]: scheduleGroupNames(config).join(','),
    });
    this.logGroup = base.logGroup;
    this.role = base.role;
    this.function = new NodejsFunction(scope, 'Dispatcher', {
      ...base.props,
      description: 'Pop3Poller: enqueues batch jobs of the scheduled mailboxes',
      memorySize: config.dispatcher.memoryMiB,
      timeout: Duration.seconds(config.dispatcher.timeoutSeconds),
      // Scheduler invokes asynchronously: two retries, then the dead-letter queue.
      retryAttempts: 2,
      maxEventAge: Duration.minutes(15),
      onFailure: new lambdaDestinations.SqsDestination(props.dispatchDeadLetterQueue),
    });

    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'EnqueueJobs',
        actions: ['sqs:SendMessage'],
        resources: [props.jobQueue.queueArn],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadRegistry',
        actions: ['dynamodb:Scan'],
        resources: [props.registryTable.tableArn],
      }),
    );
    if (props.registryKey) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'RegistryKeyThroughDynamoDb',
          actions: ['kms:Decrypt', 'kms:DescribeKey'],
          resources: [props.registryKey.keyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(scope).region}.amazonaws.com` },
          },
        }),
      );
    }
  }
}
