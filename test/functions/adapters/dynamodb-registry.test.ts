import {
  BatchWriteItemCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { DynamoDbRegistry, parseLastPoll } from '../../../functions/adapters/dynamodb-registry';
import { RegistryWriteError } from '../../../functions/adapters/errors';
import type { RegistryEntry } from '../../../functions/registry/ports';
import type { MailboxRecord } from '../../../functions/registry/record';

const ddbMock = mockClient(DynamoDBClient);
const TABLE = 'pop3-registry';
const NOW = new Date('2025-03-01T12:00:00.000Z');

const sleeps: number[] = [];
function registry(): DynamoDbRegistry {
  return new DynamoDbRegistry(new DynamoDBClient({ region: 'eu-west-1' }), TABLE, {
    now: () => NOW,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
}

function record(id: string, overrides: Partial<MailboxRecord> = {}): MailboxRecord {
  return {
    id,
    host: 'pop.example.com',
    username: `${id}@example.com`,
    secretId: 'pop3/shared-0001',
    ...overrides,
  };
}

async function collect(iterable: AsyncIterable<RegistryEntry>): Promise<RegistryEntry[]> {
  const out: RegistryEntry[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}

function serviceError(name: string, httpStatusCode: number): DynamoDBServiceException {
  return new DynamoDBServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: `${name} from the test`,
  });
}

beforeEach(() => {
  ddbMock.reset();
  sleeps.length = 0;
});

describe('Class: DynamoDbRegistry', () => {
  describe('entries', () => {
    it('scans page by page, passing LastEvaluatedKey as ExclusiveStartKey', async () => {
      ddbMock
        .on(ScanCommand, { TableName: TABLE, ExclusiveStartKey: undefined })
        .resolves({
          Items: [{ id: { S: 'a' }, record: { S: '{"host":"h","username":"u","secretId":"s"}' } }],
          LastEvaluatedKey: { id: { S: 'a' } },
        })
        .on(ScanCommand, { TableName: TABLE, ExclusiveStartKey: { id: { S: 'a' } } })
        .resolves({
          Items: [{ id: { S: 'b' }, record: { S: '{"host":"h","username":"u","secretId":"s"}' } }],
        });

      const entries = await collect(registry().entries());

      expect(entries.map((e) => e.id)).toEqual(['a', 'b']);
      expect(ddbMock).toHaveReceivedCommandTimes(ScanCommand, 2);
      expect(ddbMock.commandCalls(ScanCommand)[0]!.args[0].input).toEqual({ TableName: TABLE });
      expect(ddbMock.commandCalls(ScanCommand)[1]!.args[0].input).toEqual({
        TableName: TABLE,
        ExclusiveStartKey: { id: { S: 'a' } },
      });
      expect(entries[0]).toEqual({ id: 'a', record: { id: 'a', host: 'h', username: 'u', secretId: 's' } });
    });

    it('reports a bad item with problems and goes on; keeps lastPoll-only items and updatedAt', async () => {
      const lastPoll = { at: '2025-03-01T11:00:00.000Z', status: 'failed', code: 'EAUTH', archived: 0 };
      ddbMock.on(ScanCommand).resolves({
        Items: [
          { id: { S: 'bad-json' }, record: { S: '{not json' } },
          { id: { S: 'bad-port' }, record: { S: '{"host":"h","username":"u","secretId":"s","port":0}' } },
          { id: { S: 'not-string' }, record: { N: '1' } },
          { id: { S: 'config-only' }, lastPoll: { S: JSON.stringify(lastPoll) } },
          {
            id: { S: 'good' },
            record: { S: '{"host":"h","username":"u","secretId":"s"}' },
            lastPoll: { S: '{"at":"x"}' },
            updatedAt: { S: '2025-02-01T00:00:00.000Z' },
          },
          { record: { S: '{}' } },
        ],
      });

      const entries = await collect(registry().entries());

      expect(entries).toEqual([
        { id: 'bad-json', problems: ['the "record" attribute is not JSON'] },
        { id: 'bad-port', problems: ['port must be an integer from 1 to 65535'] },
        { id: 'not-string', problems: ['the "record" attribute is not a string'] },
        { id: 'config-only', lastPoll },
        {
          id: 'good',
          record: { id: 'good', host: 'h', username: 'u', secretId: 's' },
          updatedAt: '2025-02-01T00:00:00.000Z',
        },
      ]);
    });

    it('names the table when the scan fails', async () => {
      ddbMock.on(ScanCommand).rejects(serviceError('ResourceNotFoundException', 400));
      await expect(collect(registry().entries())).rejects.toThrow(
        'reading registry table "pop3-registry" failed: ResourceNotFoundException',
      );
    });
  });

  it('parses a last poll leniently', () => {
    expect(parseLastPoll(undefined)).toBeUndefined();
    expect(parseLastPoll('[]')).toBeUndefined();
    expect(parseLastPoll('{"at":"t","status":"weird"}')).toBeUndefined();
    expect(parseLastPoll('{"at":"t","status":"ok","code":7,"archived":3,"extra":1}')).toEqual({
      at: 't',
      status: 'ok',
      archived: 3,
    });
  });

  it('reads one entry with a consistent GetItem', async () => {
    ddbMock
      .on(GetItemCommand)
      .resolves({ Item: { id: { S: 'a' }, record: { S: '{"host":"h","username":"u","secretId":"s"}' } } });
    await expect(registry().entry('a')).resolves.toEqual({
      id: 'a',
      record: { id: 'a', host: 'h', username: 'u', secretId: 's' },
    });
    expect(ddbMock.commandCalls(GetItemCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { id: { S: 'a' } },
      ConsistentRead: true,
    });
    ddbMock.on(GetItemCommand).resolves({});
    await expect(registry().entry('b')).resolves.toBeUndefined();
  });

  it('writes a last poll with SET lastPoll only', async () => {
    ddbMock.on(UpdateItemCommand).resolves({});
    const lastPoll = { at: NOW.toISOString(), status: 'ok', archived: 2 } as const;
    await registry().writeLastPoll('support', lastPoll);
    expect(ddbMock.commandCalls(UpdateItemCommand)[0]!.args[0].input).toEqual({
      TableName: TABLE,
      Key: { id: { S: 'support' } },
      UpdateExpression: 'SET lastPoll = :p',
      ExpressionAttributeValues: { ':p': { S: JSON.stringify(lastPoll) } },
    });
  });

  describe('putRecords', () => {
    it('sets record and updatedAt per item with UpdateItem, never replacing the item (lastPoll stays)', async () => {
      ddbMock.on(UpdateItemCommand).resolves({});
      const records = Array.from({ length: 40 }, (_, i) =>
        record(`m${i}`, i === 0 ? { port: 995, mode: 'keep' } : {}),
      );

      await registry().putRecords(records);

      expect(ddbMock).toHaveReceivedCommandTimes(UpdateItemCommand, 40);
      expect(ddbMock).not.toHaveReceivedCommand(BatchWriteItemCommand);
      const first = ddbMock.commandCalls(UpdateItemCommand).find((c) => c.args[0].input.Key!.id!.S === 'm0')!;
      expect(first.args[0].input).toEqual({
        TableName: TABLE,
        Key: { id: { S: 'm0' } },
        UpdateExpression: 'SET #record = :record, #updatedAt = :updatedAt',
        ExpressionAttributeNames: { '#record': 'record', '#updatedAt': 'updatedAt' },
        ExpressionAttributeValues: {
          ':record': {
            S: '{"host":"pop.example.com","port":995,"username":"m0@example.com","secretId":"pop3/shared-0001","mode":"keep"}',
          },
          ':updatedAt': { S: NOW.toISOString() },
        },
      });
      const ids = ddbMock.commandCalls(UpdateItemCommand).map((c) => c.args[0].input.Key!.id!.S);
      expect(new Set(ids)).toEqual(new Set(records.map((r) => r.id)));
    });

    it('stops after a failed request and names how many ids were not written', async () => {
      ddbMock
        .on(UpdateItemCommand)
        .resolves({})
        .on(UpdateItemCommand, { Key: { id: { S: 'm3' } } })
        .rejects(serviceError('ProvisionedThroughputExceededException', 400));
      const reg = new DynamoDbRegistry(new DynamoDBClient({ region: 'eu-west-1' }), TABLE, {
        writeConcurrency: 1,
      });

      const error = await reg
        .putRecords(Array.from({ length: 10 }, (_, i) => record(`m${i}`)))
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(RegistryWriteError);
      expect((error as RegistryWriteError).ids).toEqual(['m3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
      expect((error as Error).message).toBe(
        '7 of 10 mailbox records were not written to table "pop3-registry" (m3, m4, m5, m6, m7, …): ' +
          'ProvisionedThroughputExceededException: ProvisionedThroughputExceededException from the test',
      );
      expect(ddbMock).toHaveReceivedCommandTimes(UpdateItemCommand, 4);
    });
  });

  describe('removeRecords', () => {
    it('deletes in BatchWriteItem chunks of 25', async () => {
      ddbMock.on(BatchWriteItemCommand).resolves({});
      const ids = Array.from({ length: 60 }, (_, i) => `m${i}`);

      await registry().removeRecords([...ids, 'm0']);

      const calls = ddbMock
        .commandCalls(BatchWriteItemCommand)
        .map((c) => c.args[0].input.RequestItems![TABLE]!);
      expect(calls.map((c) => c.length)).toEqual([25, 25, 10]);
      expect(calls[0]![0]).toEqual({ DeleteRequest: { Key: { id: { S: 'm0' } } } });
      expect(calls.flat().map((r) => r.DeleteRequest!.Key!.id!.S)).toEqual(ids);
    });

    it('re-sends UnprocessedItems with backoff', async () => {
      const unprocessed = [{ DeleteRequest: { Key: { id: { S: 'b' } } } }];
      ddbMock
        .on(BatchWriteItemCommand)
        .resolvesOnce({ UnprocessedItems: { [TABLE]: unprocessed } })
        .resolves({ UnprocessedItems: {} });

      await registry().removeRecords(['a', 'b']);

      expect(ddbMock).toHaveReceivedCommandTimes(BatchWriteItemCommand, 2);
      expect(ddbMock.commandCalls(BatchWriteItemCommand)[1]!.args[0].input).toEqual({
        RequestItems: { [TABLE]: unprocessed },
      });
      expect(sleeps).toHaveLength(1);
      expect(sleeps[0]).toBeGreaterThanOrEqual(50);
      expect(sleeps[0]).toBeLessThanOrEqual(100);
    });

    it('gives up after 3 more rounds and names how many ids were not written', async () => {
      ddbMock.on(BatchWriteItemCommand).callsFake((input: { RequestItems: Record<string, unknown[]> }) => ({
        UnprocessedItems: { [TABLE]: input.RequestItems[TABLE]!.slice(0, 2) },
      }));

      const error = await registry()
        .removeRecords(['a', 'b', 'c'])
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(RegistryWriteError);
      expect((error as RegistryWriteError).ids).toEqual(['a', 'b']);
      expect((error as Error).message).toMatch(
        /^2 registry items were still unprocessed in table "pop3-registry" after 3 retries \(a, b\)/,
      );
      expect(ddbMock).toHaveReceivedCommandTimes(BatchWriteItemCommand, 4);
      expect(sleeps).toHaveLength(3);
    });

    it('leaves whole-request failures to the SDK: one send, then an error', async () => {
      ddbMock.on(BatchWriteItemCommand).rejects(serviceError('InternalServerError', 500));
      const error = await registry()
        .removeRecords(['a'])
        .catch((e: unknown) => e);
      expect((error as RegistryWriteError).ids).toEqual(['a']);
      expect((error as Error).message).toMatch(/^1 registry items were not written .*InternalServerError/);
      expect(ddbMock).toHaveReceivedCommandTimes(BatchWriteItemCommand, 1);
    });
  });
});
