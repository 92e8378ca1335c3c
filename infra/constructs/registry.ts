import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { REGISTRY_ITEM } from '../../functions/registry/record';

/**
 * The mailbox registry (functions/registry/record.ts): one item per mailbox, partition key `id`,
 * the record and its last poll as JSON text. On demand (a fleet's reads come in bursts, once per
 * schedule tick), point-in-time recovery on, deletion protection on, retained with the stack: it
 * is the fleet's configuration. Encrypted with the AWS-managed key, or the archive's
 * customer-managed key when there is one.
 */
export class Registry {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, key: kms.IKey | undefined) {
    this.table = new dynamodb.Table(scope, 'RegistryTable', {
      partitionKey: { name: REGISTRY_ITEM.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(key
        ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key }
        : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
    });
    new CfnOutput(scope, 'RegistryTableName', {
      description: 'The mailbox registry (pop3-poller mailboxes add|list|remove); retained on stack deletion',
      value: this.table.tableName,
    });
  }
}
