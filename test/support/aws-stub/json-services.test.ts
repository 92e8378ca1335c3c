import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Wire } from './http';
import { startAwsStub, type AwsStub } from './index';

/** SQS, EventBridge, Secrets Manager and DynamoDB against the real clients, configured by env only. */

let aws: AwsStub;
let clock = 1_000_000;
let sqs: SQSClient;
let events: EventBridgeClient;
let secrets: SecretsManagerClient;
let dynamodb: DynamoDBClient;
const saved = { ...process.env };

beforeAll(async () => {
  aws = await startAwsStub({
    tables: { registry: { hashKey: 'id' } },
    scanPageBytes: 1000,
    now: () => clock,
  });
  Object.assign(process.env, aws.env());
  sqs = new SQSClient({});
  events = new EventBridgeClient({});
  secrets = new SecretsManagerClient({});
  dynamodb = new DynamoDBClient({});
});
afterAll(async () => {
  for (const c of [sqs, events, secrets, dynamodb]) c.destroy();
  process.env = saved;
  await aws.close();
});
beforeEach(() => aws.reset());

async function rejected(
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('SQS', () => {
  // Queue URLs on the stub: without an explicit endpoint the SQS client sends to the QueueUrl's origin.
  let fifo: string;
  let standard: string;
  beforeAll(() => {
    fifo = aws.sqs.queueUrl('jobs.fifo');
    standard = aws.sqs.queueUrl('work');
  });

  test('FIFO: groups, deduplication ids and order are kept; a group is held while in flight', async () => {
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: fifo,
        Entries: [
          { Id: '1', MessageBody: 'a1', MessageGroupId: 'a', MessageDeduplicationId: 'd1' },
          { Id: '2', MessageBody: 'a2', MessageGroupId: 'a', MessageDeduplicationId: 'd2' },
          { Id: '3', MessageBody: 'b1', MessageGroupId: 'b', MessageDeduplicationId: 'd3' },
        ],
      }),
    );
    expect(sent.Successful?.map((s) => s.Id)).toEqual(['1', '2', '3']);
    expect(sent.Failed ?? []).toEqual([]);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: fifo,
        MessageBody: 'dup',
        MessageGroupId: 'a',
        MessageDeduplicationId: 'd1',
      }),
    );
    expect(aws.sqs.messages(fifo).map((m) => [m.body, m.messageGroupId, m.messageDeduplicationId])).toEqual([
      ['a1', 'a', 'd1'],
      ['a2', 'a', 'd2'],
      ['b1', 'b', 'd3'],
    ]);
    const first = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: fifo,
        MaxNumberOfMessages: 1,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    expect(first.Messages?.map((m) => m.Body)).toEqual(['a1']);
    expect(first.Messages?.[0]?.Attributes).toMatchObject({
      MessageGroupId: 'a',
      MessageDeduplicationId: 'd1',
      ApproximateReceiveCount: '1',
    });
    // group a is held while a1 is in flight; b is not
    const second = await sqs.send(new ReceiveMessageCommand({ QueueUrl: fifo, MaxNumberOfMessages: 10 }));
    expect(second.Messages?.map((m) => m.Body)).toEqual(['b1']);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: fifo,
        Entries: [...first.Messages!, ...second.Messages!].map((m, i) => ({
          Id: String(i),
          ReceiptHandle: m.ReceiptHandle!,
        })),
      }),
    );
    const next = await sqs.send(new ReceiveMessageCommand({ QueueUrl: fifo, MaxNumberOfMessages: 10 }));
    expect(next.Messages?.map((m) => m.Body)).toEqual(['a2']);
    const noGroup = await rejected(sqs.send(new SendMessageCommand({ QueueUrl: fifo, MessageBody: 'x' })));
    expect(noGroup.name).toBe('MissingParameter');
  });

  test('DelaySeconds and ChangeMessageVisibility follow the clock; DeleteMessage removes', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: standard, MessageBody: 'later', DelaySeconds: 30 }));
    expect(aws.sqs.messages(standard)[0]?.delaySeconds).toBe(30);
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: standard }))).Messages).toBeUndefined();
    clock += 30_000;
    const [m] = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: standard, VisibilityTimeout: 60 })))
      .Messages!;
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: standard,
        ReceiptHandle: m!.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const [again] = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: standard }))).Messages!;
    expect(again!.Body).toBe('later');
    // an older receipt handle deletes nothing and is no error (SQS); an unknown one is an error
    await sqs.send(new DeleteMessageCommand({ QueueUrl: standard, ReceiptHandle: m!.ReceiptHandle }));
    expect(aws.sqs.messages(standard)).toHaveLength(1);
    const bogus = await rejected(
      sqs.send(new DeleteMessageCommand({ QueueUrl: standard, ReceiptHandle: 'bogus' })),
    );
    expect(bogus.name).toBe('ReceiptHandleIsInvalid');
    await sqs.send(new DeleteMessageCommand({ QueueUrl: standard, ReceiptHandle: again!.ReceiptHandle }));
    expect(aws.sqs.messages(standard)).toEqual([]);
    expect(aws.sqs.sent(standard)).toHaveLength(1);
  });

  test('chosen batch entries fail; a batch of 11 is refused', async () => {
    aws.sqs.failEntries((e) => e.Id === 'b');
    const out = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: standard,
        Entries: [
          { Id: 'a', MessageBody: '1' },
          { Id: 'b', MessageBody: '2' },
        ],
      }),
    );
    expect(out.Failed?.map((f) => f.Id)).toEqual(['b']);
    expect(aws.sqs.messages(standard).map((m) => m.body)).toEqual(['1']);
    const tooMany = Array.from({ length: 11 }, (_, i) => ({ Id: String(i), MessageBody: 'x' }));
    const error = await rejected(
      sqs.send(new SendMessageBatchCommand({ QueueUrl: standard, Entries: tooMany })),
    );
    expect(error.name).toBe('TooManyEntriesInBatchRequest');
  });
});

