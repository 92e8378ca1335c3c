import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startAwsStub, type AwsStub } from './index';

/**
 * A child `node` with nothing but the stub's env() (and PATH) reaches the stub with default
 * clients (`new XClient({})`, as the Lambda bundles create them): built bundles can be run
 * against it the same way.
 */

const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');

const script = `
const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3');
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');
const { EventBridgeClient, PutEventsCommand } = require('@aws-sdk/client-eventbridge');
const { SecretsManagerClient, GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
const { DynamoDBClient, ScanCommand } = require('@aws-sdk/client-dynamodb');
(async () => {
  const [queueUrl] = process.argv.slice(1);
  await new S3Client({}).send(new PutObjectCommand({ Bucket: 'b', Key: 'from-child', Body: 'hi' }));
  await new SQSClient({}).send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'job' }));
  await new EventBridgeClient({}).send(new PutEventsCommand({ Entries: [{ Source: 's', DetailType: 't', Detail: '{}' }] }));
  const secret = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: 'x' }));
  const scan = await new DynamoDBClient({}).send(new ScanCommand({ TableName: 't' }));
  process.stdout.write(JSON.stringify({ secret: secret.SecretString, items: scan.Count }));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`;

let aws: AwsStub;
beforeAll(async () => {
  aws = await startAwsStub({ tables: { t: { hashKey: 'id' } } });
});
afterAll(() => aws.close());

test('a child process configured only by env() reaches every service of the stub', async () => {
  aws.secrets.put('x', 'secret-value');
  aws.dynamodb.putItem('t', { id: { S: '1' } });
  const { stdout } = await run(process.execPath, ['-e', script, aws.sqs.queueUrl('q')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', ...aws.env() },
  });
  expect(JSON.parse(stdout)).toEqual({ secret: 'secret-value', items: 1 });
  expect(aws.s3.object('b', 'from-child')?.toString()).toBe('hi');
  expect(aws.sqs.messages(aws.sqs.queueUrl('q')).map((m) => m.body)).toEqual(['job']);
  expect(aws.events.entries()).toHaveLength(1);
  expect(aws.counts()).toEqual({
    'S3.PutObject': 1,
    'SQS.SendMessage': 1,
    'EventBridge.PutEvents': 1,
    'SecretsManager.GetSecretValue': 1,
    'DynamoDB.Scan': 1,
  });
});
