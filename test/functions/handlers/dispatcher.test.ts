import { SendMessageBatchCommand, SQSClient, SQSServiceException } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { PollJob } from '../../../functions/handlers/contract';
import { handler } from '../../../functions/handlers/dispatcher';
import { CapturedOutput, lambdaContext } from '../../support/lambda-harness';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/111122223333/pop3-jobs.fifo';
const sqsMock = mockClient(SQSClient);

let output: CapturedOutput;
const savedEnv = { ...process.env };

beforeAll(() => {
  process.env.JOB_QUEUE_URL = QUEUE_URL;
});

afterAll(() => {
  process.env = savedEnv;
});

beforeEach(() => {
  sqsMock.reset();
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

/** SendMessageBatch's answer when every entry was enqueued. */
const allSent = (input: { Entries: Array<{ Id: string }> }) => ({
  Successful: input.Entries.map((e) => ({
    Id: e.Id,
    MessageId: `m-${e.Id}`,
    MD5OfMessageBody: 'x',
    SequenceNumber: '1',
  })),
  Failed: [],
});

function acceptAll() {
  sqsMock.on(SendMessageBatchCommand).callsFake(allSent);
}

function batchInputs() {
  return sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input);
}

function sqsError(name: string, httpStatusCode: number): SQSServiceException {
  return new SQSServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: `${name} from the test`,
  });
}