describe('EventBridge', () => {
  test('PutEvents stores entries; chosen entries fail with FailedEntryCount', async () => {
    aws.events.failEntries((_e, i) => i === 1, 'ThrottlingException');
    const out = await events.send(
      new PutEventsCommand({
        Entries: ['a', 'b', 'c'].map((x) => ({
          EventBusName: 'bus',
          Source: 'pop3',
          DetailType: 't',
          Detail: JSON.stringify({ x }),
          Time: new Date(0),
        })),
      }),
    );
    expect(out.FailedEntryCount).toBe(1);
    expect(out.Entries?.[1]).toMatchObject({ ErrorCode: 'ThrottlingException' });
    expect(aws.events.entries('bus').map((e) => JSON.parse(e.detail).x)).toEqual(['a', 'c']);
    const malformed = await events.send(
      new PutEventsCommand({ Entries: [{ Source: 's', DetailType: 't', Detail: '[1]' }] }),
    );
    expect(malformed.Entries?.[0]?.ErrorCode).toBe('MalformedDetail');
    expect(aws.counts()).toEqual({ 'EventBridge.PutEvents': 2 });
  });
});

describe('Secrets Manager', () => {
  test('seeded secrets are read by name and ARN, written back, created and listed; a missing one is ResourceNotFound', async () => {
    aws.secrets.put('pop/alice', '{"password":"p"}');
    const got = await secrets.send(new GetSecretValueCommand({ SecretId: 'pop/alice' }));
    expect(got.SecretString).toBe('{"password":"p"}');
    expect((await secrets.send(new GetSecretValueCommand({ SecretId: got.ARN }))).Name).toBe('pop/alice');
    await secrets.send(
      new PutSecretValueCommand({ SecretId: 'pop/alice', SecretString: '{"password":"q"}' }),
    );
    expect(aws.secrets.versions('pop/alice')).toEqual(['{"password":"p"}', '{"password":"q"}']);
    await secrets.send(new CreateSecretCommand({ Name: 'pop/bob', SecretString: 'b' }));
    const exists = await rejected(
      secrets.send(new CreateSecretCommand({ Name: 'pop/bob', SecretString: 'b' })),
    );
    expect(exists.name).toBe('ResourceExistsException');
    const list = await secrets.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['pop/'] }], MaxResults: 1 }),
    );
    expect(list.SecretList?.map((s) => s.Name)).toEqual(['pop/alice']);
    const rest = await secrets.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['pop/'] }], NextToken: list.NextToken }),
    );
    expect(rest.SecretList?.map((s) => s.Name)).toEqual(['pop/bob']);
    const missing = await rejected(secrets.send(new GetSecretValueCommand({ SecretId: 'nope' })));
    expect(missing.name).toBe('ResourceNotFoundException');
  });
});

