import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  SQSClient,
  SQSServiceException,
  type SendMessageBatchCommandInput,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { SqsJobQueue } from '../../../functions/adapters/sqs-job-queue';
import type { QueuedJob } from '../../../functions/jobs/ports';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/111122223333/pop3-jobs.fifo';
const sqsMock = mockClient(SQSClient);

beforeEach(() => sqsMock.reset());

function queued(count: number, padding = 0): QueuedJob[] {
  return Array.from({ length: count }, (_, i) => ({
    job: {
      v: 2,
      shard: i,
      mailboxes: [{ accountId: `box-${i}`, secretId: `pop3/box-${i}${'x'.repeat(padding)}` }],
    },
    groupId: `shard-${i}`,
    deduplicationId: `shard-${i}@2025-03-04T10:05Z#box-${i}`,
  }));
}

const allSent = (input: SendMessageBatchCommandInput) => ({
  Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}`, MD5OfMessageBody: 'x' })),
  Failed: [],
});

function calls(): SendMessageBatchCommandInput[] {
  return sqsMock.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input);
}

const queue = (onRetry?: (entries: number, code: string) => void) =>
  new SqsJobQueue(new SQSClient({ region: 'eu-west-1' }), {
    queueUrl: QUEUE_URL,
    sleep: async () => {},
    ...(onRetry ? { onRetry } : {}),
  });

describe('SqsJobQueue', () => {
  it('sends jobs in SendMessageBatch requests of at most 10 entries, in order, with group and de-duplication ids', async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake(allSent);
    const jobs = queued(23);
    await expect(queue().enqueue(jobs)).resolves.toEqual([]);

    const inputs = calls();
    expect(inputs.map((c) => c.Entries!.length)).toEqual([10, 10, 3]);
    expect(inputs.every((c) => c.QueueUrl === QUEUE_URL)).toBe(true);
    const entries = inputs.flatMap((c) => c.Entries!);
    expect(entries.map((e) => e.MessageGroupId)).toEqual(jobs.map((j) => j.groupId));
    expect(entries.map((e) => e.MessageDeduplicationId)).toEqual(jobs.map((j) => j.deduplicationId));
    expect(entries.map((e) => JSON.parse(e.MessageBody!))).toEqual(jobs.map((j) => j.job));
    for (const c of inputs) expect(new Set(c.Entries!.map((e) => e.Id)).size).toBe(c.Entries!.length);
  });

  it('keeps every request within 256 KiB of message bodies', async () => {
    sqsMock.on(SendMessageBatchCommand).callsFake(allSent);
    // About 60 KiB a body: four fit in a request, five do not.
    await expect(queue().enqueue(queued(9, 60 * 1024))).resolves.toEqual([]);
    const inputs = calls();
    expect(inputs.map((c) => c.Entries!.length)).toEqual([4, 4, 1]);
    for (const c of inputs) {
      const bytes = c.Entries!.reduce((n, e) => n + Buffer.byteLength(e.MessageBody!, 'utf8'), 0);
      expect(bytes).toBeLessThanOrEqual(256 * 1024);
    }
  });

  it('has at most 4 requests in flight', async () => {
    let inFlight = 0;
    let most = 0;
    sqsMock.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return allSent(input);
    });
    await expect(queue().enqueue(queued(100))).resolves.toEqual([]);
    expect(calls()).toHaveLength(10);
    expect(most).toBe(4);
  });

  it('re-sends entries that failed inside a successful response, and not a sender fault', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0', MessageId: 'm0', MD5OfMessageBody: 'x' }],
        Failed: [
          { Id: '1', SenderFault: false, Code: 'InternalError', Message: 'try again' },
          { Id: '2', SenderFault: true, Code: 'InvalidParameterValue', Message: 'bad entry' },
        ],
      })
      .callsFake(allSent);
    const onRetry = jest.fn();
    const jobs = queued(3);

    const failed = await queue(onRetry).enqueue(jobs);

    expect(failed).toEqual([{ job: jobs[2], code: 'InvalidParameterValue', message: 'bad entry' }]);
    const inputs = calls();
    expect(inputs).toHaveLength(2);
    expect(inputs[1]!.Entries!.map((e) => e.MessageDeduplicationId)).toEqual([jobs[1]!.deduplicationId]);
    expect(onRetry).toHaveBeenCalledWith(1, 'InternalError');
  });

  it('treats an entry missing from the response as failed and re-sends it, at most 3 sends in all', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const jobs = queued(1);
    const failed = await queue().enqueue(jobs);
    expect(failed).toEqual([{ job: jobs[0], code: 'MissingResult', message: 'no result for this entry' }]);
    expect(calls()).toHaveLength(3);
  });

  it('does not re-send a request that failed as a whole (the SDK retried it) and reports its entries', async () => {
    const error = new SQSServiceException({
      name: 'AccessDenied',
      $fault: 'client',
      $metadata: { httpStatusCode: 403 },
      message: 'not allowed',
    });
    sqsMock.on(SendMessageBatchCommand).rejectsOnce(error).callsFake(allSent);
    const jobs = queued(12);

    const failed = await queue().enqueue(jobs);

    // The first request (10 entries) failed; the second went through.
    expect(calls()).toHaveLength(2);
    expect(failed.map((f) => f.job)).toEqual(jobs.slice(0, 10));
    expect(failed.every((f) => f.code === 'AccessDenied' && f.message === 'AccessDenied: not allowed')).toBe(
      true,
    );
  });

  it('sends nothing for no jobs', async () => {
    await expect(queue().enqueue([])).resolves.toEqual([]);
    expect(calls()).toHaveLength(0);
  });

  it('delays a redelivery with ChangeMessageVisibility', async () => {
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    await queue().delayRedelivery('receipt-1', 90);
    expect(sqsMock).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, {
      QueueUrl: QUEUE_URL,
      ReceiptHandle: 'receipt-1',
      VisibilityTimeout: 90,
    });
  });
});