describe('Lambda: dispatcher', () => {
  it('sends 25 jobs as 3 SendMessageBatch calls, grouped by account and de-duplicated per scheduled minute', async () => {
    acceptAll();
    const input = { jobs: jobs(25), scheduledTime: '2025-03-04T10:05:00Z' };

    const result = await handler(input, lambdaContext());

    expect(result).toEqual({ jobs: 25, enqueued: 25, batches: 3, scheduledMinute: '2025-03-04T10:05Z' });
    const calls = batchInputs();
    expect(calls.map((c) => c.Entries?.length).sort()).toEqual([10, 10, 5]);
    const entries = calls.flatMap((c) => c.Entries ?? []);
    expect(calls.every((c) => c.QueueUrl === QUEUE_URL)).toBe(true);
    expect(entries.map((e) => e.MessageGroupId).sort()).toEqual(input.jobs.map((j) => j.accountId).sort());
    for (const entry of entries) {
      const job = input.jobs.find((j) => j.accountId === entry.MessageGroupId)!;
      expect(entry.MessageDeduplicationId).toBe(`${job.accountId}@2025-03-04T10:05Z`);
      expect(JSON.parse(entry.MessageBody!)).toEqual(job);
    }
    // Entry ids are unique within each call.
    for (const call of calls) expect(new Set(call.Entries!.map((e) => e.Id)).size).toBe(call.Entries!.length);
  });

  it('floors the invocation time to the minute when the input has no scheduledTime', async () => {
    acceptAll();
    jest.useFakeTimers({ now: new Date('2025-03-04T10:09:59.999Z'), advanceTimers: true });
    try {
      const result = await handler({ jobs: jobs(2) }, lambdaContext());
      expect(result.scheduledMinute).toBe('2025-03-04T10:09Z');
      expect(batchInputs()[0]!.Entries!.map((e) => e.MessageDeduplicationId)).toEqual([
        'box-00@2025-03-04T10:09Z',
        'box-01@2025-03-04T10:09Z',
      ]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('sends again only the entries that failed transiently', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0', MessageId: 'm0', MD5OfMessageBody: 'x' }],
        Failed: [
          { Id: '1', SenderFault: false, Code: 'InternalError', Message: 'try again' },
          { Id: '2', SenderFault: false, Code: 'ServiceUnavailable', Message: 'try again' },
        ],
      })
      .resolves({
        Successful: [
          { Id: '1', MessageId: 'm1', MD5OfMessageBody: 'x' },
          { Id: '2', MessageId: 'm2', MD5OfMessageBody: 'x' },
        ],
        Failed: [],
      });

    const result = await handler({ jobs: jobs(3), scheduledTime: '2025-03-04T10:05:00Z' }, lambdaContext());

    expect(result.enqueued).toBe(3);
    const calls = batchInputs();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.Entries).toEqual(calls[0]!.Entries!.slice(1));
  });

  it('retries a whole call that failed transiently', async () => {
    sqsMock.on(SendMessageBatchCommand).rejectsOnce(sqsError('ThrottlingException', 400)).callsFake(allSent);

    const result = await handler({ jobs: jobs(2) }, lambdaContext());

    expect(result.enqueued).toBe(2);
    expect(batchInputs()).toHaveLength(2);
  });

  it('fails the invocation, after enqueuing all it could, when entries cannot be enqueued', async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({
      Successful: input.Entries.filter((e) => e.Id !== '11').map((e) => ({
        Id: e.Id,
        MessageId: `m-${e.Id}`,
        MD5OfMessageBody: 'x',
      })),
      Failed: input.Entries.filter((e) => e.Id === '11').map((e) => ({
        Id: e.Id,
        SenderFault: true,
        Code: 'InvalidParameterValue',
        Message: 'bad entry',
      })),
    }));

    await expect(handler({ jobs: jobs(12) }, lambdaContext())).rejects.toThrow(
      '1 of 12 jobs could not be enqueued (box-11: InvalidParameterValue); a retry of this invocation is safe',
    );
    // A sender fault is not sent again.
    expect(batchInputs()).toHaveLength(2);
    const emf = output.metrics().at(-1)!;
    expect(emf).toMatchObject({ JobsEnqueued: 11, EnqueueFailures: 1 });
  });

  it('fails at once on a call that cannot succeed (access denied)', async () => {
    sqsMock.on(SendMessageBatchCommand).rejects(sqsError('AccessDenied', 403));
    await expect(handler({ jobs: jobs(3) }, lambdaContext())).rejects.toThrow(
      /3 of 3 jobs could not be enqueued \(box-00: AccessDenied, box-01: AccessDenied, box-02: AccessDenied\)/,
    );
    expect(batchInputs()).toHaveLength(1);
  });

  it('emits JobsEnqueued as EMF with only the service dimension', async () => {
    acceptAll();
    await handler({ jobs: jobs(4), scheduledTime: '2025-03-04T10:05:00Z' }, lambdaContext());
    const emf = output.metrics();
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({
      JobsEnqueued: 4,
      EnqueueFailures: 0,
      scheduledMinute: '2025-03-04T10:05Z',
    });
    expect(emf[0]!._aws.CloudWatchMetrics[0]!.Namespace).toBe('Pop3Poller');
    expect(emf[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service']]);
    expect(output.logs().find((l) => l.message === 'Jobs enqueued')).toMatchObject({ jobs: 4, batches: 1 });
  });

  it('enqueues nothing for an empty job list', async () => {
    await expect(handler({ jobs: [] }, lambdaContext())).resolves.toMatchObject({ jobs: 0, enqueued: 0 });
    expect(batchInputs()).toHaveLength(0);
  });

  it('never sends a followUp count from a schedule', async () => {
    acceptAll();
    await handler({ jobs: [{ accountId: 'a', secretId: 's', followUp: 0 }] }, lambdaContext());
    expect(JSON.parse(batchInputs()[0]!.Entries![0]!.MessageBody!)).toEqual({
      accountId: 'a',
      secretId: 's',
    });
  });

  describe('malformed input', () => {
    const cases: Array<[string, unknown, string]> = [
      ['not an object', 'jobs', 'invalid dispatch input: must be a JSON object'],
      ['no jobs', {}, 'invalid dispatch input: jobs is required'],
      [
        'jobs not an array',
        { jobs: { accountId: 'a' } },
        'invalid dispatch input: jobs must be an array of jobs',
      ],
      [
        'bad account id and empty secret',
        {
          jobs: [
            { accountId: 'a', secretId: 's' },
            { accountId: '../etc', secretId: '' },
          ],
        },
        'invalid dispatch input: jobs[1].accountId must be 1-64 characters of A-Z a-z 0-9 . _ -; ' +
          'jobs[1].secretId must not be empty',
      ],
      [
        'missing secretId',
        { jobs: [{ accountId: 'a' }] },
        'invalid dispatch input: jobs[0].secretId is required',
      ],
      [
        'a misspelt field',
        { jobs: [{ accountId: 'a', secretId: 's', maxMessage: 10 }] },
        'invalid dispatch input: jobs[0].maxMessage is not a known field',
      ],
      [
        'bad bounds and mode',
        { jobs: [{ accountId: 'a', secretId: 's', mode: 'move', maxMessages: 0, maxBytes: 1.5 }] },
        'invalid dispatch input: jobs[0].mode must be "delete" or "keep"; jobs[0].maxMessages must be an integer ≥ 1; ' +
          'jobs[0].maxBytes must be an integer ≥ 1',
      ],
      [
        'deleteAfterDays in delete mode',
        { jobs: [{ accountId: 'a', secretId: 's', deleteAfterDays: 7 }] },
        'invalid dispatch input: jobs[0] has deleteAfterDays, which needs mode "keep"',
      ],
      [
        'the same account twice',
        {
          jobs: [
            { accountId: 'a', secretId: 's' },
            { accountId: 'b', secretId: 's' },
            { accountId: 'a', secretId: 't' },
          ],
        },
        'invalid dispatch input: jobs[2].accountId repeats jobs[0].accountId',
      ],
      [
        'a followUp count',
        { jobs: [{ accountId: 'a', secretId: 's', followUp: 2 }] },
        'invalid dispatch input: jobs[0].followUp is set by the worker, not by a schedule',
      ],
      [
        'a scheduledTime that is not a time',
        { jobs: [], scheduledTime: 'now' },
        'invalid dispatch input: scheduledTime must be an ISO 8601 time',
      ],
    ];

    it.each(cases)('rejects %s with a clear message and sends nothing', async (_name, input, message) => {
      const error = await handler(input, lambdaContext()).catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).name).toBe('DispatchError');
      expect((error as Error).message).toContain(message);
      expect(batchInputs()).toHaveLength(0);
      expect(output.logs().find((l) => l.message === 'Dispatch input rejected')).toMatchObject({
        level: 'ERROR',
        needsAttention: true,
      });
    });
  });
});