describe('DynamoDB', () => {
  const id = (n: number): { id: { S: string } } => ({ id: { S: `m${String(n).padStart(3, '0')}` } });

  test('Scan pages by Limit and by the byte cap (item size), with ExclusiveStartKey', async () => {
    for (let n = 0; n < 12; n++)
      aws.dynamodb.putItem('registry', { ...id(n), record: { S: 'x'.repeat(200) } });
    const byLimit = await dynamodb.send(new ScanCommand({ TableName: 'registry', Limit: 5 }));
    expect(byLimit.Items).toHaveLength(5);
    expect(byLimit.LastEvaluatedKey).toEqual(id(4));
    const seen: string[] = [];
    let startKey: Record<string, Wire> | undefined;
    let pages = 0;
    do {
      const page = await dynamodb.send(
        new ScanCommand({ TableName: 'registry', ExclusiveStartKey: startKey }),
      );
      seen.push(...page.Items!.map((i) => i.id!.S!));
      startKey = page.LastEvaluatedKey;
      pages++;
    } while (startKey);
    // each item is 2 + 4 + 6 + 200 = 212 bytes; the page stops once 1000 bytes are reached: 5 items
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 12 }, (_, n) => id(n).id.S));
    const filtered = await rejected(
      dynamodb.send(new ScanCommand({ TableName: 'registry', FilterExpression: 'a = :b' })),
    );
    expect(filtered.name).toBe('ValidationException');
  });

  test('GetItem, UpdateItem SET with placeholders, PutItem with a condition, DeleteItem', async () => {
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: 'registry',
        Key: id(1),
        UpdateExpression: 'SET #record = :record, #updatedAt = :u',
        ExpressionAttributeNames: { '#record': 'record', '#updatedAt': 'updatedAt' },
        ExpressionAttributeValues: { ':record': { S: '{}' }, ':u': { S: 't1' } },
      }),
    );
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: 'registry',
        Key: id(1),
        UpdateExpression: 'SET lastPoll = :p',
        ExpressionAttributeValues: { ':p': { S: 'p' } },
      }),
    );
    const got = await dynamodb.send(
      new GetItemCommand({ TableName: 'registry', Key: id(1), ConsistentRead: true }),
    );
    expect(got.Item).toEqual({ ...id(1), record: { S: '{}' }, updatedAt: { S: 't1' }, lastPoll: { S: 'p' } });
    const taken = await rejected(
      dynamodb.send(
        new PutItemCommand({
          TableName: 'registry',
          Item: id(1),
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      ),
    );
    expect(taken.name).toBe('ConditionalCheckFailedException');
    await dynamodb.send(new DeleteItemCommand({ TableName: 'registry', Key: id(1) }));
    expect(
      (await dynamodb.send(new GetItemCommand({ TableName: 'registry', Key: id(1) }))).Item,
    ).toBeUndefined();
    const remove = await rejected(
      dynamodb.send(
        new UpdateItemCommand({ TableName: 'registry', Key: id(1), UpdateExpression: 'REMOVE lastPoll' }),
      ),
    );
    expect(remove.name).toBe('ValidationException');
    const noTable = await rejected(dynamodb.send(new GetItemCommand({ TableName: 'other', Key: id(1) })));
    expect(noTable.name).toBe('ResourceNotFoundException');
    expect(
      aws
        .calls()
        .filter((c) => c.service === 'DynamoDB' && c.status === 200)
        .every((c) => c.capacity !== undefined),
    ).toBe(true);
  });

  test('BatchWriteItem applies puts and deletes, and leaves some unprocessed once when asked', async () => {
    aws.dynamodb.leaveUnprocessed(2);
    const out = await dynamodb.send(
      new BatchWriteItemCommand({
        RequestItems: { registry: [1, 2, 3].map((n) => ({ PutRequest: { Item: id(n) } })) },
      }),
    );
    expect(out.UnprocessedItems?.['registry']?.map((r) => r.PutRequest?.Item)).toEqual([id(2), id(3)]);
    expect(aws.dynamodb.items('registry')).toEqual([id(1)]);
    await dynamodb.send(new BatchWriteItemCommand({ RequestItems: out.UnprocessedItems }));
    await dynamodb.send(
      new BatchWriteItemCommand({ RequestItems: { registry: [{ DeleteRequest: { Key: id(1) } }] } }),
    );
    expect(aws.dynamodb.items('registry')).toEqual([id(2), id(3)]);
  });
});

test('unknown operations of a JSON service are 400 UnknownOperationException and counted; faults apply per operation', async () => {
  const res = await fetch(aws.url, {
    method: 'POST',
    headers: { 'x-amz-target': 'AmazonSQS.PurgeQueue', 'content-type': 'application/x-amz-json-1.0' },
    body: '{}',
  });
  expect(res.status).toBe(400);
  expect(((await res.json()) as { __type: string }).__type).toMatch(/UnknownOperationException$/);
  aws.fail('SecretsManager.GetSecretValue', { times: 1, status: 400, name: 'AccessDeniedException' });
  aws.secrets.put('s', 'v');
  const denied = await rejected(secrets.send(new GetSecretValueCommand({ SecretId: 's' })));
  expect(denied.name).toBe('AccessDeniedException');
  expect((await secrets.send(new GetSecretValueCommand({ SecretId: 's' }))).SecretString).toBe('v');
  expect(aws.counts()).toEqual({ 'SQS.PurgeQueue': 1, 'SecretsManager.GetSecretValue': 2 });
  expect(aws.calls()[0]).toMatchObject({ implemented: false, error: 'UnknownOperationException' });
  expect(aws.calls().every((c) => c.requestBytes > 0 && c.responseBytes > 0)).toBe(true);
});
