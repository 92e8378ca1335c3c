import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  SendMessageBatchCommand,
  SQSClient,
  SQSServiceException,
  type SendMessageBatchCommandInput,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { PollJob } from '../../../functions/handlers/contract';
import { handler } from '../../../functions/handlers/dispatcher';
import { shardOf } from '../../../functions/handlers/shards';
import { CapturedOutput, lambdaContext } from '../../support/lambda-harness';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/111122223333/pop3-jobs.fifo';
const TABLE = 'pop3-registry';
const MINUTE = '2025-03-04T10:05Z';
const sqsMock = mockClient(SQSClient);
const dynamoMock = mockClient(DynamoDBClient);

let output: CapturedOutput;
const savedEnv = { ...process.env };

beforeAll(() => {
  process.env.JOB_QUEUE_URL = QUEUE_URL;
  process.env.REGISTRY_TABLE = TABLE;
  process.env.SCHEDULE_GROUPS = 'default,night';
  delete process.env.SHARDS;
  delete process.env.BATCH_SIZE;
});

afterAll(() => {
  process.env = savedEnv;
});

beforeEach(() => {
  sqsMock.reset();
  dynamoMock.reset();
  dynamoMock.on(ScanCommand).resolves({ Items: [] });
  output = new CapturedOutput();
});

afterEach(() => output.restore());

function jobs(count: number): PollJob[] {
  return Array.from({ length: count }, (_, i) => ({
    accountId: `box-${String(i).padStart(2, '0')}`,
    secretId: `pop3/box-${i}`,
    ...(i % 3 === 0 ? { mode: 'keep' as const, deleteAfterDays: 30 } : {}),
    ...(i % 4 === 0 ? { maxMessages: 500 } : {}),
  }));
}

function item(id: string, record?: object | string, lastPoll?: object): Record<string, AttributeValue> {
  return {
    id: { S: id },
    ...(record !== undefined
      ? { record: { S: typeof record === 'string' ? record : JSON.stringify(record) } }
      : {}),
    ...(lastPoll ? { lastPoll: { S: JSON.stringify(lastPoll) } } : {}),
  };
}

const mailbox = (id: string, extra: object = {}) => ({
  host: 'pop.example.com',
  username: `${id}@example.com`,
  secretId: 'pop3/shared',
  ...extra,
});

const allSent = (input: SendMessageBatchCommandInput) => ({
  Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}`, MD5OfMessageBody: 'x' })),
  Failed: [],
});

function acceptAll() {
  sqsMock.on(SendMessageBatchCommand).callsFake(allSent);
}

function batchInputs(): SendMessageBatchCommandInput[] {
  return sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input);
}

function bodies(): Array<{ v: number; shard: number; mailboxes: PollJob[] }> {
  return batchInputs().flatMap((c) => c.Entries!.map((e) => JSON.parse(e.MessageBody!)));
}

/** The expected messages, worked out by hand: ids sorted, grouped by shard (32), shards in order. */
function expectedEntries(list: readonly PollJob[]) {
  const byShard = new Map<number, PollJob[]>();
  for (const job of [...list].sort((a, b) => (a.accountId < b.accountId ? -1 : 1))) {
    const shard = shardOf(job.accountId, 32);
    byShard.set(shard, [...(byShard.get(shard) ?? []), job]);
  }
  return [...byShard.keys()]
    .sort((a, b) => a - b)
    .map((shard) => {
      const mailboxes = byShard.get(shard)!;
      return {
        MessageGroupId: `shard-${shard}`,
        MessageDeduplicationId: `shard-${shard}@${MINUTE}#${mailboxes[0]!.accountId}`,
        body: { v: 2, shard, mailboxes },
      };
    });
}

describe('Lambda: dispatcher', () => {
  it('sends 25 configured jobs as batch jobs grouped by shard, with shard group and de-duplication ids', async () => {
    acceptAll();
    const input = { jobs: jobs(25), scheduledTime: '2025-03-04T10:05:00Z' };
    const expected = expectedEntries(input.jobs);
    expect(expected.length).toBeLessThan(25); // several mailboxes share a shard

    const result = await handler(input, lambdaContext());

    expect(result).toEqual({ jobs: 25, fromRegistry: 0, batches: expected.length, scheduledMinute: MINUTE });
    const calls = batchInputs();
    expect(calls.map((c) => c.Entries!.length)).toEqual(
      Array.from({ length: Math.ceil(expected.length / 10) }, (_, i) =>
        Math.min(10, expected.length - i * 10),
      ),
    );
    expect(calls.every((c) => c.QueueUrl === QUEUE_URL)).toBe(true);
    const entries = calls.flatMap((c) => c.Entries!);
    expect(
      entries.map((e) => ({
        MessageGroupId: e.MessageGroupId,
        MessageDeduplicationId: e.MessageDeduplicationId,
        body: JSON.parse(e.MessageBody!),
      })),
    ).toEqual(expected);
    for (const call of calls) expect(new Set(call.Entries!.map((e) => e.Id)).size).toBe(call.Entries!.length);
    // No registry group in the input, but configured jobs: the registry is read for their last polls.
    expect(dynamoMock).toHaveReceivedCommandWith(ScanCommand, { TableName: TABLE });
  });

  it("adds the registry mailboxes of the schedule's group, pages through the scan, and lets configuration win", async () => {
    acceptAll();
    dynamoMock
      .on(ScanCommand)
      .resolvesOnce({
        Items: [
          item('reg-a', mailbox('reg-a'), { at: '2025-03-04T10:00:00Z', status: 'failed', code: 'EAUTH' }),
          item('reg-night', mailbox('reg-night', { schedule: 'night' })),
          item('reg-default', mailbox('reg-default', { schedule: 'default' })),
          item('reg-off', mailbox('reg-off', { enabled: false })),
        ],
        LastEvaluatedKey: { id: { S: 'reg-off' } },
      })
      .resolvesOnce({
        Items: [
          item('reg-bad', mailbox('reg-bad', { port: 70000 })),
          item('box-00', mailbox('box-00', { host: 'other.example.com' }), {
            at: '2025-03-04T09:55:00Z',
            status: 'ok',
          }),
          item('box-01', undefined, { at: '2025-03-04T09:50:00Z', status: 'skipped', code: 'IN-USE' }),
        ],
      });
    const input = {
      jobs: jobs(2),
      registryGroup: 'default',
      defaultGroup: true,
      scheduledTime: '2025-03-04T10:05:00Z',
    };

    const result = await handler(input, lambdaContext());

    expect(result).toMatchObject({ jobs: 4, fromRegistry: 2, scheduledMinute: MINUTE });
    const scans = dynamoMock.commandCalls(ScanCommand).map((c) => c.args[0].input);
    expect(scans).toEqual([
      { TableName: TABLE },
      { TableName: TABLE, ExclusiveStartKey: { id: { S: 'reg-off' } } },
    ]);

    const sent = new Map(bodies().flatMap((b) => b.mailboxes.map((m) => [m.accountId, m] as const)));
    expect([...sent.keys()].sort()).toEqual(['box-00', 'box-01', 'reg-a', 'reg-default']);
    // Configuration wins over the registry record; the registry's last poll is attached.
    expect(sent.get('box-00')).toEqual({
      ...input.jobs[0],
      last: { status: 'ok', at: '2025-03-04T09:55:00Z' },
    });
    expect(sent.get('box-01')).toEqual({
      ...input.jobs[1],
      last: { status: 'skipped', at: '2025-03-04T09:50:00Z', code: 'IN-USE' },
    });
    expect(sent.get('reg-a')).toEqual({
      accountId: 'reg-a',
      secretId: 'pop3/shared',
      host: 'pop.example.com',
      username: 'reg-a@example.com',
      last: { status: 'failed', at: '2025-03-04T10:00:00Z', code: 'EAUTH' },
    });
    expect(batchInputs().flatMap((c) => c.Entries!.map((e) => e.MessageGroupId))).toEqual(
      expectedEntries([...sent.values()]).map((e) => e.MessageGroupId),
    );

    const logs = output.logs();
    expect(
      logs.find((l) => l.message === 'Registry mailboxes left out: their records are invalid'),
    ).toMatchObject({
      level: 'ERROR',
      needsAttention: true,
      count: 1,
      invalid: [{ id: 'reg-bad', problems: ['port must be an integer from 1 to 65535'] }],
    });
    expect(
      logs.find(
        (l) => l.message === 'Registry records ignored: the same ids are configured in the stack, which wins',
      ),
    ).toMatchObject({ level: 'WARN', ids: ['box-00'], count: 1 });
    expect(output.text).not.toContain('other.example.com');
  });

  it('takes registry records without a schedule only on the default group', async () => {
    acceptAll();
    dynamoMock.on(ScanCommand).resolves({
      Items: [
        item('reg-plain', mailbox('reg-plain')),
        item('reg-night', mailbox('reg-night', { schedule: 'night' })),
      ],
    });
    const result = await handler(
      { jobs: [], registryGroup: 'night', scheduledTime: '2025-03-04T10:05:00Z' },
      lambdaContext(),
    );
    expect(result).toMatchObject({ jobs: 1, fromRegistry: 1, batches: 1 });
    expect(bodies().flatMap((b) => b.mailboxes.map((m) => m.accountId))).toEqual(['reg-night']);
  });

  it("reports records naming a group the stack does not have, once, on the default group's run", async () => {
    acceptAll();
    const orphans = Array.from({ length: 23 }, (_, i) => `lost-${String(i).padStart(2, '0')}`);
    dynamoMock.on(ScanCommand).resolves({
      Items: [
        item('reg-plain', mailbox('reg-plain')),
        item('reg-night', mailbox('reg-night', { schedule: 'night' })),
        ...orphans.map((id, i) =>
          item(id, mailbox(id, { schedule: i % 2 ? 'nightly' : 'weekend', secretKey: 'not-logged' })),
        ),
      ],
    });

    const result = await handler(
      { jobs: [], registryGroup: 'default', defaultGroup: true, scheduledTime: '2025-03-04T10:05:00Z' },
      lambdaContext(),
    );

    expect(result).toMatchObject({ jobs: 1, fromRegistry: 1 });
    expect(bodies().flatMap((b) => b.mailboxes.map((m) => m.accountId))).toEqual(['reg-plain']);
    const warning = output
      .logs()
      .filter(
        (l) =>
          l.message ===
          'Registry mailboxes never polled: their schedule names a group the stack does not have',
      );
    expect(warning).toHaveLength(1);
    expect(warning[0]).toMatchObject({
      level: 'WARN',
      ids: orphans.slice(0, 20),
      unknownGroups: ['nightly', 'weekend'],
      groups: ['default', 'night'],
      count: 23,
    });
    expect(output.text).not.toContain('not-logged');
    expect(output.text).not.toContain('pop.example.com');
    const emf = output.metrics();
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({ JobsEnqueued: 1, OrphanedMailboxes: 23 });
    expect(emf[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service']]);

    // Another group's run of the same tick neither counts nor warns: one report per tick.
    output.restore();
    output = new CapturedOutput();
    await handler(
      { jobs: [], registryGroup: 'night', scheduledTime: '2025-03-04T10:05:00Z' },
      lambdaContext(),
    );
    expect(output.metrics()[0]).not.toHaveProperty('OrphanedMailboxes');
    expect(output.logs().filter((l) => l.level === 'WARN')).toEqual([]);
  });

  it('reports 0 mailboxes enqueued and 0 orphaned for an empty registry, with no warning', async () => {
    const result = await handler(
      { jobs: [], registryGroup: 'default', defaultGroup: true, scheduledTime: '2025-03-04T10:05:00Z' },
      lambdaContext(),
    );
    expect(result).toMatchObject({ jobs: 0, batches: 0 });
    expect(batchInputs()).toHaveLength(0);
    const emf = output.metrics();
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({ JobsEnqueued: 0, OrphanedMailboxes: 0 });
    expect(output.logs().filter((l) => l.level === 'WARN')).toEqual([]);
  });

  it('re-sends entries that failed inside a 200 and enqueues everything', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0', MessageId: 'm0', MD5OfMessageBody: 'x' }],
        Failed: [
          { Id: '1', SenderFault: false, Code: 'InternalError', Message: 'try again' },
          { Id: '2', SenderFault: false, Code: 'ServiceUnavailable', Message: 'try again' },
        ],
      })
      .callsFake(allSent);
    // Three ids on three different shards: three batch jobs in one request.
    const three = pickDistinctShards(3);

    const result = await handler({ jobs: three, scheduledTime: '2025-03-04T10:05:00Z' }, lambdaContext());

    expect(result).toMatchObject({ jobs: 3, batches: 3 });
    const calls = batchInputs();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.Entries!.map((e) => e.MessageDeduplicationId)).toEqual(
      calls[0]!.Entries!.slice(1).map((e) => e.MessageDeduplicationId),
    );
    expect(output.logs().find((l) => l.message === 'Re-sending jobs that were not enqueued')).toMatchObject({
      entries: 2,
      code: 'InternalError',
    });
  });

  it('does not re-send a request the SDK gave up on; fails the invocation after enqueuing what it could', async () => {
    const error = new SQSServiceException({
      name: 'ThrottlingException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: 'Rate exceeded',
    });
    sqsMock.on(SendMessageBatchCommand).rejectsOnce(error).callsFake(allSent);
    const many = pickDistinctShards(12); // 12 batch jobs: requests of 10 and 2

    await expect(
      handler({ jobs: many, scheduledTime: '2025-03-04T10:05:00Z' }, lambdaContext()),
    ).rejects.toThrow(
      /^10 of 12 jobs \(10 mailboxes\) could not be enqueued \(shard-\d+: ThrottlingException, .*, …\); a retry of this invocation is safe$/,
    );
    const calls = batchInputs();
    expect(calls.map((c) => c.Entries!.length)).toEqual([10, 2]);
    const emf = output.metrics().at(-1)!;
    expect(emf).toMatchObject({ JobsEnqueued: 2 });
    expect(output.logs().find((l) => l.message === 'Jobs not enqueued')).toMatchObject({
      level: 'ERROR',
      needsAttention: true,
      mailboxes: 12,
      enqueued: 2,
    });
  });

  it('emits JobsEnqueued as EMF with only the service dimension', async () => {
    acceptAll();
    await handler({ jobs: jobs(4), scheduledTime: '2025-03-04T10:05:00Z' }, lambdaContext());
    const emf = output.metrics();
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({ JobsEnqueued: 4, scheduledMinute: MINUTE });
    expect(emf[0]!._aws.CloudWatchMetrics[0]!.Namespace).toBe('Pop3Poller');
    expect(emf[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service']]);
    expect(output.logs().find((l) => l.message === 'Jobs enqueued')).toMatchObject({
      mailboxes: 4,
      fromRegistry: 0,
    });
  });

  it('strips followUp from scheduled jobs', async () => {
    acceptAll();
    await handler({ jobs: [{ accountId: 'a', secretId: 's', followUp: 0 }] }, lambdaContext());
    expect(bodies()).toEqual([
      { v: 2, shard: shardOf('a', 32), mailboxes: [{ accountId: 'a', secretId: 's' }] },
    ]);
  });

  it('enqueues nothing for an empty input', async () => {
    await expect(handler({ jobs: [] }, lambdaContext())).resolves.toMatchObject({ jobs: 0, batches: 0 });
    expect(batchInputs()).toHaveLength(0);
    // Neither configured jobs nor a registry group: the registry is not read.
    expect(dynamoMock).not.toHaveReceivedCommand(ScanCommand);
  });

  it('rejects a malformed input with a clear message and sends nothing', async () => {
    const error = await handler(
      { jobs: [{ accountId: 'a', secretId: 's', followUp: 2 }] },
      lambdaContext(),
    ).catch((e: unknown) => e as Error);
    expect((error as Error).name).toBe('DispatchError');
    expect((error as Error).message).toContain('jobs[0].followUp is set by the worker, not by a schedule');
    expect(batchInputs()).toHaveLength(0);
    expect(output.logs().find((l) => l.message === 'Dispatch input rejected')).toMatchObject({
      level: 'ERROR',
      needsAttention: true,
    });
  });
});

/** `count` jobs whose ids fall on different shards (of 32), so each becomes its own batch job. */
function pickDistinctShards(count: number): PollJob[] {
  const out: PollJob[] = [];
  const used = new Set<number>();
  for (let i = 0; out.length < count; i++) {
    const id = `m-${i}`;
    const shard = shardOf(id, 32);
    if (used.has(shard)) continue;
    used.add(shard);
    out.push({ accountId: id, secretId: `pop3/${id}` });
  }
  return out;
}
